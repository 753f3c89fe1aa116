"""The conversation loop: route each user turn, forget on request, verify, then acknowledge.

```
send(message) ─► watchdog(last k turns) ─► chat ─► patient.chat ─► reply
                          └─ unlearn ─► (probe the patient) ─► surgeon.plan ─► repair.stamp (trial)
                                         ─► verify ─► escalate once ─► ledger.commit ─► acknowledgement
```

The session never says "Done" unverified. Verification is stricter than the engine's own check: a probe
reply counts as forgotten only if the answer's key content is absent (a refusal that still names
"Paris" does not count). Failed attempts are never committed, so they never stay on the model.

Persistence (``session_dir``): the ledger and the turns live in one database, ``session_dir/ledger``
(see ``repair.edit.ledger``); ``Session.open(session_dir)`` restores both. A forgotten turn is sealed under
its edit's key in the same transaction as the edit, and the history never shows its text.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from repair.agents.surgeon import Surgeon
from repair.agents.watchdog import Verdict, Watchdog, probe_prompts
from repair.control import Confirm, context_turns, mark_stale, proposal
from repair.edit.answers import SHORT_RESPONSE_WORDS, WORD, answer_head, checked_answer, key_answers
from repair.edit.ledger import Ledger, LedgerBusyError, public_turn
from repair.edit.stamp import StampConfig, prepare
from repair.edit.verify import GuardQuestion, guard_questions, guard_verdict, probe_with_guard
from repair.eval.metrics import answer_match, is_refusal, rouge_l
from repair.session_files import read_history as _read_history
from repair.session_files import saved_model as _saved_model
from repair.subject_request import SubjectEngine, subject_failure, subject_summary
from repair.subject_request import check as check_subject_edit

log = logging.getLogger(__name__)

ROUGE_THRESHOLD = 0.3  # long answers (biographies): gone when recall-ROUGE-L against r_f is below this
MAX_FORGET_PAIRS = 3  # extra pairs about the same target (other history turns, probe answers)

# The retain guard: general questions whose answers an edit must not take away. The ones the model
# answers correctly before the first edit are asked again with each candidate edit applied; an edit
# that loses more than a third of them is not committed (a large α can turn the model to gibberish,
# which "forgets" everything).
GUARD: list[tuple[str, list[str]]] = [
    ("How many legs does a spider have?", ["eight", "8"]),
    ("What color is the sky on a clear day?", ["blue"]),
    ("How many days are there in a week?", ["seven", "7"]),
    ("What is 2 plus 2?", ["4", "four"]),
    ("What is the opposite of hot?", ["cold"]),
    ("What is the main language spoken in the United States?", ["English"]),
    ("How many sides does a triangle have?", ["three", "3"]),
    ("What do bees make?", ["honey"]),
    ("What is frozen water called?", ["ice"]),
    ("What animal says meow?", ["cat"]),
]
VERIFY_TOKENS = 32

Outcome = Literal["done", "partial", "failed", "unknown_target", "no_target", "declined"]
Engine = Literal["stamp", "stamp2"]
ENGINES: tuple[str, ...] = Engine.__args__  # type: ignore[attr-defined]  # the one list of engine names


class Reply(BaseModel):
    """What the session answers to one user message."""

    text: str
    kind: Literal["chat", "unlearn", "error"]
    outcome: Outcome | None = None  # for kind "unlearn"
    edit_id: str | None = None
    target: str | None = None
    verification: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None  # how the repair was planned (source, settings, python snippet)
    timings: dict[str, float] = Field(default_factory=dict)
    error: str | None = None  # machine-readable reason for kind "error": "empty", "too_long", "busy", "internal"


# ----------------------------------------------------------------------------------------------------
# Verification
# ----------------------------------------------------------------------------------------------------
def reply_leaks(reply: str, response: str, keys: list[str]) -> bool:
    """Whether ``reply`` still gives the forgotten content: any key answer (a refusal that still names
    it leaks); without keys, most of a long response (ROUGE-L), or a short one verbatim. With keys,
    ROUGE-L is not used: a wrong answer in the same template ("The capital of Egypt is …") shares most
    words with the right one."""
    if keys:
        return any(answer_match(reply, k) or answer_match(reply, answer_head(k)) for k in keys)
    if len(WORD.findall(response)) > SHORT_RESPONSE_WORDS:
        return not is_refusal(reply) and rouge_l(reply, response) >= ROUGE_THRESHOLD
    return answer_match(reply, response)


def stated_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (prompt, reply) pairs in which the model stated something: empty replies and refusals hold
    nothing to forget."""
    return [(p, r) for p, r in pairs if r.strip() and not is_refusal(r)]


