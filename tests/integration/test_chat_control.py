"""The user stays in control (issue 21): what a forget request would do is shown and confirmed before
the weights change (`--yes` skips the question), `/reset` clears the context, and an undo takes the
replies given while its edit was active out of the context.

The helpers, here, run without a model; the session and `repair chat` on the real SmolLM2 patient are
in tests/e2e/test_chat_control_smollm.py. Nothing is mocked.
"""

from __future__ import annotations

from repair.agents.watchdog import Verdict
from repair.edit.ledger import EditRecord, Turn
from repair.session.control import context_turns, mark_stale, proposal

# -- helpers (no model) -------------------------------------------------------------------------------


def test_proposal_of_a_history_turn_shows_its_question() -> None:
    v = Verdict(intent="unlearn", confidence=0.9, target="Paris", source="history",
                pairs=[("What is the capital of France?", "Paris.")])  # fmt: skip
    p = proposal(v)
    assert p.target == "Paris" and p.questions == ["What is the capital of France?"]
    assert p.text == "Forget Paris? I will stop answering: What is the capital of France?"


def test_proposal_of_a_subject_shows_the_probe_questions() -> None:
    v = Verdict(intent="unlearn", confidence=0.9, target="Marie Curie", source="probe")
    p = proposal(v)
    assert p.target == "Marie Curie" and len(p.questions) == 3
    assert all("Marie Curie" in q for q in p.questions)


def test_proposal_without_target_points_at_the_last_answer() -> None:
    p = proposal(Verdict(intent="unlearn", confidence=0.9, source="none"))
    assert p.target == "what I just told you" and p.questions == []


def _turn(role: str, text: str, t: float, kind: str = "chat") -> Turn:
    return Turn(role=role, content=text, kind=kind, time=t)


def _record(edit_id: str, created: float, undone: float | None) -> EditRecord:
    status = "active" if undone is None else "undone"
    return EditRecord(
        id=edit_id, seq=1, status=status, created=created, undone=undone, fingerprint="fp",
        deltas_sha256="", deltas=[],
    )  # fmt: skip


def test_undo_marks_the_replies_given_while_the_edit_was_on() -> None:
    turns = [
        _turn("user", "capital of France?", 1.0), _turn("assistant", "Paris.", 1.0),
        _turn("user", "forget that", 2.0, "unlearn"), _turn("assistant", "Done.", 2.0, "unlearn"),
        _turn("user", "2 plus 2?", 3.0), _turn("assistant", "4.", 3.0),
        _turn("user", "after the undo", 5.0), _turn("assistant", "ok", 5.0),
    ]  # fmt: skip
    assert mark_stale(turns, _record("e1", 1.5, 4.0)) == 2
    assert [t.content for t in context_turns(turns)] == [
        "capital of France?", "Paris.", "forget that", "Done.", "after the undo", "ok",
    ]  # fmt: skip
    assert mark_stale(turns, _record("e2", 1.5, None)) == 0  # still active: nothing
    assert context_turns(turns, start=6) == turns[6:]  # /reset: nothing before the mark


def test_chat_options() -> None:
    from typer.testing import CliRunner

    from repair.cli import app

    out = CliRunner().invoke(app, ["chat", "--help"], env={"COLUMNS": "200"}).output
    assert "--yes" in out and "--watchdog-llm" in out
