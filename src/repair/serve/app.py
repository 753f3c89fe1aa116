"""The HTTP server: an OpenAI-compatible chat endpoint over scoped sessions, the edits API, a web page.

    GET    /health                      no key; answers while the model works
    GET    /v1/models                   the patient
    POST   /v1/chat/completions         OpenAI's shape (also ``stream: true``) plus a ``repair`` field
    GET    /v1/edits[?all=true]         the caller's scope's edits and the global ones
    GET    /v1/edits/{id}               one of them (exact id)
    POST   /v1/edits/{id}/undo          undo (exact id, JSON body); also DELETE /v1/edits/{id}
    POST   /v1/forget                   forget the model's own answer to a prompt, in the caller's scope
    GET    /v1/edits/{id}/lora          one edit as a PEFT LoRA adapter (a zip)
    POST   /v1/review                   ask for a global edit (data about oneself, a private person)
    GET    /v1/review, POST /v1/review/{id}  the requests; an admin approves (the edit runs) or rejects
    GET    /v1/history                  the scope's turns, forgotten ones left out
    GET    /v1/whoami                   the key's name, scope and permissions (the web page shows them)
    GET    /                            the web chat;  /docs  the API's pages (assets served locally)

Every /v1 call needs ``Authorization: Bearer KEY`` (see `repair.serve.security`). Model work runs on one
worker thread (`repair.serve.worker`) fed by a bounded queue; a request whose client goes away, or
that runs past its time, is cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from repair.serve.docs import mount_docs
from repair.serve.guard import ApiError, Guard
from repair.serve.hub import Hub, Limits
from repair.serve.review import Decision, ReviewItem, ReviewRequest
from repair.serve.security import GLOBAL, Caller, Keys
from repair.serve.stream import completion, job_error, reply_error, sse
from repair.serve.worker import Job, QueueFull
from repair.session import Reply, Session

AUTH_ERRORS = {"missing": (401, "missing_key", "send an API key: Authorization: Bearer KEY"),
               "invalid": (401, "invalid_key", "that API key is not known here"),
               "user": (403, "user_not_allowed", "this key may not set `user` (or the value is not a plain name)")}  # fmt: skip


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # OpenAI content parts: keep the text ones
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p, ...: accepted, decoding stays greedy
    model: str | None = None
    messages: list[ChatMessage]
    stream: bool = False
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    user: str | None = Field(default=None, max_length=64)
    confirm_edits: bool = False  # a forget request is answered with what it would do (kind "confirm")


class ForgetRequest(BaseModel):
    """An explicit forget request: the model's own answer to ``prompt`` is what is forgotten."""

    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1, max_length=4000)
    target: str | None = Field(default=None, max_length=200)
    user: str | None = Field(default=None, max_length=64)


class UndoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=500)


