"""The retain guard: general questions whose answers an edit must not take away.

The ones the model answers correctly before the first edit are asked again with each candidate edit
applied; an edit that loses more than a third of them is not committed (a large α can turn the model
to gibberish, which "forgets" everything).
"""

from __future__ import annotations

from typing import Any, Literal

from repair.edit.cache import GuardKey
from repair.edit.verify import GuardQuestion, guard_questions
from repair.eval.metrics import answer_match
from repair.session.verify import VERIFY_TOKENS

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

Budget = Literal["base", "each"]


def guard_key(patient: Any) -> GuardKey:
    """The patient cache's key for the guard questions answered in its current state (its active edits)."""
    return GuardKey(tuple(e.id for e in patient.ledger.active))


class GuardBudget:
    """The guard questions of one session and what its edits may cost of them.

    "base": the check questions the model answered when the session first asked them are one budget
    for all its edits (a third may be lost in all); "each": every edit may lose a third of what is
    left, so a long session could wear them down edit by edit.
    """

    def __init__(self, mode: Budget = "base") -> None:
        if mode not in ("base", "each"):
            raise ValueError(f"guard_budget must be 'base' or 'each', not {mode!r}")
        self.mode = mode
        self._base: list[GuardQuestion] | None = None  # the state the session's budget counts from

    def questions(self, patient: Any, response: str) -> list[GuardQuestion]:
        """Check questions the model answers right now (see ``guard_questions``), minus any the request
        is about (forgetting 'there are seven days in a week' may well change that answer). Asked once per
        patient state, cached on the patient."""
        key = guard_key(patient)
        if key not in patient.cache:
            patient.cache[key] = guard_questions(
                patient, [q for q, _ in GUARD], [g for _, g in GUARD], VERIFY_TOKENS
            )
        if self._base is None:
            self._base = list(patient.cache[key])
        return [g for g in patient.cache[key] if not answer_match(response, g.golds)]

    def budgeted(self, patient: Any, response: str) -> tuple[list[GuardQuestion], int]:
        """The guard set for this request and the count its kept share is measured against."""
        guard = self.questions(patient, response)
        total = len(guard)
        if self.mode == "base" and self._base is not None:  # filtered like questions()' answer
            total = sum(not answer_match(response, g.golds) for g in self._base)
        return guard, total