def score_replies(probes: list[dict[str, Any]], response: str, keys: list[str]) -> dict[str, Any]:
    """Re-score the engine's probe replies with the session's stricter criterion."""
    per = [
        {"prompt": p["prompt"], "reply": p["reply"], "forgotten": not reply_leaks(p["reply"], response, keys),
         "refusal": is_refusal(p["reply"])}
        for p in probes
    ]
    n = max(len(per), 1)
    return {
        "forgotten": bool(per) and all(x["forgotten"] for x in per),
        "fraction": sum(x["forgotten"] for x in per) / n,
        "refusal_rate": sum(x["refusal"] for x in per) / n,
        "keys": keys,
        "probes": per,
    }


def _layer_text(layers: list[int]) -> str:
    if not layers:
        return "no layers"
    if len(layers) == 1:
        return f"layer {layers[0]}"
    if layers == list(range(layers[0], layers[-1] + 1)):
        return f"layers {layers[0]}-{layers[-1]}"
    return "layers " + ",".join(map(str, layers))


def display_target(target: str) -> str:
    """A target as the acknowledgement names it: a question-shaped one ('What gas do plants absorb') is
    quoted, so the sentence around it still reads."""
    t = target.strip().rstrip("?.! ")
    if t.lower().startswith("my "):
        return "your " + t[3:]
    if re.match(r"^(?:what|who|whom|which|when|where|why|how)\b", t, re.I):
        return f"“{t[0].lower()}{t[1:]}”"
    return t


def short_id(edit_id: str) -> str:
    """The random suffix of an edit id; the ledger resolves it (``undo``) like the full id."""
    return edit_id.rsplit("-", 1)[-1]