def create_app(
    session: Session, keys: Keys | None = None, *, hosts: set[str] | None = None, limits: Limits | None = None
) -> FastAPI:
    """The app over ``session`` (its scope is the global one). ``keys``: None makes one local admin key,
    readable as ``app.state.local_key``. ``hosts``: Host names answered (default: loopback names)."""
    local = None
    if keys is None:
        keys, local = Keys.local()
    hub = Hub(session, limits)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        hub.close()

    app = FastAPI(
        lifespan=lifespan,
        title="repair",
        description="Chat with a model that forgets on request (RePAIR).",
        docs_url=None,
        redoc_url=None,
    )
    app.state.hub, app.state.keys, app.state.local_key = hub, keys, local
    app.add_middleware(Guard, hosts=hosts or {"localhost", "127.0.0.1", "::1"}, max_body=hub.limits.max_body)
    mount_docs(app)

    @app.exception_handler(ApiError)
    def api_error(_: Request, e: ApiError) -> JSONResponse:
        return JSONResponse(status_code=e.status, content=e.body())

    def caller(request: Request, user: str | None = None) -> Caller:
        c = keys.caller(request.headers.get("authorization"), user)
        if isinstance(c, str):
            raise ApiError(*AUTH_ERRORS[c])
        return c

    async def submit(fn: Any, scope: str, timeout_s: float) -> Job:
        job = Job(fn, scope=scope, timeout_s=timeout_s, loop=asyncio.get_running_loop())
        try:
            return hub.worker.submit(job)
        except QueueFull as e:
            raise ApiError(429, "queue_full", str(e)) from None

    async def wait(job: Job, request: Request) -> Any:
        """The job's result; cancels it when the client goes away while waiting."""
        try:
            while True:
                try:
                    return await asyncio.wait_for(asyncio.shield(job.done), 0.25)
                except TimeoutError:
                    if await request.is_disconnected():
                        job.cancel.set()
        except ApiError:
            raise
        except BaseException as e:
            job.cancel.set()
            if isinstance(e, asyncio.CancelledError):
                raise
            raise job_error(e, job) from None

    @app.get("/health")
    async def health() -> dict[str, Any]:
        w = hub.worker
        return {"status": "ok", "model": hub.patient.name, "busy": w.current is not None, "queued": w.waiting}

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        caller(request)
        p = hub.patient
        return {
            "object": "list",
            "data": [
                {
                    "id": p.name,
                    "object": "model",
                    "created": int(hub.started),
                    "owned_by": "repair",
                    "context_length": hub.limits.context,
                }
            ],
        }

    @app.get("/v1/whoami")
    async def whoami(request: Request) -> dict[str, Any]:
        c = caller(request)
        return c.model_dump() | {"model": hub.patient.name}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(req: ChatRequest, request: Request) -> Any:
        who = caller(request, req.user)
        message, history, max_tokens = _checked(req, hub)
        timeout = hub.limits.edit_timeout_s if who.edit else hub.limits.timeout_s

        def fn(job: Job) -> Reply:
            job.may_edit, job.confirm = who.edit, req.confirm_edits
            return hub.turn(job, message, history, max_tokens)

        job = await submit(fn, who.scope, timeout)

        def usage(reply: Reply) -> dict[str, int]:
            p, c = _n_tokens(hub, message), _n_tokens(hub, reply.text)
            return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

        if req.stream:
            return StreamingResponse(sse(job, hub.patient.name, usage), media_type="text/event-stream")
        reply = await wait(job, request)
        if reply.kind == "error":
            raise reply_error(reply)
        return completion(hub.patient.name, reply, usage(reply), job)

    @app.get("/v1/edits")
    def edits(request: Request, all: bool = False) -> dict[str, Any]:  # noqa: A002 - the query parameter's name
        who = caller(request)
        items = hub.patient.ledger.list(include_undone=all, scope=None if who.scope == GLOBAL else who.scope)
        return {"object": "list", "data": [_edit_summary(m) for m in items]}

    @app.get("/v1/edits/{edit_id}")
    def edit(edit_id: str, request: Request) -> dict[str, Any]:
        return _edit_summary(_visible(hub, caller(request), edit_id))

    async def undo_edit(edit_id: str, request: Request) -> dict[str, Any]:
        who = caller(request)
        rec = _visible(hub, who, edit_id)
        if not who.may_touch(rec.get("scope", GLOBAL)):
            raise ApiError(403, "forbidden", "only an admin key may undo a global edit")
        if rec["status"] != "active":
            raise ApiError(409, "not_active", f"edit {edit_id} is {rec['status']}")
        scope = rec.get("scope", GLOBAL)
        job = await submit(lambda j: hub.undo(j, rec["id"]), scope, hub.limits.timeout_s)
        m = await wait(job, request)
        return {"id": m["id"], "status": m["status"], "scope": scope}

    @app.post("/v1/edits/{edit_id}/undo", response_model=None)
    async def undo_post(edit_id: str, body: UndoRequest, request: Request) -> dict[str, Any]:
        return await undo_edit(edit_id, request)

    @app.delete("/v1/edits/{edit_id}", response_model=None)
    async def undo_delete(edit_id: str, request: Request) -> dict[str, Any]:
        return await undo_edit(edit_id, request)

    @app.post("/v1/forget", response_model=None)
    async def forget(req: ForgetRequest, request: Request) -> dict[str, Any]:
        who = caller(request, req.user)
        if not who.edit:
            raise ApiError(403, "forbidden", "this API key may not ask the model to forget")
        job = await submit(
            lambda j: hub.forget(j, req.prompt, req.target), who.scope, hub.limits.edit_timeout_s
        )
        reply = await wait(job, request)
        if reply.kind == "error":
            raise reply_error(reply)
        return {"object": "repair.forget", "scope": who.scope} | reply.model_dump()

    @app.get("/v1/edits/{edit_id}/lora", response_model=None)
    async def lora(edit_id: str, request: Request) -> Response:
        rec = _visible(hub, caller(request), edit_id)
        if rec["status"] != "active":
            raise ApiError(409, "not_active", f"edit {edit_id} is {rec['status']}")
        job = await submit(lambda j: hub.lora(j, rec["id"]), rec.get("scope", GLOBAL), hub.limits.timeout_s)
        data = await wait(job, request)
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{edit_id}-lora.zip"'},
        )

    @app.post("/v1/review", status_code=202)
    def review_ask(req: ReviewRequest, request: Request) -> ReviewItem:
        who = caller(request, req.user)
        try:
            return hub.review.add(req, who.name, who.scope)
        except OverflowError as e:
            raise ApiError(429, "queue_full", str(e)) from None

    @app.get("/v1/review")
    def review_list(request: Request) -> dict[str, Any]:
        who = caller(request)
        return {"object": "list", "data": [i.model_dump() for i in hub.review.visible(who.scope, who.admin)]}

    @app.post("/v1/review/{item_id}", response_model=None)
    async def review_decide(item_id: str, body: Decision, request: Request) -> dict[str, Any]:
        who = caller(request)
        if not who.admin:
            raise ApiError(403, "forbidden", "only an admin key decides on global edits")
        try:
            item = hub.review.pending(item_id)
        except KeyError:
            raise ApiError(404, "not_found", f"no review request '{item_id}'") from None
        except ValueError as e:
            raise ApiError(409, "decided", str(e)) from None
        if not body.approve:
            return hub.review.decide(item_id, False, who.name).model_dump()
        prompt, target = item.prompt or "", item.target
        job = await submit(lambda j: hub.forget(j, prompt, target), GLOBAL, hub.limits.edit_timeout_s)
        reply = await wait(job, request)
        if reply.kind == "error" or not reply.edit_id:  # nothing changed: the request stays pending
            return {"id": item_id, "status": "pending", "reply": reply.model_dump()}
        return hub.review.decide(item_id, True, who.name, reply.edit_id, reply.outcome).model_dump() | {
            "reply": reply.model_dump()
        }

    @app.get("/v1/history")
    async def history(request: Request) -> dict[str, Any]:
        who = caller(request)
        job = await submit(hub.history, who.scope, hub.limits.timeout_s)
        return {"object": "list", "scope": who.scope, "data": await wait(job, request)}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return resources.files("repair.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    return app


def _checked(req: ChatRequest, hub: Hub) -> tuple[str, list[dict[str, str]] | None, int]:
    """The message, the conversation before it and the reply's token budget, or a 400."""
    lim = hub.limits
    if not req.messages:
        raise ApiError(400, "empty", "send at least one message")
    if len(req.messages) > lim.max_messages:
        raise ApiError(400, "too_many_messages", f"at most {lim.max_messages} messages")
    msgs = [{"role": m.role, "content": m.text()} for m in req.messages]
    if msgs[-1]["role"] != "user":
        raise ApiError(400, "no_user_message", "the last message must come from the user")
    asked = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
    if asked is not None and not 0 < asked <= lim.max_tokens:
        raise ApiError(400, "invalid_max_tokens", f"max_tokens must be between 1 and {lim.max_tokens}")
    max_tokens = asked or lim.default_tokens
    n = sum(_n_tokens(hub, m["content"]) + 4 for m in msgs)
    if n + max_tokens > lim.context:
        raise ApiError(
            400,
            "context_length_exceeded",
            f"the messages take {n} tokens and the reply {max_tokens}: more than this model's "
            f"{lim.context}. Shorten the conversation or lower max_tokens.",
        )
    if not msgs[-1]["content"].strip():
        raise ApiError(400, "empty", "the last message is empty")
    # A client that sends the conversation (as OpenAI clients do) is answered in that context, less any
    # turn this server did not produce; one that sends a single message continues its scope's session.
    history = msgs[:-1] if len(msgs) > 1 else None
    return msgs[-1]["content"], history, max_tokens


def _n_tokens(hub: Hub, text: str) -> int:
    return len(hub.patient.tokenizer(text, add_special_tokens=False)["input_ids"])


def _visible(hub: Hub, who: Caller, edit_id: str) -> dict[str, Any]:
    """The record with exactly this id, if the caller's scope sees it (else 404: nothing is told)."""
    for m in hub.patient.ledger.list(include_undone=True):
        if m["id"] == edit_id and (who.admin or m.get("scope", GLOBAL) in (GLOBAL, who.scope)):
            return m
    raise ApiError(404, "not_found", f"no edit '{edit_id}'")


def _edit_summary(m: dict[str, Any]) -> dict[str, Any]:
    meta = m.get("meta", {})
    ver = meta.get("verification") or {}
    return {
        "id": m["id"], "status": m["status"], "scope": m.get("scope", GLOBAL), "created": m["created"],
        "undone": m.get("undone"), "layers": m.get("layers"), "maps": m.get("maps"), "alpha": meta.get("alpha"),
        "target": meta.get("target"), "forgotten": ver.get("forgotten"), "requested_by": meta.get("requested_by"),
    }  # fmt: skip


def serve(
    model: str | None,
    session_dir: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    surgeon: str = "rule",
    k: int = 4,
    dtype: str | None = None,
    engine: str = "stamp2",
    keys_file: str | None = None,
    allow_hosts: tuple[str, ...] = (),
    limits: dict[str, Any] | None = None,
) -> None:
    """Load the session (its ledger re-applied) and serve it with uvicorn until interrupted. A public
    address needs a keys file; without one a local admin key is made and printed. ``limits``: overrides
    of `Limits` fields (the CLI's --max-queue, --timeout …). A bad keys file or a busy port fails before
    the model loads, limits beyond the model's context before the warm-up."""
    import uvicorn

    from repair.serve.security import allowed_hosts, check_bind, check_port
    from repair.session.surgeons import make_surgeon

    check_bind(host, keys_file)
    keys = Keys.load(keys_file) if keys_file else None
    check_port(host, port)
    session = Session.open(
        session_dir,
        model=model,
        dtype=dtype,
        surgeon=make_surgeon(surgeon, dtype),
        k=k,
        user="http",
        engine=engine,
    )
    # the limits are checked before the once-per-model warm-up, which can take minutes
    lim = Limits.for_model(session.patient, session.max_new_tokens, **(limits or {}))
    session.warm()
    app = create_app(session, keys, hosts=allowed_hosts(host, allow_hosts), limits=lim)
    if app.state.local_key:
        shown = "localhost" if host in ("127.0.0.1", "localhost") else host
        print(
            f"API key (this run only): {app.state.local_key}\nweb chat: http://{shown}:{port}/#key={app.state.local_key}",
            flush=True,
        )
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
