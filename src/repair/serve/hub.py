"""What one server holds: the shared patient, its worker, and a session per scope.

A request names its scope (from its API key, or the key and the ``user`` field); `Hub.session_for`
gives that scope's `Session` (created on first use, over a `ServedPatient`, its conversation its own).
The global scope's session is the one `repair serve --session DIR` opened. Every scope's turns persist in
DIR's database, each row under its scope (a restart gives each scope its own conversation back; a forgotten
turn is sealed under its edit's key, as the chat's are). Past ``max_scopes`` the least recently used
scope's session leaves memory and is read back from the database when it returns.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from repair.edit.ledger import EditRecord
from repair.edit.ledger.history import FORGOTTEN, Turn
from repair.serve.review import Policy, ReviewQueue
from repair.serve.scopes import Adapters, ServedPatient
from repair.serve.security import GLOBAL
from repair.serve.wire import Confirmation, Progress
from repair.serve.worker import Cancelled, Deferred, Job, Worker
from repair.session import Reply, Session
from repair.session.files import stored_turns
from repair.session.reply import TurnStopped

MAX_TURNS = 400  # turns a scope's in-memory conversation keeps (its context is the last k exchanges)


class Limits(BaseModel):
    """Caps on one request's work, derived from the model's context (see `Limits.for_model`); the fields
    below ``max_body`` are `repair serve` options (--max-queue, --timeout, ...) within these ranges."""

    model_config = ConfigDict(extra="forbid")
    context: int  # tokens the model reads
    max_tokens: int = Field(ge=1)  # the largest max_tokens a request may ask for
    default_tokens: int = Field(ge=1)  # a reply's tokens when the request names none
    max_body: int = Field(ge=1024, le=64 * 2**20)  # bytes of a request body
    max_messages: int = Field(default=256, ge=1, le=10_000)
    timeout_s: float = Field(default=120.0, gt=0, le=3600)  # a chat reply
    # a request that may edit (the first edit builds the model's statistics)
    edit_timeout_s: float = Field(default=900.0, gt=0, le=24 * 3600)
    max_queue: int = Field(default=16, ge=1, le=1024)  # requests waiting for the model
    max_scopes: int = Field(default=256, ge=1, le=100_000)  # conversations held in memory

    @model_validator(mode="after")
    def _fits_context(self) -> Limits:
        if self.max_tokens >= self.context:
            raise ValueError(
                f"max_tokens {self.max_tokens} must be below the model's context of {self.context}"
            )
        return self

    @classmethod
    def for_model(cls, patient: Any, default_tokens: int = 96, **overrides: Any) -> Limits:
        config = getattr(patient.model, "config", None)
        ctx = int(getattr(config, "max_position_embeddings", 0) or 2048)
        cap = overrides.pop("max_tokens", None) or max(1, min(ctx // 2, 1024))
        # ~4 characters a token, JSON escaping and the conversation's other fields: 8 bytes a token is ample
        body = overrides.pop("max_body", None) or max(16_384, ctx * 8)
        given = {k: v for k, v in overrides.items() if v is not None}
        try:
            return cls(
                context=ctx, max_tokens=cap, default_tokens=min(default_tokens, cap), max_body=body, **given
            )
        except ValidationError as e:  # one line for the CLI: the first field at fault
            err = e.errors()[0]
            msg = err["msg"].removeprefix("Value error, ")
            raise ValueError(f"{'.'.join(map(str, err['loc']))}: {msg}" if err["loc"] else msg) from None


class LimitOptions(BaseModel):
    """The `repair serve` options that override `Limits` fields (None: the model's default); their ranges
    are `Limits`' own, checked by `Limits.for_model`."""

    model_config = ConfigDict(extra="forbid")
    max_queue: int | None = None
    timeout_s: float | None = None
    edit_timeout_s: float | None = None
    max_body: int | None = None
    max_tokens: int | None = None


class _Watching:
    """A watchdog or surgeon that reports its step to the running job (progress events)."""

    def __init__(self, inner: Any, worker: Worker) -> None:
        self._inner, self._worker = inner, worker

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def inspect(self, *args: Any, **kwargs: Any) -> Any:
        verdict = self._inner.inspect(*args, **kwargs)
        job = self._worker.current
        if verdict.intent == "unlearn" and job is not None and not job.may_edit:
            job.refused = True
            raise TurnStopped("this key may not edit the model")
        if verdict.intent == "unlearn" and job is not None and job.confirm:
            job.pending = _confirmation(verdict)
            raise _AskFirst("the client asked to confirm edits first")
        if verdict.intent == "unlearn" and job is not None and job.inline:
            job.deferred = True  # not between another edit's checks: after that edit (see Worker.interleave)
            raise Deferred("a forget request waits for the edit in progress")
        if verdict.intent == "unlearn":
            text = f"forget request: {verdict.target or 'that'}"
            self._worker.emit(Progress(step="detect", text=text, target=verdict.target))
        return verdict

    def plan(self, *args: Any, **kwargs: Any) -> Any:
        self._worker.emit(Progress(step="plan", text="planning the edit"))
        return self._inner.plan(*args, **kwargs)


class _AskFirst(TurnStopped):
    """A forget request whose client wants to confirm it first: nothing is edited now."""


def _confirmation(verdict: Any) -> Confirmation:
    """What a forget request would do, for the client to confirm: its target and the questions the
    model would stop answering (`repair.session.control.proposal`, as `repair chat` shows it)."""
    from repair.session.control import proposal

    return Confirmation.model_validate(proposal(verdict).model_dump(include={"target", "questions", "text"}))


class Hub:
    """The patient, the worker that owns it, and the scopes' sessions."""

    def __init__(self, session: Session, limits: Limits | None = None, policy: Policy | None = None) -> None:
        self.patient = session.patient
        self.limits = limits or Limits.for_model(self.patient, session.max_new_tokens)
        self.worker = Worker(self.patient.model, self.limits.max_queue)
        self.adapters = Adapters(self.patient)
        self.started = time.time()
        self._template = session
        folder = session.session_dir
        self.review = ReviewQueue(folder / "review.json" if folder is not None else None, policy)
        self._wrap(session, GLOBAL)
        self.sessions: OrderedDict[str, Session] = OrderedDict({GLOBAL: session})

    def _wrap(self, session: Session, scope: str) -> None:
        session.patient = ServedPatient(self.patient, scope, self.worker.emit, self.worker.interleave)
        session.watchdog = _Watching(session.watchdog, self.worker)  # type: ignore[assignment]
        session.surgeon = _Watching(session.surgeon, self.worker)  # type: ignore[assignment]

    def session_for(self, scope: str) -> Session:
        """The scope's session (worker thread only: creating one touches the model's caches)."""
        if scope in self.sessions:
            self.sessions.move_to_end(scope)
            return self.sessions[scope]
        t = self._template
        s = Session(
            self.patient,
            watchdog=t.watchdog._inner,
            surgeon=t.surgeon._inner,
            k=t.k,  # type: ignore[attr-defined]
            max_new_tokens=t.max_new_tokens,
            probe_tokens=t.probe_tokens,
            escalate=t.escalate,
            user=scope,
            guard_budget=t.guard_budget,
            engine=t.engine,
        )  # type: ignore[arg-type]
        s.stamp_overrides = t.stamp_overrides
        self._wrap(s, scope)
        if t.session_dir is not None and s.patient.ledger.history is not None:
            s.session_dir = t.session_dir  # its turns are stored, under its scope
            s.turns = stored_turns(s.patient.ledger)
        self.sessions[scope] = s
        while len(self.sessions) > self.limits.max_scopes:
            old = next(k for k in self.sessions if k != GLOBAL)
            del self.sessions[old]
        return s

    # -- work on the worker thread -----------------------------------------------------------
    def turn(self, job: Job, message: str, history: list[dict[str, str]] | None, max_tokens: int) -> Reply:
        """Answer one user message in the job's scope, with the scope's own edits as adapters."""
        session = self.session_for(job.scope)
        served: ServedPatient = session.patient  # type: ignore[assignment]
        if history is not None:
            history = trusted_history(session, history)
        with self.adapters.applied(served.ledger.own):
            reply = session.send(message, history=history, max_new_tokens=max_tokens)
        if job.deferred:
            raise Deferred("a forget request waits for the edit in progress")
        if job.scope != GLOBAL and len(session.turns) > MAX_TURNS:  # the context needs the last k only
            del session.turns[: len(session.turns) - MAX_TURNS]
        if job.pending is not None:
            return Reply(kind="unlearn", target=job.pending.target, text=job.pending.text)
        if job.refused:
            return Reply(
                kind="error", error="forbidden", text="This API key may chat but not ask the model to forget."
            )
        if reply.kind == "error" and job.stopped():
            raise Cancelled("timed out" if job.timed_out else "the client went away")
        return reply

    def forget(self, job: Job, prompt: str, target: str | None) -> Reply:
        """Forget what the model itself answers to ``prompt`` in the job's scope (the answer is generated
        here, never taken from the client); no turn is recorded."""
        session = self.session_for(job.scope)
        served: ServedPatient = session.patient  # type: ignore[assignment]
        with self.adapters.applied(served.ledger.own):
            answer = self.patient.generate([prompt], max_new_tokens=session.probe_tokens)[0]
            reply = session.forget(target or prompt, pairs=[(prompt, answer)])
        if reply.kind == "error" and job.stopped():
            raise Cancelled("timed out" if job.timed_out else "the client went away")
        return reply

    def lora(self, job: Job, edit_id: str, ungated: bool = False) -> bytes:
        """One active edit as a PEFT LoRA adapter folder, zipped (gated edits only ``ungated``)."""
        import io
        import tempfile
        import zipfile
        from pathlib import Path

        from repair.edit.export import export_lora

        served: ServedPatient = self.session_for(job.scope).patient  # type: ignore[assignment]
        edits = [e for e in served.ledger.active if e.id == edit_id]
        if not edits:
            raise KeyError(edit_id)
        buf = io.BytesIO()
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w") as z:
            out = export_lora(edits, self.patient.arch, self.patient.name, Path(tmp) / edit_id, ungated)
            for f in sorted(out.iterdir()):
                z.write(f, f"{edit_id}/{f.name}")
        return buf.getvalue()

    def undo(self, job: Job, edit_id: str) -> EditRecord:
        return self.session_for(job.scope).undo(edit_id)

    def history(self, job: Job) -> list[Turn]:
        """The scope's turns as they may be shown; forgotten turns are left out, not just masked."""
        session = self.session_for(job.scope)
        active = {e.id for e in session.patient.ledger.active}
        turns = session.history
        out = []
        for i, t in enumerate(turns):
            # a forget request and its acknowledgement name what was forgotten: hidden while the edit is on
            ack = t if t["role"] == "assistant" else (turns[i + 1] if i + 1 < len(turns) else {})
            if t.get("content") == FORGOTTEN or ack.get("edit_id") in active:
                continue
            out.append(Turn.model_validate(t))
        return out

    def close(self) -> None:
        self.worker.close()


def trusted_history(session: Session, messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The client's conversation less every (user, assistant) exchange that this scope's session did
    not itself produce: a made-up assistant turn never becomes context, nor the source of an edit."""
    said = {
        (u.content, a.content)
        for u, a in zip(session.turns, session.turns[1:], strict=False)
        if u.role == "user" and a.role == "assistant" and a.kind == "chat"
    }
    out: list[dict[str, str]] = []
    pending: dict[str, str] | None = None
    for m in messages:
        if m["role"] == "user":
            pending = m
        elif m["role"] == "assistant" and pending is not None:
            if (pending["content"].strip(), m["content"].strip()) in said:
                out += [pending, m]
            pending = None
    return out
