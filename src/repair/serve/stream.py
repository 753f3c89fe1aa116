"""OpenAI's response shapes: a whole completion, and server-sent chunks that follow the job as it runs
(tokens as they are generated; an edit's progress steps in the ``repair`` field, never in ``content``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from pydantic import BaseModel

from repair.serve.guard import ApiError
from repair.serve.wire import (
    Choice,
    Chunk,
    ChunkChoice,
    Completion,
    Delta,
    Message,
    Progress,
    ProgressNote,
    Record,
    Usage,
    completion_id,
)
from repair.serve.worker import Cancelled, Event, Job
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


def completion(model: str, reply: Reply, usage: Usage, job: Job) -> Completion:
    return Completion(
        model=model, choices=[Choice(message=Message(content=reply.text))], usage=usage,
        repair=Record.of(reply, job.pending),
    )  # fmt: skip


def _data(obj: BaseModel) -> str:
    return f"data: {json.dumps(obj.model_dump(mode='json'))}\n\n"


async def _next(job: Job) -> Event | None:
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


async def sse(job: Job, model: str, usage: Callable[[Reply], Usage]) -> AsyncIterator[str]:
    """Chunks in OpenAI's stream format. Leaving early (the client went away) cancels the job."""
    head = {"id": completion_id(), "created": int(time.time()), "model": model}

    def chunk(delta: Delta, finish: str | None = None, **extra: Any) -> str:
        return _data(Chunk(**head, choices=[ChunkChoice(delta=delta, finish_reason=finish)], **extra))

    streamed = False
    try:
        yield chunk(Delta(role="assistant", content=""))
        while (event := await _next(job)) is not None:
            if isinstance(event, Progress):
                yield chunk(Delta(), repair=ProgressNote(progress=event))
            else:  # a token
                streamed = True
                yield chunk(Delta(content=event))
        try:
            reply: Reply = job.done.result()
        except BaseException as e:  # noqa: BLE001
            yield _data(job_error(e, job).body())
            return
        if reply.kind == "error":
            yield _data(reply_error(reply).body())
            return
        if not streamed:  # an edit's acknowledgement (or a reply that streamed nothing) comes whole
            yield chunk(Delta(content=reply.text))
        yield chunk(Delta(), "stop", repair=Record.of(reply, job.pending), usage=usage(reply))
        yield "data: [DONE]\n\n"
    finally:
        if not job.done.done():
            job.cancel.set()
