"""OpenAI's response shapes: a whole completion, and server-sent chunks that follow the job as it runs
(tokens as they are generated; an edit's progress steps in the ``repair`` field, never in ``content``)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from repair.serve.guard import ApiError
from repair.serve.worker import Cancelled, Job
from repair.session.reply import Reply

STATUS = {"empty": 400, "too_long": 400, "forbidden": 403, "busy": 409, "internal": 500}


def reply_error(reply: Reply) -> ApiError:
    code = reply.error or "internal"
    return ApiError(STATUS.get(code, 500), code, reply.text)


def job_error(e: BaseException, job: Job) -> ApiError:
    if isinstance(e, Cancelled):
        if job.timed_out:
            return ApiError(504, "timeout", "the request ran past its time limit and was stopped")
        return ApiError(499, "cancelled", "the request was cancelled")
    return ApiError(500, "internal", f"{type(e).__name__}: {e}")


def repair_field(reply: Reply, job: Job) -> dict[str, Any]:
    """The ``repair`` field: the reply's record; a forget request held for confirmation is kind "confirm"."""
    out = reply.model_dump(exclude={"text"})
    if job.pending is not None:
        out.update(kind="confirm", confirm=job.pending)
    return out


def completion(model: str, reply: Reply, usage: dict[str, int], job: Job) -> dict[str, Any]:
    return {
        "id": "chatcmpl-" + secrets.token_hex(12), "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}],
        "usage": usage, "repair": repair_field(reply, job),
    }  # fmt: skip


def _data(obj: Any) -> str:
    return f"data: {json.dumps(obj)}\n\n"


async def _next(job: Job) -> tuple[str, Any] | None:
    """The job's next event, or None once it has finished and every event is out."""
    if not job.events.empty():
        return job.events.get_nowait()
    if job.done.done():
        return None
    get = asyncio.ensure_future(job.events.get())
    await asyncio.wait({get, job.done}, return_when=asyncio.FIRST_COMPLETED)
    if get.done():
        return get.result()
    get.cancel()
    return job.events.get_nowait() if not job.events.empty() else None


async def sse(job: Job, model: str, usage: Callable[[Reply], dict[str, int]]) -> AsyncIterator[str]:
    """Chunks in OpenAI's stream format. Leaving early (the client went away) cancels the job."""
    head = {
        "id": "chatcmpl-" + secrets.token_hex(12),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return _data(head | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]} | extra)

    streamed = False
    try:
        yield chunk({"role": "assistant", "content": ""})
        while (event := await _next(job)) is not None:
            kind, data = event
            if kind == "token":
                streamed = True
                yield chunk({"content": data})
            elif kind == "progress":
                yield chunk({}, repair={"progress": data})
        try:
            reply: Reply = job.done.result()
        except BaseException as e:  # noqa: BLE001
            yield _data(job_error(e, job).body())
            return
        if reply.kind == "error":
            yield _data(reply_error(reply).body())
            return
        if not streamed:  # an edit's acknowledgement (or a reply that streamed nothing) comes whole
            yield chunk({"content": reply.text})
        yield chunk({}, "stop", repair=repair_field(reply, job), usage=usage(reply))
        yield "data: [DONE]\n\n"
    finally:
        if not job.done.done():
            job.cancel.set()
