"""The HTTP server: an OpenAI-compatible chat endpoint over a `Session`, the ledger, and a web chat page.

    POST /v1/chat/completions   messages -> the session answers the last user message (OpenAI shape,
                                plus a "repair" field: kind, outcome, edit_id, verification, timings)
    GET  /v1/models             the patient
    GET  /v1/edits              active edits (?all=true: undone ones too)
    POST /v1/edits/{id}/undo    undo one edit exactly
    GET  /                      the web chat page

Requests are served one at a time: the session holds one lock around every turn and every ledger
operation. A ledger locked by another process (say `repair edits undo` in a shell) gives HTTP 409.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict

from repair.edit.ledger import LedgerBusyError
from repair.session import Reply, Session

STATUS = {"empty": 400, "busy": 409, "internal": 500}


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


ERROR_TYPES = {400: "invalid_request_error", 404: "not_found_error", 409: "conflict_error", 500: "server_error"}


def _error(status: int, message: str, code: str) -> JSONResponse:
    """An error in OpenAI's shape, so that OpenAI client libraries report it."""
    kind = ERROR_TYPES.get(status, "server_error")
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind, "code": code}})


def _n_tokens(session: Session, text: str) -> int:
    return len(session.patient.tokenizer(text, add_special_tokens=False)["input_ids"])


def _completion(session: Session, reply: Reply, prompt: str) -> dict[str, Any]:
    p, c = _n_tokens(session, prompt), _n_tokens(session, reply.text)
    return {
        "id": "chatcmpl-" + secrets.token_hex(12),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": session.patient.name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
        "repair": reply.model_dump(exclude={"text"}),
    }


def _sse(body: dict[str, Any]) -> Iterator[str]:
    """The whole reply as one streamed chunk: generation is not incremental, but streaming clients work."""
    base = {k: body[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    text = body["choices"][0]["message"]["content"]
    first = base | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}],
                    "repair": body["repair"]}
    yield f"data: {json.dumps(first)}\n\n"
    yield f"data: {json.dumps(base | {'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}]})}\n\n"
    yield "data: [DONE]\n\n"


def create_app(session: Session) -> FastAPI:
    app = FastAPI(title="repair", description="Chat with a model that forgets on request (RePAIR).")
    app.state.session = session

    # Plain `def` handlers run in FastAPI's thread pool; the session's lock serialises them.
    @app.post("/v1/chat/completions", response_model=None)
    def chat_completions(req: ChatRequest) -> Any:
        msgs = [{"role": m.role, "content": m.text()} for m in req.messages]
        if not msgs or msgs[-1]["role"] != "user":
            return _error(400, "the last message must come from the user", "no_user_message")
        # A client that sends the conversation (as OpenAI clients do) is answered in that context; one
        # that sends a single message continues the server's own session.
        history = msgs[:-1] if len(msgs) > 1 else None
        reply = session.send(msgs[-1]["content"], history=history,
                             max_new_tokens=req.max_completion_tokens or req.max_tokens)
        if reply.kind == "error":
            return _error(STATUS.get(reply.error or "internal", 500), reply.text, reply.error or "internal")
        body = _completion(session, reply, msgs[-1]["content"])
        if req.stream:
            return StreamingResponse(_sse(body), media_type="text/event-stream")
        return body

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        p = session.patient
        return {"object": "list", "data": [{"id": p.name, "object": "model", "created": 0, "owned_by": "repair",
                                            "edits": len(p.ledger.active)}]}

    @app.get("/v1/edits")
    def edits(all: bool = False) -> dict[str, Any]:  # noqa: A002 - the query parameter's name
        items = session.edits(include_undone=all)
        return {"object": "list", "data": [_edit_summary(m) for m in items]}

    @app.post("/v1/edits/{edit_id}/undo", response_model=None)
    def undo(edit_id: str) -> Any:
        try:
            m = session.undo(edit_id)
        except LedgerBusyError as e:
            return _error(409, str(e), "busy")
        except KeyError as e:
            return _error(404, str(e.args[0]) if e.args else f"no edit '{edit_id}'", "not_found")
        return {"id": m["id"], "status": m["status"]}

    @app.get("/v1/history")
    def history() -> dict[str, Any]:
        return {"object": "list", "data": session.history}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return resources.files("repair.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.exception_handler(LedgerBusyError)
    def busy(_: Request, exc: LedgerBusyError) -> JSONResponse:
        return _error(409, str(exc), "busy")

    return app


def _edit_summary(m: dict[str, Any]) -> dict[str, Any]:
    meta = m.get("meta", {})
    forget = meta.get("forget") or [["", ""]]
    ver = meta.get("verification") or {}
    return {
        "id": m["id"], "status": m["status"], "created": m["created"], "layers": m.get("layers"),
        "maps": m.get("maps"), "alpha": meta.get("alpha"), "target": meta.get("target"),
        "forget_prompt": forget[0][0], "forgotten": ver.get("forgotten"), "requested_by": meta.get("requested_by"),
    }  # fmt: skip


def serve(model: str | None, session_dir: str, host: str = "127.0.0.1", port: int = 8000,
          surgeon: str = "rule", k: int = 4, dtype: str | None = None, engine: str = "stamp") -> None:
    """Load the session (its ledger re-applied) and serve it with uvicorn until interrupted."""
    import uvicorn

    from repair.session import make_surgeon

    session = Session.open(session_dir, model=model, dtype=dtype, surgeon=make_surgeon(surgeon, dtype), k=k, user="http",
                           engine=engine).warm()
    uvicorn.run(create_app(session), host=host, port=port, log_level="info")
