"""One forget request, from the watchdog's verdict to a verified, committed edit (or none).

```
verdict ─► (probe the patient) ─► surgeon.plan ─► repair.stamp (trial) ─► verify ─► escalate once
        │                                                                       ─► ledger.commit
        └─ engine "stamp2", a named subject: one STAMP-2 edit, checked as the user will see it ─┘
```

Failed attempts are never committed, so they never stay on the model. A committed edit seals and
hides the turns it forgets in the same transaction.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from repair.agents.surgeon import Surgeon
from repair.agents.watchdog import Verdict, probe_prompts
from repair.edit.answers import checked_answer, key_answers
from repair.edit.criterion import reply_leaks
from repair.edit.delta import Edit
from repair.edit.ledger.files import LedgerChangedError
from repair.edit.ledger.history import Turn
from repair.edit.record import Verification
from repair.edit.stamp import StampConfig, stamp
from repair.edit.stamp.guard import guard_kept_count
from repair.edit.verify import GuardQuestion, guard_verdict, probe_with_guard
from repair.session import texts
from repair.session.control import as_messages, exchange
from repair.session.guard import GuardBudget, guard_key
from repair.session.reply import Attempt, Outcome, Reply, ReplyPlan
from repair.session.subject import SubjectEngine, subject_failure, subject_summary
from repair.session.subject import check as check_subject_edit
from repair.session.verify import VERIFY_TOKENS, score_replies, stated_pairs

MAX_FORGET_PAIRS = 3  # extra pairs about the same target (other history turns, probe answers)
MAX_TRIES = 2  # an edit made again when the model changed under it (see ``Unlearning.run``), then refused
Pair = tuple[str, str]
log = logging.getLogger(__name__)


def forgotten_turns(turns: list[Turn], pairs: list[Pair]) -> list[Turn]:
    """The stored (user, assistant) turns whose texts are one of ``pairs``."""
    wanted = set(pairs)
    out: list[Turn] = []
    for u, a in zip(turns, turns[1:], strict=False):
        if u.role == "user" and a.role == "assistant" and (u.content, a.content) in wanted:
            out += [u, a]
    return out


def turn_ids(turns: list[Turn], pairs: list[Pair]) -> list[int]:
    """The stored turns an edit of ``pairs`` forgets (sealed and hidden in the edit's own commit)."""
    return [t.id for t in forgotten_turns(turns, pairs) if t.id is not None]


def redact(turns: list[Turn], pairs: list[Pair], edit_id: str) -> None:
    """Hide the forgotten turns from later context (they stay in the log, sealed and marked)."""
    for t in forgotten_turns(turns, pairs):
        t.redacted_by = t.sealed_by = edit_id


@dataclass
class Request:
    """One forget request once resolved: what to forget, and what it has taken so far."""

    verdict: Verdict
    target: str  # as the acknowledgement names it
    pairs: list[Pair]  # what the model said about it, primary first
    context: list[Pair]  # the chat pairs the conversation goes on with
    t0: float
    timings: dict[str, float]

    def reply(self, outcome: Outcome, text: str, **fields: Any) -> Reply:
        return Reply(
            kind="unlearn", outcome=outcome, target=self.target, timings=self.timings, text=text, **fields
        )

    def where(self, edit_id: str, layers: list[int]) -> str:
        return texts.where(edit_id, layers, time.perf_counter() - self.t0)


@dataclass
class Trial:
    """What each candidate STAMP edit of one request is checked on (see ``Unlearning._attempt``)."""

    response: str  # what the model said: the content that must go
    keys: list[str]  # its key answers (see ``reply_leaks``)
    answer: str  # what the engine's own α search checks
    guard: list[GuardQuestion]
    guard_total: int  # the count the guard's kept share is measured against
    in_chat: tuple[list[str], list[dict]] | None  # questions asked inside the conversation, and it


def plan_info(res: Any, model: str, pairs: list[Pair]) -> ReplyPlan:
    """How the repair was planned, as the reply shows it."""
    plan = res.plan
    return ReplyPlan(
        source=res.source, method=plan.method, layers=plan.layers, maps=plan.maps, alpha=plan.alpha,
        lam=plan.lam, solver=plan.solver, paraphrases=plan.paraphrases, errors=res.errors,
        python=plan.to_python(model), forget=pairs,
    )  # fmt: skip


def attempt_info(edit: Edit, ver: Verification) -> Attempt:
    return Attempt(alpha=edit.meta.alpha, layers=edit.meta.layers, fraction=ver.fraction, guard=ver.guard)


@dataclass(frozen=True)
class Tried:
    """One uncommitted STAMP attempt: the edit, its verdict and the guard questions it left answered
    (the next request's guard set if it is committed)."""

    edit: Edit
    verification: Verification
    guard_after: list[GuardQuestion]


@dataclass
class Unlearning:
    """One forget request with the session's parts as they are when it comes (the server swaps them)."""

    patient: Any
    surgeon: Surgeon
    guard: GuardBudget
    turns: list[Turn]  # the session's own: the forgotten ones are sealed and hidden
    subject: SubjectEngine | None = None  # engine "stamp2"
    stamp_overrides: dict[str, Any] = field(default_factory=dict)
    probe_tokens: int = 48
    escalate: bool = True
    user: str = "session"
    based_on: tuple[str, ...] | None = None  # the ledger's state the edit in progress is made on
    message: str | None = None  # the chat's request: its turns are committed with the edit (None: no turn)
    store_turns: bool = False  # the session keeps its turns in the ledger's database
    recorded: list[Turn] = field(default_factory=list)  # the request's turns, once committed

    def run(self, verdict: Verdict, t0: float, timings: dict[str, float], context: list[Pair]) -> Reply:
        """Resolve what to forget (the verdict's pairs, or the patient's answers to probe questions),
        then repair it. ``context``: the chat pairs the conversation goes on with."""
        target = verdict.target
        pairs = list(verdict.pairs)
        if verdict.source == "none" or (not pairs and not target):
            return Reply(kind="unlearn", outcome="no_target", timings=timings, text=texts.NO_TARGET)
        if not pairs and target and target.lower().startswith("my "):
            # The user's own data reaches a model only through the conversation (chatting does not train
            # its weights), and the conversation has none of it.
            return texts.nothing_stored(texts.display_target(target), timings)
        if not pairs:
            # Nothing in the history: ask the patient itself what it would say (one batched call).
            t = time.perf_counter()
            probes = verdict.probes or probe_prompts(target or "")
            answers = self.patient.generate(probes, max_new_tokens=self.probe_tokens)
            pairs = list(zip(probes, answers, strict=True))
            timings["probe"] = time.perf_counter() - t
            self.patient.between()  # nothing is edited yet: a server answers other users' chats here
        pairs = stated_pairs(pairs)
        target = texts.display_target(target) if target else "that"
        if not pairs:
            return texts.nothing_stored(target, timings)
        req = Request(verdict, target, pairs[: 1 + MAX_FORGET_PAIRS], context, t0, timings)
        for _ in range(MAX_TRIES):
            # what the edit is made and checked on: the commit refuses it if another process's commit or
            # undo changed that meanwhile (a server syncs between an edit's steps), and it is made again
            self.based_on = self.patient.ledger.state
            try:
                return self._edit(req)
            except LedgerChangedError as e:
                log.info("%s: making the edit again", e)
        return req.reply("failed", texts.model_changed(req.target))

    def _edit(self, req: Request) -> Reply:
        if self.subject is not None and req.verdict.target:
            reply = self._subject_edit(req, req.verdict.target)
            if reply is not None:
                return reply
        return self._stamp(req)

    def _stamp(self, req: Request) -> Reply:
        """STAMP: the surgeon's plan, then up to two verified attempts (see ``_settle``)."""
        prompt, response = req.pairs[0]
        t = time.perf_counter()
        res = self.surgeon.plan(prompt, response, subject=req.verdict.target, n_layers=self.patient.n_layers)
        req.timings["plan"] = time.perf_counter() - t
        kwargs = res.plan.to_stamp_kwargs()
        kwargs["forget"] = req.pairs  # every pair found about the target, primary first
        kwargs.update(self.stamp_overrides)
        info = plan_info(res, self.patient.name, req.pairs)
        trial = self._trial(req, res.plan.paraphrases)
        t = time.perf_counter()
        attempts = [self._attempt(kwargs, trial)]
        if self.escalate and not attempts[-1].verification.forgotten:
            attempts.append(self._attempt(self._stronger(kwargs, attempts[-1].edit), trial))
        req.timings["edit"] = time.perf_counter() - t
        info.attempts = [attempt_info(a.edit, a.verification) for a in attempts]
        return self._settle(req, attempts, trial, info)

    def _trial(self, req: Request, paraphrases: list[str]) -> Trial:
        prompt, response = req.pairs[0]
        guard, guard_total = self.guard.budgeted(self.patient, response)
        # The question is also asked inside the conversation as it will continue (forgotten turns hidden):
        # earlier turns change the activations the edit is keyed on, so a context-free check is not enough.
        rest = [p for p in req.context if p not in set(req.pairs)]
        in_chat = ([prompt] + paraphrases[:1], as_messages(rest)) if rest else None
        keys, answer = key_answers(prompt, response), checked_answer(prompt, response)
        return Trial(response, keys, answer, guard, guard_total, in_chat)

    def _settle(self, req: Request, attempts: list[Tried], trial: Trial, info: ReplyPlan) -> Reply:
        """Commit the best attempt that leaves unrelated answers alone (on a tie the first, milder one),
        unless it forgot nothing: then, as when none is safe, nothing is committed."""
        safe = [i for i, a in enumerate(attempts) if a.verification.guard_ok]
        if not safe:
            worst = min(attempts, key=lambda a: guard_kept_count(a.verification)).verification
            text = texts.broke_guard(req.target, worst, trial.guard_total - len(trial.guard))
            return req.reply("failed", text, verification=worst, plan=info)
        best = attempts[max(safe, key=lambda i: (attempts[i].verification.fraction or 0.0, -i))]
        edit, ver = best.edit, best.verification
        if not ver.fraction:
            # Nothing was forgotten: commit nothing, so no useless change stays on the model.
            alpha_max = max(a.edit.meta.alpha or 0.0 for a in attempts)
            text = texts.nothing_forgotten(req.target, len(attempts), alpha_max)
            return req.reply("failed", text, verification=ver, plan=info)
        where = req.where(edit.id, list(edit.meta.layers or edit.layers))
        outcome: Outcome = "done" if ver.forgotten else "partial"
        text = texts.removed(req.target, ver, where)
        reply = req.reply(outcome, text, edit_id=edit.id, verification=ver, plan=info)
        return self._commit(req, edit, ver, info.source, best.guard_after, reply)

    def _commit(
        self,
        req: Request,
        edit: Edit,
        ver: Verification,
        plan_source: str,
        guard_after: list[GuardQuestion] | None,
        reply: Reply,
    ) -> Reply:
        """Commit ``edit``, sealing and hiding the turns it forgets, and (a chat's request, ``message``) the
        request and ``reply``, its acknowledgement, in the same transaction: a crash leaves both or neither.
        ``guard_after``: the guard questions checked on exactly this edit, so the next request need not ask
        them again."""
        t = time.perf_counter()
        said = exchange(self.message, reply) if self.message is not None else []
        self.patient.ledger.commit(
            edit,
            verification=ver,
            target=req.target,
            plan_source=plan_source,
            request_source=req.verdict.source,
            redact_turns=turn_ids(self.turns, req.pairs),
            append_turns=said if self.store_turns else (),
            based_on=self.based_on,
        )
        self.recorded = said
        if guard_after is not None:
            self.patient.cache[guard_key(self.patient)] = guard_after
        req.timings["commit"] = reply.timings["commit"] = time.perf_counter() - t
        redact(self.turns, req.pairs, edit.id)
        return reply

    def _attempt(self, kwargs: dict[str, Any], trial: Trial) -> Tried:
        """One uncommitted edit. The engine's α search calls ``check`` with each candidate applied, so
        the edit returned is the one verified: the forget prompts, their rewordings and the in-chat
        questions must not give the answer (strict), and the guard questions must still be answered
        (a teacher-forced forward; generation only where it is not conclusive)."""
        probes = [p for p, _ in kwargs["forget"]] + list(kwargs.get("paraphrases") or [])
        chat_qs, chat_ctx = trial.in_chat or ([], [])
        survivors: list[GuardQuestion] = []  # of the last full check: the edit returned is the one checked

        def leaks(r: str) -> bool:
            return reply_leaks(r, trial.response, trial.keys)

        def check(quick: bool = False) -> Verification:
            # quick: a search step: the batch stops at the first leak (see verify.forgot); a "forgotten"
            # verdict is complete either way. The guard questions ride in the probes' decoding loop. The
            # in-chat questions carry the whole conversation (hundreds of tokens), so they get a batch of
            # their own rather than padding every probe to their length, and only once the bare probes pass.
            outs, kept = probe_with_guard(
                self.patient, probes, leaks, trial.guard, quick=quick, max_new_tokens=VERIFY_TOKENS
            )
            replies = list(zip(probes, outs, strict=True))
            ver = score_replies(replies, trial.response, trial.keys)
            if chat_qs and ver.forgotten:
                histories = [chat_ctx] * len(chat_qs)
                outs = self.patient.generate(chat_qs, histories=histories, max_new_tokens=VERIFY_TOKENS)
                replies += [(f"{q} (in the chat)", o) for q, o in zip(chat_qs, outs, strict=True)]
                ver = score_replies(replies, trial.response, trial.keys)
            survivors[:] = (
                kept if kept is not None else trial.guard
            )  # None: a leak cut the batch, nothing decided
            ver.guard = guard_verdict(len(survivors), trial.guard_total)
            ver.final = not ver.guard.ok  # a stronger edit would only break more
            return ver

        edit = stamp(
            self.patient,
            commit=False,
            verify=True,
            answer=trial.answer,
            requested_by=self.user,
            check=check,
            **kwargs,
        )
        assert edit.meta.verification is not None  # verify=True
        return Tried(edit, edit.meta.verification, list(survivors))

    def _stronger(self, kwargs: dict[str, Any], edit: Edit) -> dict[str, Any]:
        """The one escalation: the α search goes on above the α that was reached, or, at the engine's
        maximum already, runs again on a wider layer band."""
        cfg = edit.meta.stamp_config or StampConfig()
        amax, growth = cfg.alpha_max, cfg.alpha_growth
        alpha = edit.meta.alpha or amax
        out = dict(kwargs)
        if alpha * growth <= amax:
            out.update(alpha="auto", alpha_start=alpha * growth)
        else:
            layers = list(edit.meta.layers or edit.layers)
            n = self.patient.n_layers
            out.update(layers=list(range(max(layers[0] - 2, 0), min(layers[-1] + 3, n))), alpha="auto")
        return out

    def _subject_edit(self, req: Request, subject: str) -> Reply | None:
        """Engine "stamp2": one edit keyed on the subject, checked on the request's questions and the
        usual ones about the subject, each reply labelled as the user would read it. None: the words
        name nothing the edit can key on (the caller falls back to STAMP)."""
        from repair.edit.stamp2.edit import NoMentionError

        assert self.subject is not None
        prompt, response = req.pairs[0]
        keys = key_answers(prompt, response)
        guard, guard_total = self.guard.budgeted(self.patient, response)
        probes = list(dict.fromkeys([p for p, _ in req.pairs] + probe_prompts(subject)))
        t = time.perf_counter()
        try:
            edit = self.subject.edit(self.patient, subject, [p for p, _ in req.pairs])
        except NoMentionError:
            return None
        ver, kept = check_subject_edit(
            self.patient,
            edit,
            probes,
            lambda r: reply_leaks(r, response, keys),
            guard,
            guard_total,
            keys,
            VERIFY_TOKENS,
        )
        req.timings["edit"] = time.perf_counter() - t
        plan = ReplyPlan(
            source="stamp2", method="stamp2", layers=edit.layers, subject=subject, forget=req.pairs
        )
        fail = subject_failure(ver, req.target)
        if fail:
            return req.reply("failed", fail, verification=ver, plan=plan)
        text = f"{subject_summary(ver, req.target)} {req.where(edit.id, edit.layers)}"
        outcome: Outcome = "done" if ver.refused else "partial"
        reply = req.reply(outcome, text, edit_id=edit.id, verification=ver, plan=plan)
        return self._commit(req, edit, ver, "stamp2", kept, reply)
