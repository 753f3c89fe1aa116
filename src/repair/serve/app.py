"""The HTTP server: an OpenAI-compatible chat endpoint over scoped sessions, the edits API, a web page.

    GET    /health                      no key; answers while the model works
    GET    /v1/models                   the patient
    POST   /v1/chat/completions         OpenAI's shape (also ``stream: true``) plus a ``repair`` field
    GET    /v1/edits[?all=true]         the caller's scope's edits and the global ones
    GET    /v1/edits/{id}               one of them (exact id)
    POST   /v1/edits/{id}/undo          undo (exact id, JSON body); also DELETE /v1/edits/{id}
    POST   /v1/forget                   forget the model's own answer to a prompt, in the caller's scope
    GET    /v1/edits/{id}/lora          one edit as a PEFT LoRA adapter (a zip; ?ungated=true if gated)
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

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from repair.serve import routes_chat, routes_edits, routes_review
from repair.serve.docs import mount_docs
from repair.serve.guard import ApiError, Guard
from repair.serve.hub import Hub, LimitOptions, Limits
from repair.serve.review import Policy
from repair.serve.security import Keys
from repair.session import Session


def create_app(
    session: Session,
    keys: Keys | None = None,
    *,
    hosts: set[str] | None = None,
    limits: Limits | None = None,
    policy: Policy | None = None,
) -> FastAPI:
    """The app over ``session`` (its scope is the global one). ``keys``: None makes one local admin key,
    readable as ``app.state.local_key``. ``hosts``: Host names answered (default: loopback names).
    ``policy``: which requests for a global edit the review queue takes (default: `Policy()`)."""
    local = None
    if keys is None:
        keys, local = Keys.local()
    hub = Hub(session, limits, policy)

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
    # the routes find the hub and the keys here (repair.serve.calls)
    app.state.hub, app.state.keys, app.state.local_key = hub, keys, local
    app.add_middleware(Guard, hosts=hosts or {"localhost", "127.0.0.1", "::1"}, max_body=hub.limits.max_body)
    mount_docs(app)

    @app.exception_handler(ApiError)
    def api_error(_: Request, e: ApiError) -> JSONResponse:
        return JSONResponse(status_code=e.status, content=e.body().model_dump())

    for routes in (routes_chat, routes_edits, routes_review):
        app.include_router(routes.router)
    return app


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
    limits: LimitOptions | None = None,
    policy_file: str | None = None,
) -> None:
    """Load the session (its ledger re-applied) and serve it with uvicorn until interrupted. A public
    address needs a keys file; without one a local admin key is made and printed. ``limits``: overrides
    of `Limits` fields (the CLI's --max-queue, --timeout …). A bad keys or policy file or a busy port
    fails before the model loads, limits beyond the model's context before the warm-up."""
    import uvicorn

    from repair.serve.security import allowed_hosts, check_bind, check_port
    from repair.session.surgeons import make_surgeon

    check_bind(host, keys_file)
    keys = Keys.load(keys_file) if keys_file else None
    policy = Policy.load(policy_file) if policy_file else None
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
    lim = Limits.for_model(session.patient, session.max_new_tokens, **(limits or LimitOptions()).model_dump())
    session.warm()
    app = create_app(session, keys, hosts=allowed_hosts(host, allow_hosts), limits=lim, policy=policy)
    if app.state.local_key:
        shown = "localhost" if host in ("127.0.0.1", "localhost") else host
        print(
            f"API key (this run only): {app.state.local_key}\nweb chat: http://{shown}:{port}/#key={app.state.local_key}",
            flush=True,
        )
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
