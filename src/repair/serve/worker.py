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

from repair.serve.wire import Confirmation, Progress
from repair.session.reply import TurnStopped

Event = str | Progress  # what a running job sends its handler: a token of the reply, or a step of an edit

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The job's client went away, or its deadline passed."""


class QueueFull(Exception):
    """More requests are waiting than the server keeps."""


class Deferred(TurnStopped):
    """A job run between another job's steps turned out to need the model to itself (a chat that is a
    forget request): it goes back to the head of the queue and runs after the job it interrupted."""


class Job:
    """A unit of model work: ``fn(job)`` runs on the worker thread; ``emit`` sends `Event`s to the handler."""

    def __init__(
        self, fn: Callable[[Job], Any], *, scope: str, timeout_s: float, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.fn, self.scope, self.loop = fn, scope, loop
        self.deadline = time.monotonic() + timeout_s
        self.cancel = threading.Event()
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.done: asyncio.Future[Any] = loop.create_future()
        self.started = False
        self.timed_out = False
        self.may_edit = True  # False: a forget request is refused (a key without the edit permission)
        self.refused = False
        self.confirm = False  # True: a forget request is answered with what it would do, not done
        self.pending: Confirmation | None = None  # that answer
        # may run between the checks of another scope's edit (a chat or a read; see Worker.interleave)
        self.interleave = False
        self.inline = False  # running so now
        self.deferred = False  # was, and turned out to be an edit: it waits its turn instead

    def stopped(self) -> bool:
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return True
        return self.cancel.is_set()

    def emit(self, event: Event) -> None:
        """Hand an event (a token, a progress step) to the waiting handler; thread-safe."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)

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

    def emit(self, event: Event) -> None:
        """An event for the running job (progress from inside the session); none when idle."""
        job = self.current
        if job is not None:
            job.emit(event)

    def _loop(self) -> None:
        while True:
            job = self.queue.get()
            if job is None:
                return
            if job.stopped():  # abandoned while it waited: an undo or forget nobody awaits does not run
                job._finish(error=Cancelled("timed out" if job.timed_out else "the client went away"))
                continue
            with self.lock:
                self._run(job)

    def _run(self, job: Job) -> None:
        outer, self.current, job.started = self.current, job, True
        result, error = None, None
        try:
            result = job.fn(job)
        except BaseException as e:  # noqa: BLE001 - the handler decides what the client sees
            if isinstance(e, Deferred) and job.inline:  # see interleave: it runs again later
                job.started = False
                raise
            if not isinstance(e, Cancelled):
                log.exception("job failed")
            error = e
        finally:
            self.current = outer
        # only now: a client answered must find the worker free (/health's "busy")
        job._finish(result, error)

    def interleave(self) -> int:
        """At a point of the running job where the weights hold only committed edits (an edit between two
        checks or two layers: nothing of it is on the weights), run the chats and reads of other scopes
        waiting now, so that they wait for one step of another scope's edit, not all of it; those that
        come meanwhile wait for the next step (a stream of chats cannot hold the edit back). One that turns
        out to be a forget request goes back to the head of the queue (`Deferred`). Worker thread only;
        returns how many ran."""
        running = self.current
        if running is None or running.inline:
            return 0
        with self.queue.mutex:
            ready = {id(j) for j in self.queue.queue if j is not None}
        n = 0
        while (job := self._take(running.scope, ready)) is not None:
            if job.stopped():
                job._finish(error=Cancelled("timed out" if job.timed_out else "the client went away"))
                continue
            job.inline = True
            try:
                self._run(job)
            except Deferred:
                job.interleave = job.inline = job.deferred = False
                with self.queue.mutex:  # ahead of what came after it, as if it had never left
                    self.queue.queue.appendleft(job)
                    self.queue.not_empty.notify()
                continue
            n += 1
        return n

    def _take(self, scope: str, ready: set[int]) -> Job | None:
        """The first job of ``ready`` (ids) still waiting that may run between the steps of ``scope``'s
        job, out of the queue."""
        with self.queue.mutex:
            for job in self.queue.queue:
                if job is not None and id(job) in ready and job.interleave and job.scope != scope:
                    self.queue.queue.remove(job)
                    self.queue.not_full.notify()
                    return job
        return None

    def close(self) -> None:
        self._hook.remove()
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass
