"""The conversation: route each user turn, forget on request (``repair.session.pipeline``), then
acknowledge.

```
send(message) ─► watchdog(last k turns) ─► chat ─► patient.chat ─► reply
                          └─ unlearn ─► Unlearning.run (probe, plan, edit, verify, commit) ─► acknowledgement
```

Persistence (``session_dir``): the ledger and the turns live in one database, ``session_dir/ledger``
(see ``repair.session.files``); ``Session.open(session_dir)`` restores both. A forgotten turn is sealed
under its edit's key in the same transaction as the edit, and the history never shows its text.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from repair.agents.surgeon import Surgeon
from repair.agents.watchdog import Verdict, Watchdog
from repair.edit.ledger import EditRecord, LedgerBusyError, Turn, public_turn
from repair.edit.stamp import StampConfig, prepare
from repair.session import texts
from repair.session.control import (
    Confirm,
    as_messages,
    context_turns,
    exchange,
    mark_stale,
    proposal,
)
from repair.session.files import attach_ledger, load_turns, model_of, stored_turns
from repair.session.guard import Budget, GuardBudget
from repair.session.pipeline import Unlearning
from repair.session.reply import ENGINES, Engine, Reply, TurnStopped
from repair.session.subject import SubjectEngine

log = logging.getLogger(__name__)


class Session:
    """A chat with a patient that forgets on request. Thread-safe: one lock serialises every turn.

    ``watchdog``/``surgeon`` default to the MiniLM watchdog and the deterministic planner (fast);
    see ``repair.session.surgeons`` for the Qwen surgeon. ``k``: turns of history the watchdog and the chat see.
    ``confirm``: asked with a `repair.session.control.Proposal` before the weights change (None: no question).
    """

    confirm: Confirm | None = None
    _context_from = 0  # turns before this index are out of the context (/reset)

    def __init__(
        self,
        patient: Any,
        watchdog: Watchdog | None = None,
        surgeon: Surgeon | None = None,
        k: int = 4,
        session_dir: str | Path | None = None,
        *,
        max_new_tokens: int = 96,
        probe_tokens: int = 48,
        escalate: bool = True,
        user: str = "session",
        stamp_overrides: dict[str, Any] | None = None,
        guard_budget: Budget = "base",
        engine: Engine = "stamp",
    ) -> None:
        if k < 1:
            raise ValueError("k must be at least 1")
        self._guard = GuardBudget(guard_budget)  # "base" or "each": see GuardBudget
        self.guard_budget = guard_budget
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        # "stamp2": a named subject is mapped onto the model's refusal (see repair.session.subject); requests that
        # name none ("forget what you just said") still go through STAMP.
        self.engine = engine
        self._subject = SubjectEngine() if engine == "stamp2" else None
        # StampConfig fields applied on top of every plan (e.g. {"alpha_margin": 1.5}): checked now, not mid-request
        self.stamp_overrides = StampConfig.model_validate(stamp_overrides or {}).model_dump(
            include=set(stamp_overrides or {})
        )
        self.patient = patient
        self.k = k
        self.watchdog = watchdog or Watchdog(k=k)
        self.surgeon = surgeon or Surgeon()
        self.max_new_tokens = max_new_tokens
        self.probe_tokens = probe_tokens
        self.escalate = escalate
        self.user = user
        self.turns: list[Turn] = []
        self._lock = threading.RLock()
        self.session_dir = Path(session_dir) if session_dir is not None else None
        if self.session_dir is not None:
            self.session_dir.mkdir(parents=True, exist_ok=True)
            attach_ledger(self.patient, self.session_dir / "ledger")
            self.turns = load_turns(self.patient, self.session_dir)
        self._seen = self._db_version() if self.session_dir is not None else None

    @classmethod
    def open(
        cls, session_dir: str | Path, model: str | None = None, dtype: str | None = None, **kwargs: Any
    ) -> Session:
        """Load the patient with the session's ledger (re-applying its edits) and the saved turns.
        ``dtype``: the weights' dtype (see ``repair.load``); the ledger's deltas apply to any."""
        import repair

        session_dir = Path(session_dir)
        name = model or model_of(session_dir) or "smollm2-135m-instruct"
        patient = repair.load(name, ledger=session_dir / "ledger", dtype=dtype)
        return cls(patient, session_dir=session_dir, **kwargs)

    def _too_long(self, message: str) -> str | None:
        """Why a message cannot be read (longer than the model's context), or None. A 100 KB prompt would
        otherwise take gigabytes of memory before it failed."""
        config = getattr(self.patient.model, "config", None)
        ctx = getattr(config, "max_position_embeddings", None)
        tok = getattr(self.patient, "tokenizer", None)
        if not ctx or tok is None:
            return None
        if len(message) > 1_000_000:  # not worth tokenizing: far past any context
            return f"The message is too long: {len(message)} characters. Please shorten it."
        n = len(tok(message, add_special_tokens=False)["input_ids"])
        if n + self.max_new_tokens <= ctx:
            return None
        return texts.too_long(n, ctx, self.max_new_tokens)

    def sync(self) -> bool:
        """Catch up with the ledger's database (an edit, undo or purge made by another process): the
        weights, and the turns whose visibility it changed. Cheap when nothing changed.

        The turns are re-read when the database changed since this session last looked, not only when the
        ledger's own sync says so: another reader of the ledger (a server's per-request look at a scope's
        edits) may have caught the ledger up first."""
        with self._lock:
            changed = self.patient.ledger.sync()
            seen, self._seen = self._seen, self._db_version()
            if (changed or seen != self._seen) and self.session_dir is not None:
                # the stale marks are not stored: stored_turns sets them again from the undone edits
                self.turns = stored_turns(self.patient.ledger)
                changed = True
            return changed

    def _db_version(self) -> int | None:
        """The database's change counter as this process sees it (other connections' commits)."""
        store = getattr(self.patient.ledger, "store", None)
        return store.data_version() if store is not None else None

    # -- context ---------------------------------------------------------------------------------
    def _context_pairs(self, history: list[dict] | None) -> list[tuple[str, str]]:
        """(user, assistant) chat pairs the patient and watchdog may see: no acknowledgements and no
        forgotten turns (the model would otherwise copy a forgotten answer from its context)."""
        hidden = {
            (u.content, a.content)
            for u, a in zip(self.turns, self.turns[1:], strict=False)
            if u.role == "user"
            and a.role == "assistant"
            and (u.kind != "chat" or u.redacted_by or a.redacted_by)
        }
        if history is None:
            turns = context_turns(self.turns, self._context_from)
            source = [t.as_dict() for t in turns if t.kind == "chat" and not t.redacted_by]
        else:
            source = [m for m in history if m.get("role") in ("user", "assistant")]
        pairs: list[tuple[str, str]] = []
        pending: str | None = None
        for m in source:
            if m["role"] == "user":
                pending = str(m.get("content", ""))
            elif pending is not None:
                pair = (pending, str(m.get("content", "")))
                if pair not in hidden:
                    pairs.append(pair)
                pending = None
        return pairs[-self.k :]

    def _record(self, message: str, reply: Reply) -> None:
        if reply.edit_id and self.turns and self.turns[-1].edit_id == reply.edit_id:
            return  # committed with the edit, in its transaction (see `Unlearning._commit`)
        turns = exchange(message, reply)
        self.turns += turns
        history = self.patient.ledger.history if self.session_dir is not None else None
        if history is not None:
            # a forget request and its acknowledgement name what was forgotten: sealed under the edit's key
            history.append(turns, seal_by=reply.edit_id)

    # -- public ----------------------------------------------------------------------------------
    @property
    def history(self) -> list[dict[str, Any]]:
        """The turns as they may be shown: a forgotten turn (hidden by an active edit, or whose edit's
        key was purged) and a forget request of an active edit keep their place but read FORGOTTEN."""
        self.sync()
        active = {e.id for e in self.patient.ledger.active}
        return [public_turn(t, active) for t in self.turns]

    def edits(self, include_undone: bool = False) -> list[EditRecord]:
        with self._lock:
            self.sync()
            return self.patient.ledger.list(include_undone=include_undone)

    def undo(self, edit_id: str) -> EditRecord:
        """Undo an edit exactly; the turns it had hidden come back into the context. KeyError if unknown."""
        with self._lock:
            self.sync()
            manifest = self.patient.ledger.undo(edit_id)  # gives the turns back in the same transaction
            for t in self.turns:
                if t.redacted_by == manifest.id:
                    t.redacted_by = None
            mark_stale(self.turns, manifest)  # the edited model's replies leave the context
            return manifest

    def reset(self) -> None:
        """Clear the context: later turns see none of the earlier ones (they stay in the history)."""
        with self._lock:
            self._context_from = len(self.turns)

    def send(
        self, message: str, history: list[dict] | None = None, max_new_tokens: int | None = None
    ) -> Reply:
        """Answer one user message. ``history``: the conversation so far as OpenAI-style messages (an HTTP
        client's, stateless: the model's context; an empty one, none); default: the session's own turns.
        ``max_new_tokens``: for a chat reply."""
        t0 = time.perf_counter()
        if not isinstance(message, str) or not message.strip():
            return Reply(text=texts.EMPTY, kind="error", error="empty")
        message = message.strip()
        too_long = self._too_long(message)
        if too_long:
            return Reply(text=too_long, kind="error", error="too_long")
        with self._lock:
            try:
                self.sync()
                reply = self._route(message, history, t0, max_new_tokens or self.max_new_tokens)
            except LedgerBusyError as e:
                return Reply(
                    text=f"Another edit of this model is in progress; try again in a moment. ({e})",
                    kind="error",
                    error="busy",
                    timings={"total": time.perf_counter() - t0},
                )
            except TurnStopped as e:  # the server's decision, not a failure
                return Reply(
                    text=str(e), kind="error", error="stopped", timings={"total": time.perf_counter() - t0}
                )
            except Exception as e:  # one bad turn must not end the conversation
                log.exception("session turn failed")
                return Reply(
                    text=f"Something went wrong on my side: {type(e).__name__}: {e}",
                    kind="error",
                    error="internal",
                    timings={"total": time.perf_counter() - t0},
                )
            reply.timings["total"] = time.perf_counter() - t0
            self._record(message, reply)
            return reply

    def forget(self, target: str, pairs: list[tuple[str, str]] | None = None) -> Reply:
        """Forget ``target`` as if the watchdog had understood the request: with ``pairs`` (what the model
        said, e.g. a history turn), those; without, the patient is asked about ``target`` first. The
        rest (plan, verified edit, commit) is what a chat request does; no turn is recorded."""
        t0 = time.perf_counter()
        verdict = Verdict(
            intent="unlearn",
            confidence=1.0,
            target=target,
            pairs=list(pairs or []),
            source="history" if pairs else "probe",
        )
        with self._lock:
            reply = self._unlearning().run(verdict, t0, {}, [])
        reply.timings["total"] = time.perf_counter() - t0
        return reply

    # -- routing ---------------------------------------------------------------------------------
    def _route(self, message: str, history: list[dict] | None, t0: float, max_new_tokens: int) -> Reply:
        pairs = self._context_pairs(history)
        msgs = as_messages(pairs)
        # "that", "what you just told me": in the conversation the client sent, else the last answers this
        # session gave (a stateless client that sends one message points at the scope's last answer)
        seen = msgs if history is None or pairs else as_messages(self._context_pairs(None))
        verdict = self.watchdog.inspect(seen, message)
        timings = {"watchdog": verdict.latency_s}
        if verdict.intent == "chat":
            t = time.perf_counter()
            text = self.patient.chat(message, history=msgs, max_new_tokens=max_new_tokens)
            timings["generate"] = time.perf_counter() - t
            return Reply(text=text, kind="chat", timings=timings)
        if (
            self.confirm is not None
            and verdict.source != "none"
            and not self.confirm(ask := proposal(verdict))
        ):
            return Reply(
                text=f"Nothing was changed: I still know {ask.target}.",
                kind="unlearn",
                outcome="declined",
                target=ask.target,
                timings=timings,
            )
        run = self._unlearning(message)
        try:
            return run.run(verdict, t0, timings, pairs)
        finally:
            self.turns += run.recorded  # stored with the edit, in the commit's transaction

    def _unlearning(self, message: str | None = None) -> Unlearning:
        """A forget request's pipeline over the session's parts as they are now; ``message``: the chat's
        request, recorded with the edit it commits."""
        return Unlearning(
            message=message,
            store_turns=self.session_dir is not None,
            patient=self.patient,
            surgeon=self.surgeon,
            guard=self._guard,
            turns=self.turns,
            subject=self._subject,
            stamp_overrides=self.stamp_overrides,
            probe_tokens=self.probe_tokens,
            escalate=self.escalate,
            user=self.user,
        )

    def warm(self) -> Session:
        """Do the once-per-model work before the first request instead of during it: the edit
        statistics (keep factors, refusal directions; loaded from the disk cache, or computed there once)
        and the guard questions' replies. Optional; chat, serve and the pipeline benchmark call it."""
        with self._lock:
            prepare(self.patient)
            if self._subject is not None:
                self._subject.prepare(self.patient)
            self._guard.questions(self.patient, "")
        return self
