"""The check a STAMP search runs on each candidate edit, and the guard questions it must keep."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from repair.edit.cache import GuardKeptKey, GuardQuestionsKey
from repair.edit.delta import Edit
from repair.edit.record import Verification
from repair.edit.verify import GuardQuestion, guard_kept, guard_questions, guard_verdict


@dataclass(frozen=True)
class Checker:
    """Runs ``check`` with a candidate edit applied (on the live model, then restored exactly) and adds
    the guard's verdict to a forgotten one (unless the check gave it): ``kept`` are the guard questions
    answered before the edit, out of ``total``."""

    patient: Any
    check: Callable[..., Verification | dict]
    kept: list[GuardQuestion]
    total: int
    guard_keep: float

    def __call__(self, edit: Edit, quick: bool) -> Verification:
        with self.patient.ledger.trial(edit):
            got = self.check(quick=quick)
            # a caller's own check (repair.stamp(check=...)) may return the plain dict form
            ver = Verification.model_validate(got) if isinstance(got, dict) else got.model_copy()
            if self.total and ver.forgotten:  # none left of a recorded guard is a verdict too
                if ver.guard is None:
                    ver.guard = guard_verdict(
                        len(guard_kept(self.patient, self.kept)), self.total, self.guard_keep
                    )
                ver.final = ver.final or not ver.guard.ok  # stronger only breaks more
        return ver


def guard_broken(result: Verification | None) -> bool:
    return result is not None and not result.guard_ok


def forgets_within_guard(result: Verification | None) -> bool:
    return result is not None and result.forgotten and result.guard_ok


def guard_kept_count(result: Verification | None) -> int:
    return result.guard.kept if result is not None and result.guard is not None else 0


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
        key = GuardKeptKey(
            tuple((g.question, g.gold) for g in recorded), tuple(e.id for e in patient.ledger.active)
        )
        if key not in patient.cache:
            patient.cache[key] = guard_kept(patient, recorded)
        return patient.cache[key], len(recorded)
    kept = guard_set(patient, [str(g) for g in guard])
    return kept, len(kept)


def guard_set(patient, prompts: list[str]) -> list[GuardQuestion]:
    """The guard prompts the model answers now with a key answer (a name or a number), as
    ``GuardQuestion``s (see ``guard_questions``). Cached per patient state."""
    key = GuardQuestionsKey(tuple(prompts), tuple(e.id for e in patient.ledger.active))
    if key not in patient.cache:
        patient.cache[key] = guard_questions(patient, prompts)
    return patient.cache[key]
