"""The check a STAMP search runs on each candidate edit, and the guard questions it must keep."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from repair.edit.delta import Edit
from repair.edit.verify import GuardQuestion, guard_kept, guard_questions, guard_verdict

Verification = dict[str, Any]  # what a check returns: "forgotten", optionally "guard" and "final"


@dataclass(frozen=True)
class Checker:
    """Runs ``check`` with a candidate edit applied (on the live model, then restored exactly) and adds
    the guard's verdict: ``kept`` are the guard questions answered before the edit, out of ``total``."""

    patient: Any
    check: Callable[..., Verification]
    kept: list[GuardQuestion]
    total: int
    guard_keep: float

    def __call__(self, edit: Edit, quick: bool) -> Verification:
        with self.patient.ledger.trial(edit):
            res = dict(self.check(quick=quick))
            survivors = res.pop("guard_kept", None)
            if self.total and res.get("forgotten"):  # none left of a recorded guard is a verdict too
                n = len(survivors if survivors is not None else guard_kept(self.patient, self.kept))
                res["guard"] = guard_verdict(n, self.total, self.guard_keep)
                res["final"] = res.get("final") or not res["guard"]["ok"]  # stronger only breaks more
        return res


def guard_broken(result: Verification | None) -> bool:
    return bool(result and result.get("guard") and not result["guard"].get("ok", True))


def forgets_within_guard(result: Verification | None) -> bool:
    return bool(result and result.get("forgotten")) and not guard_broken(result)


def guard_kept_count(result: Verification | None) -> int:
    return int(((result or {}).get("guard") or {}).get("kept", 0))


def guard_now(
    patient, guard: Sequence[str] | Sequence[GuardQuestion] | None
) -> tuple[list[GuardQuestion], int]:
    """The guard questions the model answers now and the total an edit's verdict counts against: for
    prompts, those answered now (the budget starts afresh); for recorded questions, those still answered
    out of all recorded (earlier losses stay spent)."""
    if not guard:
        return [], 0
    if isinstance(guard[0], GuardQuestion):
        recorded = list(guard)
        key = (
            "guard-kept",
            tuple((g.question, g.gold) for g in recorded),
            tuple(e.id for e in patient.ledger.active),
        )
        if key not in patient.cache:
            patient.cache[key] = guard_kept(patient, recorded)
        return patient.cache[key], len(recorded)
    kept = guard_set(patient, [str(g) for g in guard])
    return kept, len(kept)


def guard_set(patient, prompts: list[str]) -> list[GuardQuestion]:
    """The guard prompts the model answers now with a key answer (a name or a number), as
    ``GuardQuestion``s (see ``guard_questions``). Cached per patient state."""
    key = ("guard-questions", tuple(prompts), tuple(e.id for e in patient.ledger.active))
    if key not in patient.cache:
        patient.cache[key] = guard_questions(patient, prompts)
    return patient.cache[key]
