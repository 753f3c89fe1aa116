"""``repair forget --ledger SESSION`` (issue 22): an edit made with the CLI into a chat session's (or a
server's) folder seals and hides, in its own commit, the stored turns that ask or give what it forgets,
in every scope, as a chat's forget request does. Before, they stayed in plain: ``GET /v1/history`` still
showed the question and its answer, the chat's context still held the answer, and a purge left them."""

from __future__ import annotations

from ledger_child import make_edit, tiny_llama
from test_ledger_privacy import leaks

from repair.cli import _settle
from repair.edit.ledger import Turn
from repair.edit.ledger.history import History, public_turn
from repair.edit.patient import Patient
from repair.edit.record import ProbeCheck, Verification
from repair.session import Session

QUESTION, ANSWER = "What is the capital of Zubrowka?", "The capital of Zubrowka is Quillford."


def _chat(history: History, *pairs: tuple[str, str]) -> None:
    for q, a in pairs:
        history.append(
            [Turn(role="user", content=q, kind="chat"), Turn(role="assistant", content=a, kind="chat")]
        )


def test_a_cli_forget_into_a_session_folder_seals_and_hides_the_turns_it_forgets(tmp_path, repair_home):
    folder = tmp_path / "session"
    chat = Session(
        Patient(tiny_llama(), None, name="tiny", source="", fingerprint="fp", ledger_dir=None),
        session_dir=folder,
    )
    store = chat.patient.ledger.store
    _chat(
        chat.patient.ledger.history,
        ("Hello there", "Hi! How can I help?"),
        ("what is the capital of  zubrowka?", ANSWER),
    )
    _chat(History(store, "alice"), (QUESTION, "Quillford, I think."), ("Tell me a joke", "No."))
    chat.sync()

    # what `repair forget --prompt QUESTION --ledger SESSION` commits, on a patient of its own (another process)
    cli_patient = Patient(
        tiny_llama(), None, name="tiny", source="", fingerprint="fp", ledger_dir=folder / "ledger"
    )
    edit = make_edit("e1", 1)
    edit.meta.set(forget=[(QUESTION, ANSWER)], alpha=1.0)
    edit.meta.set(
        verification=Verification.of([ProbeCheck(prompt=QUESTION, reply="I cannot say.", label="refusal")])
    )
    assert _settle(cli_patient, edit, keep_unverified=True)

    chat.sync()  # the running chat (or server) picks the change up before its next turn
    shown = [public_turn(t, {"e1"})["content"] for t in chat.turns]
    assert shown == ["Hello there", "Hi! How can I help?", "[forgotten]", "[forgotten]"]
    assert chat._context_pairs(None) == [("Hello there", "Hi! How can I help?")]
    alice = History(store, "alice").load()
    assert [t.redacted_by for t in alice] == ["e1", "e1", None, None]  # the scope's question and its answer
    assert cli_patient.ledger.purge(["e1"]) == ["e1"]
    assert leaks(folder, repair_home) == []
    assert [t.content for t in History(store, "alice").load()] == ["Tell me a joke", "No."]
