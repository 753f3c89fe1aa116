"""The session's check of an edit: which probe replies leak, by the session's stricter criterion
(`repair.edit.criterion.reply_leaks`), and which replies held anything to forget."""

from __future__ import annotations

from repair.edit.criterion import label, reply_leaks
from repair.edit.record import ProbeCheck, Verification
from repair.eval.metrics import is_refusal

VERIFY_TOKENS = 32


def stated_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (prompt, reply) pairs in which the model stated something: empty replies and refusals hold
    nothing to forget."""
    return [(p, r) for p, r in pairs if r.strip() and not is_refusal(r)]


def score_replies(replies: list[tuple[str, str]], response: str, keys: list[str]) -> Verification:
    """Score the (prompt, reply) pairs of a check with the session's stricter criterion."""
    return Verification.of(
        [ProbeCheck(prompt=p, reply=r, label=label(r, reply_leaks(r, response, keys))) for p, r in replies],
        keys=keys,
    )