# ----------------------------------------------------------------------------------------------------
# The session
# ----------------------------------------------------------------------------------------------------
class Session:
    """A chat with a patient that forgets on request. Thread-safe: one lock serialises every turn.

    ``watchdog``/``surgeon`` default to the MiniLM watchdog and the deterministic planner (fast);
    see ``llm_surgeon()`` for the Qwen surgeon. ``k``: turns of history the watchdog and the chat see.
    ``confirm``: asked with a `repair.control.Proposal` before the weights change (None: no question).
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
        guard_budget: Literal["base", "each"] = "base",
        engine: Engine = "stamp",
    ) -> None:
        if k < 1:
            raise ValueError("k must be at least 1")
        if guard_budget not in ("base", "each"):
            raise ValueError(f"guard_budget must be 'base' or 'each', not {guard_budget!r}")
        # "base": the check questions the model answered when the session first asked them are one budget
        # for all its edits (a third may be lost in all); "each": every edit may lose a third of what is
        # left, so a long session could wear them down edit by edit.
        self.guard_budget = guard_budget
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        # "stamp2": a named subject is mapped onto the model's refusal (see subject_request); requests that
        # name none ("forget what you just said") still go through STAMP.
        self.engine = engine
        self._subject = SubjectEngine() if engine == "stamp2" else None
        self._guard_base: list[GuardQuestion] | None = None
        # StampConfig fields applied on top of every plan (e.g. {"alpha_margin": 1.5}): checked now, not mid-request
        self.stamp_overrides = StampConfig.model_validate(stamp_overrides or {}).model_dump(
            include=set(stamp_overrides or {}))
        self.patient = patient
        self.k = k
        self.watchdog = watchdog or Watchdog(k=k)
        self.surgeon = surgeon or Surgeon()
        self.max_new_tokens = max_new_tokens
        self.probe_tokens = probe_tokens
        self.escalate = escalate
        self.user = user
        self.turns: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self.session_dir = Path(session_dir) if session_dir is not None else None
        if self.session_dir is not None:
            self.session_dir.mkdir(parents=True, exist_ok=True)
            self._attach_ledger(self.session_dir / "ledger")
            self._load_history()

    @classmethod
    def open(cls, session_dir: str | Path, model: str | None = None, dtype: str | None = None,
             **kwargs: Any) -> Session:
        """Load the patient with the session's ledger (re-applying its edits) and the saved turns.
        ``dtype``: the weights' dtype (see ``repair.load``); the ledger's deltas apply to any."""
        import repair

        session_dir = Path(session_dir)
        saved = _read_history(session_dir / "history.json")  # a session from before the database
        name = model or (saved or {}).get("model") or _saved_model(session_dir) or "smollm2-135m-instruct"
        patient = repair.load(name, ledger=session_dir / "ledger", dtype=dtype)
        return cls(patient, session_dir=session_dir, **kwargs)

    # -- persistence -----------------------------------------------------------------------------
    def _attach_ledger(self, root: Path) -> None:
        led = self.patient.ledger
        if led.root is not None and led.root.resolve() == root.resolve():
            return
        if led.active:
            raise ValueError(
                f"the patient already carries {len(led.active)} edit(s) from ledger {led.root}; load it with "
                f"repair.load(name, ledger={str(root)!r}) or use Session.open(session_dir)"
            )
        # A clean patient: give it the session's ledger and re-apply the edits stored there.
        self.patient.ledger = Ledger(self.patient.model, self.patient.arch, self.patient.fingerprint, root,
                                     aliases=getattr(self.patient, "fingerprint_aliases", ()))
        self.patient.ledger.load()

    def _load_history(self) -> None:
        assert self.session_dir is not None
        ledger = self.patient.ledger
        assert ledger.store is not None and ledger.history is not None
        legacy = self.session_dir / "history.json"
        saved = _read_history(legacy)
        model = (saved or {}).get("model") or _saved_model(self.session_dir)
        if model not in (None, self.patient.name):
            raise ValueError(f"session {self.session_dir} belongs to model {model!r}, not {self.patient.name!r}")
        if saved is not None:
            from repair.edit.ledger.migrate import migrate_history

            migrate_history(ledger.store, legacy)
        if model is None:
            with ledger.store.write() as conn:
                ledger.store.set_info(conn, "model", self.patient.name)
        self.turns = ledger.history.load()
        for m in ledger.list(include_undone=True):  # replies given while an undone edit was on stay out
            if m["status"] == "undone":
                mark_stale(self.turns, m)

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
        return (f"The message is too long: {n} tokens, and this model reads at most {ctx} (with {self.max_new_tokens} "
                "kept for the reply). Please shorten it.")

    def sync(self) -> bool:
        """Catch up with the ledger's database (an edit, undo or purge made by another process): the
        weights, and the turns whose visibility it changed. Cheap when nothing changed."""
        with self._lock:
            changed = self.patient.ledger.sync()
            if changed and self.patient.ledger.history is not None:
                self.turns = self.patient.ledger.history.load()
            return changed

    # -- context ---------------------------------------------------------------------------------
    def _context_pairs(self, history: list[dict] | None) -> list[tuple[str, str]]:
        """(user, assistant) chat pairs the patient and watchdog may see: no acknowledgements and no
        forgotten turns (the model would otherwise copy a forgotten answer from its context)."""
        hidden = {
            (u["content"], a["content"])
            for u, a in zip(self.turns, self.turns[1:], strict=False)
            if u["role"] == "user" and a["role"] == "assistant"
            and (u.get("kind") != "chat" or u.get("redacted_by") or a.get("redacted_by"))
        }
        if history is None:
            turns = context_turns(self.turns, self._context_from)
            source = [t for t in turns if t.get("kind") == "chat" and not t.get("redacted_by")]
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

    @staticmethod
    def _messages(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for u, a in pairs:
            out += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
        return out

    def _record(self, message: str, reply: Reply) -> None:
        now = time.time()
        kind = reply.kind
        self.turns.append({"role": "user", "content": message, "kind": kind, "time": now})
        turn: dict[str, Any] = {"role": "assistant", "content": reply.text, "kind": kind, "time": now}
        if reply.edit_id:
            turn["edit_id"] = reply.edit_id
        if reply.outcome:
            turn["outcome"] = reply.outcome
        self.turns.append(turn)
        history = self.patient.ledger.history if self.session_dir is not None else None
        if history is not None:
            # a forget request and its acknowledgement name what was forgotten: sealed under the edit's key
            ids = history.append(self.turns[-2:], seal_by=reply.edit_id)
            for t, tid in zip(self.turns[-2:], ids, strict=True):
                t["id"] = tid
                if reply.edit_id:
                    t["sealed_by"] = reply.edit_id

    # -- public ----------------------------------------------------------------------------------
    @property
    def history(self) -> list[dict[str, Any]]:
        """The turns as they may be shown: a forgotten turn (hidden by an active edit, or whose edit's
        key was purged) and a forget request of an active edit keep their place but read FORGOTTEN."""
        self.sync()
        active = {e.id for e in self.patient.ledger.active}
        return [public_turn(t, active) for t in self.turns]

    def edits(self, include_undone: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            self.sync()
            return self.patient.ledger.list(include_undone=include_undone)

    def undo(self, edit_id: str) -> dict[str, Any]:
        """Undo an edit exactly; the turns it had hidden come back into the context. KeyError if unknown."""
        with self._lock:
            self.sync()
            manifest = self.patient.ledger.undo(edit_id)  # gives the turns back in the same transaction
            for t in self.turns:
                if t.get("redacted_by") == manifest["id"]:
                    t.pop("redacted_by")
            mark_stale(self.turns, manifest)  # the edited model's replies leave the context
            return manifest

    def reset(self) -> None:
        """Clear the context: later turns see none of the earlier ones (they stay in the history)."""
        with self._lock:
            self._context_from = len(self.turns)

    def send(self, message: str, history: list[dict] | None = None, max_new_tokens: int | None = None) -> Reply:
        """Answer one user message. ``history``: the conversation so far as OpenAI-style messages
        (e.g. from an HTTP client); default: the session's own turns. ``max_new_tokens``: for a chat reply."""
        t0 = time.perf_counter()
        if not isinstance(message, str) or not message.strip():
            return Reply(text="Empty message: type a question, or ask me to forget something.", kind="error",
                         error="empty")
        message = message.strip()
        too_long = self._too_long(message)
        if too_long:
            return Reply(text=too_long, kind="error", error="too_long")
        with self._lock:
            try:
                self.sync()
                reply = self._route(message, history, t0, max_new_tokens or self.max_new_tokens)
            except LedgerBusyError as e:
                return Reply(text=f"Another edit of this model is in progress; try again in a moment. ({e})",
                             kind="error", error="busy", timings={"total": time.perf_counter() - t0})
            except Exception as e:  # one bad turn must not end the conversation
                log.exception("session turn failed")
                return Reply(text=f"Something went wrong on my side: {type(e).__name__}: {e}", kind="error",
                             error="internal", timings={"total": time.perf_counter() - t0})
            reply.timings["total"] = time.perf_counter() - t0
            self._record(message, reply)
            return reply

    def forget(self, target: str, pairs: list[tuple[str, str]] | None = None) -> Reply:
        """Forget ``target`` as if the watchdog had understood the request: with ``pairs`` (what the model
        said, e.g. a history turn), those; without, the patient is asked about ``target`` first. The
        rest (plan, verified edit, commit) is what a chat request does; no turn is recorded."""
        t0 = time.perf_counter()
        verdict = Verdict(intent="unlearn", confidence=1.0, target=target, pairs=list(pairs or []),
                          source="history" if pairs else "probe")
        with self._lock:
            reply = self._unlearn(verdict, t0, {}, [])
        reply.timings["total"] = time.perf_counter() - t0
        return reply

    # -- routing ---------------------------------------------------------------------------------
    def _route(self, message: str, history: list[dict] | None, t0: float, max_new_tokens: int) -> Reply:
        pairs = self._context_pairs(history)
        msgs = self._messages(pairs)
        verdict = self.watchdog.inspect(msgs, message)
        timings = {"watchdog": verdict.latency_s}
        if verdict.intent == "chat":
            t = time.perf_counter()
            text = self.patient.chat(message, history=msgs, max_new_tokens=max_new_tokens)
            timings["generate"] = time.perf_counter() - t
            return Reply(text=text, kind="chat", timings=timings)
        if self.confirm is not None and verdict.source != "none" and not self.confirm(ask := proposal(verdict)):
            return Reply(text=f"Nothing was changed: I still know {ask.target}.", kind="unlearn",
                         outcome="declined", target=ask.target, timings=timings)
        return self._unlearn(verdict, t0, timings, pairs)

    def _unlearn(self, verdict: Verdict, t0: float, timings: dict[str, float],
                 context: list[tuple[str, str]]) -> Reply:
        target = verdict.target
        pairs = list(verdict.pairs)
        if verdict.source == "none" or (not pairs and not target):
            return Reply(
                kind="unlearn", outcome="no_target", timings=timings,
                text="I could not tell what to forget. Name it (\"forget everything about Maya Taylor\"), or ask "
                     "right after the answer you want removed (\"forget what you just said\").",
            )  # fmt: skip
        if not pairs and target and target.lower().startswith("my "):
            # The user's own data reaches a model only through the conversation (chatting does not train
            # its weights), and the conversation has none of it.
            return Reply(kind="unlearn", outcome="unknown_target", target=target, timings=timings,
                         text=f"I have nothing stored about {display_target(target)}, so there is nothing to remove.")
        if not pairs:
            # Nothing in the history: ask the patient itself what it would say (one batched call).
            t = time.perf_counter()
            probes = verdict.probes or probe_prompts(target or "")
            answers = self.patient.generate(probes, max_new_tokens=self.probe_tokens)
            pairs = list(zip(probes, answers, strict=True))
            timings["probe"] = time.perf_counter() - t
        pairs = stated_pairs(pairs)
        target = display_target(target) if target else "that"
        if not pairs:
            return Reply(kind="unlearn", outcome="unknown_target", target=target, timings=timings,
                         text=f"I have nothing stored about {target}, so there is nothing to remove.")
        return self._repair(target, pairs[: 1 + MAX_FORGET_PAIRS], verdict, t0, timings, context)

    def _repair(self, target: str, pairs: list[tuple[str, str]], verdict: Verdict, t0: float,
                timings: dict[str, float], context: list[tuple[str, str]]) -> Reply:
        if self._subject is not None and verdict.target:
            reply = self._repair_subject(verdict.target, target, pairs, verdict, t0, timings)
            if reply is not None:
                return reply
        prompt, response = pairs[0]
        t = time.perf_counter()
        res = self.surgeon.plan(prompt, response, subject=verdict.target,
                                n_layers=self.patient.n_layers)
        timings["plan"] = time.perf_counter() - t
        plan = res.plan
        kwargs = plan.to_stamp_kwargs()
        kwargs["forget"] = pairs  # every pair found about the target, primary first
        kwargs.update(self.stamp_overrides)
        keys = key_answers(prompt, response)
        answer = checked_answer(prompt, response)  # what the engine's own α search checks
        plan_info = {
            "source": res.source, "method": plan.method, "layers": plan.layers, "maps": plan.maps,
            "alpha": plan.alpha, "lam": plan.lam, "solver": plan.solver, "paraphrases": plan.paraphrases,
            "errors": res.errors, "python": plan.to_python(self.patient.name), "forget": pairs,
        }  # fmt: skip

        guard, guard_total = self._guard_budgeted(response)
        # The question is also asked inside the conversation as it will continue (forgotten turns hidden):
        # earlier turns change the activations the edit is keyed on, so a context-free check is not enough.
        rest = [p for p in context if p not in set(pairs)]
        in_chat = ([prompt] + plan.paraphrases[:1], self._messages(rest)) if rest else None
        attempts: list[tuple[Any, dict[str, Any]]] = []
        t = time.perf_counter()
        attempts.append(self._attempt(kwargs, response, keys, answer, guard, guard_total, in_chat))
        if self.escalate and not attempts[-1][1]["forgotten"]:
            attempts.append(self._attempt(self._stronger(kwargs, attempts[-1][0]), response, keys, answer, guard,
                                          guard_total, in_chat))
        timings["edit"] = time.perf_counter() - t
        plan_info["attempts"] = [
            {"alpha": e.meta.get("alpha"), "layers": e.meta.get("layers"), "fraction": v["fraction"],
             "guard": v["guard"]}
            for e, v in attempts
        ]

        # The best attempt that leaves unrelated answers alone; on a tie the first (milder) one.
        safe = [i for i, (_, v) in enumerate(attempts) if v["guard"]["ok"]]
        alpha_max = max(float(e.meta.get("alpha") or 0) for e, _ in attempts)
        if not safe:
            worst = min(attempts, key=lambda a: a[1]["guard"]["kept"])[1]
            spent = (f" Earlier edits in this session already cost {guard_total - len(guard)} of them; undo one to "
                     "free the budget.") if len(guard) < guard_total else ""
            return Reply(
                kind="unlearn", outcome="failed", target=target, verification=worst, plan=plan_info,
                timings=timings,
                text=f"Could not remove: every edit strong enough to remove information related to {target} also "
                     f"broke unrelated answers ({worst['guard']['kept']} of {worst['guard']['total']} check "
                     f"questions kept). Nothing was changed.{spent}",
            )  # fmt: skip
        edit, ver = attempts[max(safe, key=lambda i: (attempts[i][1]["fraction"], -i))]
        if ver["fraction"] == 0:
            # Nothing was forgotten: commit nothing, so no useless change stays on the model.
            return Reply(
                kind="unlearn", outcome="failed", target=target, verification=ver, plan=plan_info, timings=timings,
                text=f"Could not remove: the model still states information related to {target} after "
                     f"{len(attempts)} attempt(s) (α up to {alpha_max:g}). Nothing was changed.",
            )  # fmt: skip
        t = time.perf_counter()
        guard_after = edit.meta.pop("guard_after", None)
        self.patient.ledger.commit(edit, verification=ver, target=target, plan_source=res.source,
                                   request_source=verdict.source, redact_turns=self._turn_ids(pairs))
        if guard_after is not None:  # checked on exactly this edit: the next request need not ask again
            self.patient.cache[self._guard_key()] = guard_after
        timings["commit"] = time.perf_counter() - t
        self._redact(pairs, edit.id)
        elapsed = time.perf_counter() - t0
        where = f"(edit {short_id(edit.id)}, {_layer_text(list(edit.meta.get('layers') or edit.layers))}, {elapsed:.1f} s)"
        if ver["forgotten"]:
            text = f"Done. Information related to {target} has been removed. {where}"
            outcome: Outcome = "done"
        else:
            left = [p["prompt"] for p in ver["probes"] if not p["forgotten"]]
            n = len(ver["probes"])
            text = (f"Partly removed: information related to {target} is gone for {n - len(left)} of {n} test "
                    f"questions, but {left[0]!r} still gets it. {where}")
            outcome = "partial"
        return Reply(text=text, kind="unlearn", outcome=outcome, edit_id=edit.id, target=target,
                     verification=ver, plan=plan_info, timings=timings)

    def _attempt(self, kwargs: dict[str, Any], response: str, keys: list[str], answer: str,
                 guard: list[GuardQuestion], guard_total: int, in_chat: tuple[list[str], list[dict]] | None
                 ) -> tuple[Any, dict[str, Any]]:
        """One uncommitted edit. The engine's α search calls ``check`` with each candidate applied, so
        the edit returned is the one verified: the forget prompts, their rewordings and the in-chat
        questions must not give the answer (strict), and the guard questions must still be answered
        (a teacher-forced forward; generation only where it is not conclusive)."""
        import repair

        probes = [p for p, _ in kwargs["forget"]] + list(kwargs.get("paraphrases") or [])
        chat_qs, chat_ctx = in_chat or ([], [])
        survivors: list[GuardQuestion] = []  # of the last full check: the edit returned is the one checked

        def check(quick: bool = False) -> dict[str, Any]:
            # quick: a search step: the batch stops at the first leak (see verify.forgot); a "forgotten"
            # verdict is complete either way. The guard questions ride in the probes' decoding loop. The
            # in-chat questions carry the whole conversation (hundreds of tokens), so they get a batch of
            # their own rather than padding every probe to their length, and only once the bare probes pass.
            outs, kept = probe_with_guard(self.patient, probes, lambda r: reply_leaks(r, response, keys), guard,
                                          quick=quick, max_new_tokens=VERIFY_TOKENS)
            replies = [{"prompt": q, "reply": o} for q, o in zip(probes, outs, strict=True)]
            ver = score_replies(replies, response, keys)
            if chat_qs and ver["forgotten"]:
                outs = self.patient.generate(chat_qs, histories=[chat_ctx] * len(chat_qs), max_new_tokens=VERIFY_TOKENS)
                replies += [{"prompt": f"{q} (in the chat)", "reply": o} for q, o in zip(chat_qs, outs, strict=True)]
                ver = score_replies(replies, response, keys)
            survivors[:] = kept if kept is not None else guard  # None: a leak cut the batch, nothing decided
            ver["guard"] = guard_verdict(len(survivors), guard_total)
            ver["final"] = not ver["guard"]["ok"]  # a stronger edit would only break more
            return ver

        edit = repair.stamp(self.patient, commit=False, verify=True, answer=answer, requested_by=self.user,
                            check=check, **kwargs)
        edit.meta["guard_after"] = list(survivors)  # not persisted: the ledger copies meta at commit
        return edit, edit.meta["verification"]

    def _guard_set(self, response: str) -> list[GuardQuestion]:
        """Check questions the model answers right now (see ``guard_questions``), minus any the request
        is about (forgetting 'there are seven days in a week' may well change that answer). Asked once per
        patient state, cached on the patient."""
        key = self._guard_key()
        if key not in self.patient.cache:
            self.patient.cache[key] = guard_questions(self.patient, [q for q, _ in GUARD], [g for _, g in GUARD],
                                                      VERIFY_TOKENS)
        if self._guard_base is None:  # the state the session's budget counts from
            self._guard_base = list(self.patient.cache[key])
        return [g for g in self.patient.cache[key] if not answer_match(response, g.golds)]

    def _guard_budgeted(self, response: str) -> tuple[list[GuardQuestion], int]:
        """The guard set for this request and the count its kept share is measured against."""
        guard = self._guard_set(response)
        total = len(guard)
        if self.guard_budget == "base" and self._guard_base is not None:  # filtered like _guard_set's answer
            total = sum(not answer_match(response, g.golds) for g in self._guard_base)
        return guard, total

    def _repair_subject(self, subject: str, target: str, pairs: list[tuple[str, str]], verdict: Verdict,
                        t0: float, timings: dict[str, float]) -> Reply | None:
        """Engine "stamp2": one edit keyed on the subject, checked on the request's questions and the
        usual ones about the subject, each reply labelled as the user would read it. None: the words
        name nothing the edit can key on (the caller falls back to STAMP)."""
        from repair.edit.stamp2.edit import NoMentionError

        prompt, response = pairs[0]
        keys = key_answers(prompt, response)
        guard, guard_total = self._guard_budgeted(response)
        probes = list(dict.fromkeys([p for p, _ in pairs] + probe_prompts(subject)))
        t = time.perf_counter()
        try:
            edit = self._subject.edit(self.patient, subject, [p for p, _ in pairs])
        except NoMentionError:
            return None
        ver, kept = check_subject_edit(self.patient, edit, probes, lambda r: reply_leaks(r, response, keys),
                                       guard, guard_total, keys, VERIFY_TOKENS)
        timings["edit"] = time.perf_counter() - t
        plan = {"source": "stamp2", "method": "stamp2", "layers": edit.layers, "subject": subject,
                "forget": pairs}
        record = ver.as_dict()
        fail = subject_failure(ver, target)
        if fail:
            return Reply(kind="unlearn", outcome="failed", target=target, verification=record, plan=plan,
                         timings=timings, text=fail)
        t = time.perf_counter()
        self.patient.ledger.commit(edit, verification=record, target=target, plan_source="stamp2",
                                   request_source=verdict.source, redact_turns=self._turn_ids(pairs))
        self.patient.cache[self._guard_key()] = kept
        timings["commit"] = time.perf_counter() - t
        self._redact(pairs, edit.id)
        where = f"(edit {short_id(edit.id)}, {_layer_text(edit.layers)}, {time.perf_counter() - t0:.1f} s)"
        outcome: Outcome = "done" if ver.refused else "partial"
        return Reply(text=f"{subject_summary(ver, target)} {where}", kind="unlearn", outcome=outcome,
                     edit_id=edit.id, target=target, verification=record, plan=plan, timings=timings)

    def _guard_key(self) -> tuple:
        return ("guard", tuple(e.id for e in self.patient.ledger.active))

    def warm(self) -> Session:
        """Do the once-per-model work before the first request instead of during it: the edit
        statistics (keep factors, refusal directions; loaded from the disk cache, or computed there once)
        and the guard questions' replies. Optional; chat, serve and the pipeline benchmark call it."""
        with self._lock:
            prepare(self.patient)
            if self._subject is not None:
                self._subject.prepare(self.patient)
            self._guard_set("")
        return self

    def _stronger(self, kwargs: dict[str, Any], edit: Any) -> dict[str, Any]:
        """The one escalation: the α search goes on above the α that was reached, or, at the engine's
        maximum already, runs again on a wider layer band."""
        cfg = StampConfig.model_validate(edit.meta.get("config") or {})
        amax, growth = cfg.alpha_max, cfg.alpha_growth
        alpha = float(edit.meta.get("alpha") or amax)
        out = dict(kwargs)
        if alpha * growth <= amax:
            out.update(alpha="auto", alpha_start=alpha * growth)
        else:
            layers = list(edit.meta.get("layers") or edit.layers)
            n = self.patient.n_layers
            out.update(layers=list(range(max(layers[0] - 2, 0), min(layers[-1] + 3, n))), alpha="auto")
        return out

    def _forgotten_turns(self, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
        wanted = set(pairs)
        out: list[dict[str, Any]] = []
        for u, a in zip(self.turns, self.turns[1:], strict=False):
            if u["role"] == "user" and a["role"] == "assistant" and (u["content"], a["content"]) in wanted:
                out += [u, a]
        return out

    def _turn_ids(self, pairs: list[tuple[str, str]]) -> list[int]:
        """The stored turns an edit of ``pairs`` forgets (sealed and hidden in the edit's own commit)."""
        return [t["id"] for t in self._forgotten_turns(pairs) if "id" in t]

    def _redact(self, pairs: list[tuple[str, str]], edit_id: str) -> None:
        """Hide the forgotten turns from later context (they stay in the log, sealed and marked)."""
        for t in self._forgotten_turns(pairs):
            t["redacted_by"] = t["sealed_by"] = edit_id


def llm_surgeon(model: str = "qwen2.5-coder-0.5b-instruct", max_new_tokens: int = 200,
                dtype: str | None = "auto") -> Surgeon:
    """The LLM surgeon over a bundled Qwen2.5-Coder (the paper's surgeon family); slower than the rules.
    ``dtype`` "auto": bfloat16 where native (its plan decodes about twice as fast on a CPU)."""
    import repair
    from repair.agents.watchdog import hf_generate_fn

    llm = repair.load(model, ledger=False, dtype=dtype)
    return Surgeon(generate_fn=hf_generate_fn(llm.model, llm.tokenizer, max_new_tokens=max_new_tokens))


SurgeonFactory = Callable[..., Surgeon]
SURGEONS: dict[str, SurgeonFactory] = {"rule": lambda dtype=None: Surgeon(), "llm": llm_surgeon}


def make_surgeon(name: str, dtype: str | None = "auto") -> Surgeon:
    """A surgeon by name ("rule" or "llm"); the LLM surgeon loads its model in ``dtype``, so that a
    run with ``--dtype float32`` keeps both models in float32."""
    if name not in SURGEONS:
        raise ValueError(f"unknown surgeon {name!r} ({' or '.join(SURGEONS)})")
    return SURGEONS[name](dtype=dtype)
