"""The user stays in control (issue 21), on the real SmolLM2 patient: a declined forget request changes
nothing, `/reset` clears the context, an undo takes the edited model's replies out of it, and `repair
chat` asks before forgetting. Nothing is mocked. (The helpers are tested in
tests/integration/test_chat_control.py.)"""

from __future__ import annotations

import pytest

from repair.session.control import Proposal

pytestmark = pytest.mark.e2e


@pytest.mark.e2e
def test_declined_request_changes_nothing(smollm) -> None:
    from repair.session import Session

    asked: list[Proposal] = []
    session = Session(smollm)
    session.confirm = lambda p: asked.append(p) or False
    reply = session.send("Forget everything you know about Marie Curie.")
    assert reply.kind == "unlearn" and reply.outcome == "declined" and reply.edit_id is None
    assert asked and asked[0].target == "Marie Curie" and asked[0].questions
    assert session.edits() == [] and not smollm.ledger.active


@pytest.mark.e2e
def test_reset_clears_the_context(smollm) -> None:
    from repair.session import Session

    session = Session(smollm, max_new_tokens=8)
    session.send("What is the capital of France?")
    assert len(session._context_pairs(None)) == 1
    session.reset()
    assert session._context_pairs(None) == []
    # "that" now has nothing of the system's own to point at: no edit, and the user is told
    session.confirm = lambda p: pytest.fail("nothing to confirm")
    reply = session.send("Forget what you just said.")
    assert reply.outcome == "no_target" and session.edits() == []
    assert len(session.history) == 4  # the turns are still listed


@pytest.mark.e2e
def test_undo_drops_the_replies_of_the_edited_model(smollm) -> None:
    from repair.session import Session

    session = Session(smollm, max_new_tokens=8)  # confirm None: as `repair chat --yes`
    session.send("What is the capital of France?")
    reply = session.send("Forget everything you know about Marie Curie.")
    assert reply.edit_id, reply.text
    session.send("What is 2 plus 2?")  # answered by the edited model
    assert [u for u, _ in session._context_pairs(None)][-1] == "What is 2 plus 2?"
    session.undo(reply.edit_id)
    assert [u for u, _ in session._context_pairs(None)] == ["What is the capital of France?"]
    assert not smollm.ledger.active


@pytest.mark.e2e
def test_chat_asks_before_forgetting(tmp_path) -> None:
    from typer.testing import CliRunner

    from repair.cli import app

    script = "Forget everything you know about Marie Curie.\nn\n/edits\n/reset\n/quit\n"
    res = CliRunner().invoke(app, ["chat", "--session", str(tmp_path / "s")], input=script)
    assert res.exit_code == 0, res.output
    out = res.output
    assert "Forget Marie Curie?" in out and "I will stop answering: Tell me about Marie Curie." in out
    assert "Nothing was changed" in out and "context cleared" in out
    from repair.edit.ledger import Store

    assert Store(tmp_path / "s" / "ledger").records() == []
