"""The user stays in control of the weights (issue 21): what a forget request would do, shown before
the weights change, and which turns the chat may still use as context.

- `proposal(verdict)`: the subject and the questions the model would stop answering, for a yes/no
  question before the edit (`repair chat` asks; `--yes` skips it; the server's ``confirm_edits``
  answers with it instead of editing).
- `mark_stale(turns, record)`: after an undo, the chat replies given while that edit was active were
  written by the edited model; they leave the context (they stay in the log).
- `context_turns(turns, start)`: the turns the chat and the watchdog may read: from ``start`` (the
  last ``/reset``), less the stale ones; `as_messages(pairs)` hands them to a model.

"that" and "what you just said" resolve against the session's own turns only: the terminal chat has
no other, and the server drops every assistant turn it did not produce (`repair.serve.hub.trusted_history`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import BaseModel

from repair.agents.watchdog import Verdict, probe_prompts
from repair.edit.ledger.history import Turn
from repair.edit.ledger.store import EditRecord
from repair.session.reply import Reply
from repair.session.texts import display_target

MAX_SHOWN = 3


class Proposal(BaseModel):
    """What a forget request would do: shown to the user, who says yes or no."""

    target: str  # as shown: the subject, or "what I just told you"
    questions: list[str]  # what the model would stop answering (history prompts or probe questions)
    source: str  # "history", "probe" or "message" (the watchdog's)
    text: str  # one line for the user


Confirm = Callable[[Proposal], bool]


def proposal(verdict: Verdict) -> Proposal:
    """The subject and up to three questions the model would stop answering, from the watchdog's verdict."""
    questions = [p for p, _ in verdict.pairs] or list(verdict.probes) or probe_prompts(verdict.target or "")
    questions = questions[:MAX_SHOWN] if verdict.target or verdict.pairs else []
    target = display_target(verdict.target) if verdict.target else "what I just told you"
    shown = "; ".join(questions)
    text = f"Forget {target}? I will stop answering: {shown}" if shown else f"Forget {target}?"
    return Proposal(target=target, questions=questions, source=verdict.source, text=text)


def mark_stale(turns: list[Turn], record: EditRecord) -> int:
    """Mark the chat turns recorded while the undone edit ``record`` was active; returns how many."""
    start, end = record.created, record.undone
    if end is None:
        return 0
    n = 0
    for t in turns:
        when = t.time if t.time is not None else -1.0
        if t.kind == "chat" and start <= when <= end and not t.stale_by:
            t.stale_by = record.id
            n += 1
    return n


def context_turns(turns: list[Turn], start: int = 0) -> list[Turn]:
    """The turns after the last /reset that the context may use (no stale replies)."""
    return [t for t in turns[start:] if not t.stale_by]


def as_messages(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    """(user, assistant) pairs as the chat messages a model reads."""
    out: list[dict[str, str]] = []
    for u, a in pairs:
        out += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    return out


def exchange(message: str, reply: Reply) -> list[Turn]:
    """The two turns one user message and its reply add to a session. A forget request that committed
    nothing (refused, failed, declined, nothing to remove) still names what the user wanted gone, and no
    edit key exists to seal it under: neither text is kept."""
    now = time.time()
    withheld = reply.kind == "unlearn" and not reply.edit_id
    user = Turn(role="user", content=None if withheld else message, kind=reply.kind, time=now)
    turn = Turn(role="assistant", content=None if withheld else reply.text, kind=reply.kind, time=now)
    if reply.edit_id:
        turn.edit_id = reply.edit_id
    if reply.outcome:
        turn.outcome = reply.outcome
    return [user, turn]
