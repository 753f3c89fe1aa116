"""One worker thread owns the model: requests wait in a bounded queue, and each can be cancelled.

The HTTP handlers never touch the weights: they submit a `Job` and await it, so health and model
endpoints answer while a generation or an edit runs. A job is cancelled when its client goes away or its
deadline passes: a forward pre-hook on the model raises `Cancelled` at the next forward pass (every
decoding step of a reply, every check of an edit), and an edit's trial weights are restored by the
ledger on the way out, so nothing half-done is committed.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import torch

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The job's client went away, or its deadline passed."""


class QueueFull(Exception):
    """More requests are waiting than the server keeps."""


class Job:
    """A unit of model work: ``fn(job)`` runs on the worker thread; ``emit`` sends events to the handler."""

    def __init__(
        self, fn: Callable[[Job], Any], *, scope: str, timeout_s: float, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.fn, self.scope, self.loop = fn, scope, loop
        self.deadline = time.monotonic() + timeout_s
        self.cancel = threading.Event()
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.done: asyncio.Future[Any] = loop.create_future()
        self.started = False
        self.timed_out = False
        self.may_edit = True  # False: a forget request is refused (a key without the edit permission)
        self.refused = False
        self.confirm = False  # True: a forget request is answered with what it would do, not done
        self.pending: dict[str, Any] | None = None  # that answer

    def stopped(self) -> bool:
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return True
        return self.cancel.is_set()

    def emit(self, kind: str, data: Any) -> None:
        """Hand an event (a token, a progress step) to the waiting handler; thread-safe."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, data))

    def _finish(self, result: Any = None, error: BaseException | None = None) -> None:
        def settle() -> None:
            if self.done.done():
                return
            if error is not None:
                self.done.set_exception(error)
            else:
                self.done.set_result(result)

        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(settle)


class Worker:
    """The model's only user. ``max_queue``: jobs that may wait; more are refused (HTTP 429)."""

    def __init__(self, model: torch.nn.Module, max_queue: int = 16) -> None:
        self.queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self.current: Job | None = None
        self.lock = threading.Lock()  # held while a job runs: model access is serialised
        self._hook = model.register_forward_pre_hook(self._check)
        self._thread = threading.Thread(target=self._loop, name="repair-model-worker", daemon=True)
        self._thread.start()

    def _check(self, module: torch.nn.Module, args: Any) -> None:
        job = self.current
        if job is not None and job.stopped():
            raise Cancelled("timed out" if job.timed_out else "the client went away")

    @property
    def waiting(self) -> int:
        return self.queue.qsize()

    def submit(self, job: Job) -> Job:
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            raise QueueFull(f"{self.queue.maxsize} requests are already waiting; try again shortly") from None
        return job

    def emit(self, kind: str, data: Any) -> None:
        """An event for the running job (progress from inside the session); none when idle."""
        job = self.current
        if job is not None:
            job.emit(kind, data)

    def _loop(self) -> None:
        while True:
            job = self.queue.get()
            if job is None:
                return
            if job.stopped():  # abandoned while it waited: an undo or forget nobody awaits does not run
                job._finish(error=Cancelled("timed out" if job.timed_out else "the client went away"))
                continue
            with self.lock:
                self.current, job.started = job, True
                try:
                    job._finish(job.fn(job))
                except BaseException as e:  # noqa: BLE001 - the handler decides what the client sees
                    if not isinstance(e, Cancelled):
                        log.exception("job failed")
                    job._finish(error=e)
                finally:
                    self.current = None

    def close(self) -> None:
        self._hook.remove()
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass
