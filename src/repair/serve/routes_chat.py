"""The chat routes: health, the model, the caller, ``/v1/chat/completions`` (OpenAI's shape), the
scope's history and the web page."""

from __future__ import annotations

from importlib import resources
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from repair.edit.ledger import Turn
from repair.serve.calls import caller, hub_of, submit, wait
from repair.serve.guard import ApiError
from repair.serve.hub import Hub
from repair.serve.security import Caller
from repair.serve.stream import completion, reply_error, sse
from repair.serve.wire import Completion, Usage
from repair.serve.worker import Job
from repair.session.reply import Reply

router = APIRouter()


class ContentPart(BaseModel):
    """One part of a message's content in OpenAI's list form: the "text" parts are read, others ignored."""

    model_config = ConfigDict(extra="allow")  # image_url, ...
    type: Any = None
    text: Any = ""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # OpenAI content parts: keep the text ones
            return "".join(str(p.text) for p in self.content if p.type == "text")
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


class Health(BaseModel):
    """``GET /health``: liveness, and whether the model is working on a request now."""

    status: Literal["ok"] = "ok"
    model: str
    busy: bool
    queued: int


class ModelCard(BaseModel):
    """One model in OpenAI's ``/v1/models`` shape, with the context length clients size requests by."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "repair"
    context_length: int


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class WhoAmI(Caller):
    """The caller's key (name, scope, permissions) and the model it talks to."""

    model: str


class HistoryList(BaseModel):
    """``GET /v1/history``: the scope's turns, forgotten ones left out."""

    object: Literal["list"] = "list"
    scope: str
    data: list[Turn]


@router.get("/health")
async def health(request: Request) -> Health:
    hub = hub_of(request)
    w = hub.worker
    return Health(model=hub.patient.name, busy=w.current is not None, queued=w.waiting)


@router.get("/v1/models")
async def models(request: Request) -> ModelList:
    hub = hub_of(request)
    caller(request)
    card = ModelCard(id=hub.patient.name, created=int(hub.started), context_length=hub.limits.context)
    return ModelList(data=[card])


@router.get("/v1/whoami")
async def whoami(request: Request) -> WhoAmI:
    hub = hub_of(request)
    return WhoAmI(**caller(request).model_dump(), model=hub.patient.name)


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(req: ChatRequest, request: Request) -> Completion | StreamingResponse:
    hub = hub_of(request)
    who = caller(request, req.user)
    message, history, max_tokens = _checked(req, hub)
    timeout = hub.limits.edit_timeout_s if who.edit else hub.limits.timeout_s

    def fn(job: Job) -> Reply:
        job.may_edit, job.confirm = who.edit, req.confirm_edits
        return hub.turn(job, message, history, max_tokens)

    job = await submit(request, fn, who.scope, timeout, interleave=True)

    def usage(reply: Reply) -> Usage:
        return Usage.of(_n_tokens(hub, message), _n_tokens(hub, reply.text))

    if req.stream:
        return StreamingResponse(sse(job, hub.patient.name, usage), media_type="text/event-stream")
    reply = await wait(job, request)
    if reply.kind == "error":
        raise reply_error(reply)
    return completion(hub.patient.name, reply, usage(reply), job)


@router.get("/v1/history", response_model_exclude_unset=True)  # a turn shows the keys it has
async def history(request: Request) -> HistoryList:
    hub = hub_of(request)
    who = caller(request)
    job = await submit(request, hub.history, who.scope, hub.limits.timeout_s, interleave=True)
    return HistoryList(object="list", scope=who.scope, data=await wait(job, request))  # all set: shown


@router.get("/", response_class=HTMLResponse)
def index() -> str:
    return resources.files("repair.serve").joinpath("static/index.html").read_text(encoding="utf-8")


def _checked(req: ChatRequest, hub: Hub) -> tuple[str, list[dict[str, str]], int]:
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
    # OpenAI clients are stateless: the context is the conversation the client sent (a single message has
    # none), less any exchange this server did not produce; the scope's stored turns are its history.
    return msgs[-1]["content"], msgs[:-1], max_tokens


def _n_tokens(hub: Hub, text: str) -> int:
    return len(hub.patient.tokenizer(text, add_special_tokens=False)["input_ids"])
