"""Two running sessions on one session folder (two Patient objects, as two processes would hold them): each
sees the other's edits, undos and turns before it replies, lists or undoes, with the weights and the
context both current."""

from __future__ import annotations

from pathlib import Path

import torch
from ledger_child import make_edit, tiny_llama

from repair.edit.patient import Patient
from repair.session import Reply, Session
from repair.session.pipeline import redact, turn_ids

QUESTION, ANSWER = "What is the capital of Zubrowka?", "The capital of Zubrowka is Quillford."


def _session(folder: Path) -> Session:
    patient = Patient(tiny_llama(), None, name="tiny", source="", fingerprint="fp", ledger_dir=None)
    return Session(patient, session_dir=folder)


def _down(session: Session) -> torch.Tensor:
    return session.patient.arch.linear(session.patient.model, 1, "down").weight.detach().clone()


def _forget(session: Session, eid: str) -> None:
    """What a session does on "forget what you just told me", minus the generations (see
    test_ledger_privacy._forget): the edit is committed with the turns it hides."""
    pairs = [(QUESTION, ANSWER)]
    edit = make_edit(eid, 1)
    edit.meta.set(forget=pairs)
    session.patient.ledger.commit(edit, redact_turns=turn_ids(session.turns, pairs))
    redact(session.turns, pairs, edit.id)


def test_a_session_sees_another_sessions_edit_and_undo(tmp_path):
    a, b = _session(tmp_path), _session(tmp_path)
    base = _down(a)
    a._record(QUESTION, Reply(kind="chat", text=ANSWER))
    assert b.sync() and (QUESTION, ANSWER) in b._context_pairs(None)  # b's next reply sees a's turn
    _forget(a, "e1")
    b.sync()  # what b.send does before it routes a message
    assert torch.equal(_down(b), _down(a)) and not torch.equal(_down(b), base)
    assert (QUESTION, ANSWER) not in b._context_pairs(None)  # the forgotten turn left b's context too
    assert [e.id for e in b.edits()] == ["e1"]
    b.undo("e1")  # b undoes a's edit: a's weights and context come back before its next reply
    a.sync()
    assert torch.equal(_down(a), base) and (QUESTION, ANSWER) in a._context_pairs(None)
    assert a.edits() == [] and [e.status for e in a.edits(include_undone=True)] == ["undone"]


def test_the_replies_given_under_an_undone_edit_stay_out_after_a_reload(tmp_path):
    """A reply given while an edit was on is stale once it is undone; re-reading the turns because another
    session wrote must not bring it back into the context."""
    a, b = _session(tmp_path), _session(tmp_path)
    _forget(a, "e1")
    a._record("What is 2 plus 2?", Reply(kind="chat", text="Five, under the edit."))
    a.undo("e1")
    assert ("What is 2 plus 2?", "Five, under the edit.") not in a._context_pairs(None)
    b.sync()
    assert ("What is 2 plus 2?", "Five, under the edit.") not in b._context_pairs(None)
    b._record("Hello", Reply(kind="chat", text="Hi!"))  # another session's turn: a re-reads its turns
    assert a.sync() and ("Hello", "Hi!") in a._context_pairs(None)
    assert ("What is 2 plus 2?", "Five, under the edit.") not in a._context_pairs(None)


def test_a_change_another_reader_of_the_ledger_consumed_still_reaches_the_turns(tmp_path):
    """The patient's ledger may catch up on its own (a server reads the scope's edits per request); the
    session's turns must catch up on the next sync all the same."""
    a, b = _session(tmp_path), _session(tmp_path)
    a._record(QUESTION, Reply(kind="chat", text=ANSWER))
    b.sync()
    _forget(a, "e1")
    assert b.patient.ledger.sync()  # the ledger alone caught up: weights, not the session's turns
    b.sync()
    assert (QUESTION, ANSWER) not in b._context_pairs(None)
    assert all(t.redacted_by == "e1" for t in b.turns if t.content in (QUESTION, ANSWER))
