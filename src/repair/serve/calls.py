"""What every route needs: the hub, the caller behind the request's API key, and the worker's queue."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request

from repair.serve.guard import ApiError
from repair.serve.hub import Hub
from repair.serve.security import Caller
from repair.serve.stream import job_error
from repair.serve.worker import Job, QueueFull

AUTH_ERRORS = {"missing": (401, "missing_key", "send an API key: Authorization: Bearer KEY"),
               "invalid": (401, "invalid_key", "that API key is not known here"),
               "user": (403, "user_not_allowed", "this key may not set `user` (or the value is not a plain name)")}  # fmt: skip


def hub_of(request: Request) -> Hub:
    return request.app.state.hub


def caller(request: Request, user: str | None = None) -> Caller:
    """Who calls (the key's name, scope and permissions), or a 401/403."""
    c = request.app.state.keys.caller(request.headers.get("authorization"), user)
    if isinstance(c, str):
        raise ApiError(*AUTH_ERRORS[c])
    return c


async def submit(request: Request, fn: Any, scope: str, timeout_s: float, *, interleave: bool = False) -> Job:
    """Queue ``fn`` for the worker thread, or a 429 when the queue is full. ``interleave``: a chat or a
    read, which may run between the checks of another scope's edit (see `Worker.interleave`)."""
    job = Job(fn, scope=scope, timeout_s=timeout_s, loop=asyncio.get_running_loop())
    job.interleave = interleave
    try:
        return hub_of(request).worker.submit(job)
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
