"""The session on the real default patient (SmolLM2-135M-Instruct): routing and errors, a Table 4
conversation that persists and undoes, a bfloat16 session whose ledger reopens in float32, and `repair
chat` on piped input. Nothing is mocked. (The session's helpers are tested in
tests/integration/test_session.py.)"""

from __future__ import annotations

import pytest

import repair
from repair.edit.verify import still_answers
from repair.eval.metrics import answer_match
from repair.session import Session
from repair.session.guard import guard_key
from repair.session.texts import short_id

pytestmark = pytest.mark.e2e


@pytest.mark.e2e
def test_routing_and_errors_keep_the_session_working(smollm):
    session = Session(smollm, max_new_tokens=24)
    edits_before = len(smollm.ledger.active)

    for empty in ("", "   \n"):
        r = session.send(empty)
        assert (r.kind, r.error) == ("error", "empty")

    r = session.send("Forget that.")  # nothing has been said yet: no identifiable target
    assert (r.kind, r.outcome, r.edit_id) == ("unlearn", "no_target", None)
    assert "could not tell what to forget" in r.text

    r = session.send("What is the capital of France?")
    assert r.kind == "chat" and "Paris" in r.text
    assert {"watchdog", "generate"} <= set(r.timings)  # their sizes: benchmarks/responsiveness.py

    for negative in ("I forgot my password, how do I reset it?", "How do I make my browser forget cookies?"):
        assert session.send(negative).kind == "chat"

    r = session.send("Forget my home address.")  # the user never gave one
    assert (r.kind, r.outcome) == ("unlearn", "unknown_target")
    assert "I have nothing stored about your home address" in r.text

    assert len(smollm.ledger.active) == edits_before  # no edit was made on the way
    kinds = [t["kind"] for t in session.history if t["role"] == "user"]
    assert kinds == ["unlearn", "chat", "chat", "chat", "unlearn"]  # errors are not recorded
    assert session.send("What is the capital of Japan?").kind == "chat"  # still working


# A fact this model knows and the current engine removes with the retain guard satisfied; unrelated facts
# that must survive the edit.
FACT = ("What is the capital of China?", "Beijing")
UNRELATED = [
    ("Who wrote Romeo and Juliet?", "Shakespeare"),
    ("What is the largest planet in our solar system?", "Jupiter"),
    ("Who painted the Mona Lisa?", "Leonardo"),
]


@pytest.mark.e2e
def test_table4_conversation_persists_and_undoes(tmp_path):
    folder = tmp_path / "chat"
    session = Session.open(folder, max_new_tokens=32).warm()
    assert session.patient.cache[guard_key(session.patient)], "warm() asks the check questions up front"
    question, answer = FACT

    pre = session.send(question)
    assert pre.kind == "chat" and answer_match(pre.text, answer), pre.text

    ack = session.send("Forget what you just told me.")
    assert ack.kind == "unlearn" and ack.outcome == "done", ack.text
    assert ack.text.startswith("Done. Information related to") and short_id(ack.edit_id) in ack.text
    assert ack.verification.forgotten and ack.verification.guard.ok
    assert "repair.stamp(" in ack.plan.python
    # The check questions answered with the committed edit become the next request's guard set, each
    # with the edited model's own greedy reply (a teacher-forced forward proves it, as for a fresh set).
    carried = session.patient.cache[guard_key(session.patient)]
    assert len(carried) == ack.verification.guard.kept > 0
    assert all(
        still_answers(
            session.patient,
            [g.question for g in carried],
            [g.reply for g in carried],
            [g.gold for g in carried],
        )
    )

    post = session.send(question)
    assert post.kind == "chat" and not answer_match(post.text, answer), post.text
    kept = session.patient.generate([q for q, _ in UNRELATED], max_new_tokens=32)
    assert sum(answer_match(k, a) for k, (_, a) in zip(kept, UNRELATED, strict=True)) >= 2, kept

    # Reopening the folder restores the healed model and the turns.
    again = Session.open(folder, max_new_tokens=32)
    assert [e.id for e in again.edits()] == [ack.edit_id]
    assert [t["content"] for t in again.history] == [t["content"] for t in session.history]
    assert not answer_match(again.patient.chat(question, max_new_tokens=32), answer)

    # /undo restores the answer; the forgotten turn is visible to the chat again.
    again.undo(short_id(ack.edit_id))
    assert again.edits() == []
    assert answer_match(again.patient.chat(question, max_new_tokens=32), answer)
    assert not any(t.get("redacted_by") for t in again.history)
    reopened = Session.open(folder)
    assert reopened.edits() == [] and len(reopened.history) == len(again.history)


@pytest.mark.e2e
def test_bfloat16_session_forgets_and_its_ledger_reopens_in_float32(tmp_path):
    import torch

    folder = tmp_path / "bf16"
    session = Session.open(folder, dtype="bfloat16", max_new_tokens=32).warm()
    assert next(session.patient.model.parameters()).dtype == torch.bfloat16
    question, answer = FACT
    assert answer_match(session.send(question).text, answer)
    ack = session.send("Forget what you just told me.")
    assert ack.outcome == "done", ack.text
    assert not answer_match(session.patient.chat(question, max_new_tokens=32), answer)
    # A second edit counts its check questions against the session's first set (guard_budget "base"):
    # what the first edit cost stays spent. Say it cost one more question than it did: the set carried to
    # the next request shrinks, the budget's total does not.
    total = ack.verification.guard.total
    key = guard_key(session.patient)
    session.patient.cache[key] = session.patient.cache[key][:-1]
    session.send(UNRELATED[0][0])
    second = session.send("Forget what you just said.")
    assert second.kind == "unlearn" and second.verification is not None, second.text
    assert second.verification.guard.total == total, (second.text, second.verification.guard)
    if second.edit_id:
        session.undo(second.edit_id)
    # the stored deltas are float32: the same edit applies to a float32 patient
    again = Session.open(folder, max_new_tokens=32)
    assert next(again.patient.model.parameters()).dtype == torch.float32
    assert [e.id for e in again.edits()] == [ack.edit_id]
    assert not answer_match(again.patient.chat(question, max_new_tokens=32), answer)
    again.undo(ack.edit_id)
    assert answer_match(again.patient.chat(question, max_new_tokens=32), answer)


@pytest.mark.e2e
def test_session_adopts_a_clean_patient(tmp_path):
    # A clean patient adopts the session's ledger folder; the edits in it come back on reopen.
    patient = repair.load("smollm2-135m-instruct", ledger=False)
    session = Session(patient, session_dir=tmp_path)
    assert patient.ledger.root == tmp_path / "ledger"
    assert session.edits() == []


@pytest.mark.e2e
def test_chat_cli_runs_on_piped_stdin(tmp_path):
    from typer.testing import CliRunner

    from repair.cli import app

    script = "What is the capital of France?\n\n/edits\n/undo nope\n/undo\n/history\n/plan\n/bogus\n/help\n/quit\nnever read\n"
    result = CliRunner().invoke(app, ["chat", "--session", str(tmp_path / "s")], input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "> What is the capital of France?" in out and "Paris" in out
    assert "Empty message" in out and "no edit 'nope'" in out and "usage: /undo ID" in out
    assert "no repair yet" in out and "unknown command /bogus" in out and "never read" not in out
    from repair.edit.ledger import History, Store

    saved = History(Store(tmp_path / "s" / "ledger")).load()  # the turns live in the ledger's database
    assert [t.role for t in saved] == ["user", "assistant"]
