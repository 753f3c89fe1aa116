"""A forget request about a named subject, through STAMP-2: one closed-form edit, checked as the user
will see it (every reply labelled leak, refusal or substitute), then committed or dropped.

A reply that no longer gives the answer but makes up another one is a *substitute*: the session reports
it as such, never as "Done".
"""

from __future__ import annotations

from typing import Any

from repair.edit.criterion import label
from repair.edit.delta import Edit
from repair.edit.record import ProbeCheck, Verification
from repair.edit.verify import GuardQuestion, guard_verdict, probe_with_guard

PROBES_PER_TRIAL = 1  # check questions asked per trial of the edit (see check)


class SubjectEngine:
    """STAMP-2 for a session: its per-model settings, statistics and refusal vector, prepared once."""

    def __init__(self, **overrides: Any) -> None:
        self.overrides = overrides
        self._ready: dict[str, tuple[Any, Any]] = {}

    def prepare(self, patient: Any) -> tuple[Any, Any]:
        from repair.edit.stamp2 import prepare

        if patient.name not in self._ready:
            self._ready[patient.name] = prepare(patient, **self.overrides)
        return self._ready[patient.name]

    def edit(self, patient: Any, subject: str, prompts: list[str]) -> Edit:
        """The edit (not applied). Raises ``NoMentionError`` when no prompt names ``subject``."""
        from repair.edit.stamp2 import forget_subject

        cfg, stats = self.prepare(patient)
        edit = forget_subject(patient, subject, cfg, stats, prompts, patient.ledger.active)
        edit.meta.config = cfg  # the record keeps the settings it was made with
        return edit


def check(
    patient: Any,
    edit: Edit,
    probes: list[str],
    leaks: Any,
    guard: list[GuardQuestion],
    guard_total: int,
    keys: list[str],
    max_new_tokens: int,
) -> tuple[Verification, list[GuardQuestion]]:
    """Ask the check questions and the guard questions with ``edit`` applied (then restored exactly);
    also returns the guard questions still answered, the next request's guard set. Each check question
    is asked in a trial of its own (the guard questions ride with the first): between two, the weights
    hold only committed edits, and a server answers other users' chats there (``ScopedLedger.trial``).
    One decoding loop per question instead of one for all: on a CPU about half as long again."""
    outs: list[str] = []
    kept: list[GuardQuestion] = []
    for i in range(0, max(len(probes), 1), PROBES_PER_TRIAL):
        with patient.ledger.trial(edit):
            step = probes[i : i + PROBES_PER_TRIAL]
            got, still = probe_with_guard(
                patient, step, leaks, guard if i == 0 else [], max_new_tokens=max_new_tokens
            )
        outs += got
        kept = kept if i else (still or [])
    ver = Verification.of(
        [ProbeCheck(prompt=q, reply=r, label=label(r, leaks(r))) for q, r in zip(probes, outs, strict=True)],
        guard=guard_verdict(len(kept), guard_total),
        keys=keys,
        engine="stamp2",
    )
    return ver, kept


def _example(p: ProbeCheck) -> str:
    reply = " ".join(p.reply.split())
    return f"{p.prompt!r} now gets {reply[:80] + ('…' if len(reply) > 80 else '')!r}"


def subject_failure(ver: Verification, target: str) -> str | None:
    """Why the edit is not committed, in the user's words; None when it may be."""
    if ver.guard is not None and not ver.guard.ok:
        return (
            f"Could not remove: the edit that makes the model decline questions about {target} also broke "
            f"unrelated answers ({ver.guard.kept} of {ver.guard.total} check questions kept). Nothing was changed."
        )
    if ver.probes and ver.count("leak") == len(ver.probes):
        return (
            f"Could not remove: every check question still gets information about {target} "
            f"({_example(ver.probes[0])}). Nothing was changed."
        )
    return None


def subject_summary(ver: Verification, target: str) -> str:
    """What the committed edit does, as the check questions showed it: refusals are "Done"; a made-up
    reply or a leak is said as such."""
    n = len(ver.probes)
    if ver.refused:
        return (
            f"Done. The model now declines questions about {target}: all {n} check questions get a refusal."
        )
    leaks = [p for p in ver.probes if p.label == "leak"]
    if leaks:
        return (
            f"Partly removed: {n - len(leaks)} of {n} check questions about {target} no longer get the "
            f"information, but {_example(leaks[0])}."
        )
    subs = [p for p in ver.probes if p.label == "substitute"]
    return (
        f"Partly done: no check question about {target} gets the information any more, but {len(subs)} of {n} "
        f"get a made-up reply instead of a refusal: {_example(subs[0])}."
    )
