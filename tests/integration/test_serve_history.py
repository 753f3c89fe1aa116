"""Each scope's conversation survives a server restart (issue 23): its turns are rows of the session's
database under its scope, written in one transaction per exchange; a scope reads back its own turns only;
a forgotten turn is sealed under its edit's key, never stored in plain text, and a purge removes it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from conftest import tiny_llama_for  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from ledger_child import make_edit  # noqa: E402

from repair.edit.ledger.maintenance import purge  # noqa: E402
from repair.edit.patient import Patient  # noqa: E402
from repair.serve.app import create_app  # noqa: E402
from repair.serve.security import Keys, KeySpec  # noqa: E402
from repair.session import Reply, Session  # noqa: E402
from repair.session.pipeline import redact, turn_ids  # noqa: E402

pytestmark = pytest.mark.usefixtures("repair_home")

ADMIN, ALICE, BOB = "sk-admin-000000000000", "sk-alice-000000000000", "sk-bob-00000000000000"
SECRET_Q, SECRET_A = "Where does Maya Taylor live?", "Maya Taylor lives at 12 Quillford Lane."


def serve(tok, folder: Path):
    """A fresh server process's state over the session folder (as `repair serve --session DIR` opens it)."""
    patient = Patient(
        tiny_llama_for(tok, positions=256), tok, name="tiny", source="", fingerprint="fp", ledger_dir=None
    )
    keys = Keys(
        [
            KeySpec(name="admin", key=ADMIN, admin=True),
            KeySpec(name="alice", key=ALICE, users=True),
            KeySpec(name="bob", key=BOB),
        ]
    )
    return create_app(Session(patient, session_dir=folder, max_new_tokens=6), keys, hosts={"testserver"})


def say(c, key: str, text: str, **extra) -> str:
    body = {"messages": [{"role": "user", "content": text}], "max_tokens": 6} | extra
    r = c.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, json=body)
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["message"]["content"]


def history(c, key: str) -> list[tuple[str, str]]:
    r = c.get("/v1/history", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return [(t["role"], t["content"]) for t in r.json()["data"]]


def test_each_scopes_conversation_survives_a_restart_and_stays_its_own(tok, tmp_path):
    folder = tmp_path / "session"
    with TestClient(serve(tok, folder)) as c:
        a = say(c, ALICE, "Hello, I am Alice.")
        b = say(c, BOB, "Hello, I am Bob.")
        carol = say(c, ALICE, "Hello, I am Carol.", user="carol")  # alice's key, carol's own scope
        g = say(c, ADMIN, "Hello from the operator.")
        before = {k: history(c, k) for k in (ALICE, BOB, ADMIN)}
    assert before[ALICE] == [("user", "Hello, I am Alice."), ("assistant", a)]
    with TestClient(serve(tok, folder)) as c:  # a restart: a new model, app and hub over the same folder
        assert history(c, ALICE) == before[ALICE]
        assert history(c, BOB) == [("user", "Hello, I am Bob."), ("assistant", b)]
        assert history(c, ADMIN) == [("user", "Hello from the operator."), ("assistant", g)]
        hub = c.app.state.hub
        assert [t.content for t in hub.session_for("alice/carol").turns] == ["Hello, I am Carol.", carol]
        say(c, BOB, "And again.")  # the conversation continues where it stopped, in the database too
    with TestClient(serve(tok, folder)) as c:
        assert [t for _, t in history(c, BOB)] == [
            "Hello, I am Bob.",
            b,
            "And again.",
            history(c, BOB)[-1][1],
        ]
        assert len(history(c, ALICE)) == 2


def test_a_scopes_forgotten_turns_are_sealed_and_a_purge_removes_them(tok, tmp_path):
    folder = tmp_path / "session"
    with TestClient(serve(tok, folder)) as c:
        say(c, BOB, "Bob says hello.")
        hub = c.app.state.hub
        alice = hub.session_for("alice")
        # alice's exchange, recorded as the session records a chat turn; then the edit that forgets it,
        # committed in alice's scope with that turn sealed in the same transaction (as a verified forget does)
        alice._record(SECRET_Q, Reply(kind="chat", text=SECRET_A))
        pairs = [(SECRET_Q, SECRET_A)]
        edit = make_edit("e1", 1)
        edit.meta.set(forget=pairs, target="Maya Taylor")
        alice.patient.ledger.commit(
            edit, verification={"forgotten": True}, redact_turns=turn_ids(alice.turns, pairs)
        )
        redact(alice.turns, pairs, edit.id)
        ack = Reply(kind="unlearn", outcome="done", edit_id=edit.id, text="Done: Maya Taylor is forgotten.")
        alice._record("Forget where Maya Taylor lives.", ack)
        assert all(b"Quillford" not in p.read_bytes() for p in folder.rglob("*") if p.is_file())
        assert all("Quillford" not in str(t) for t in history(c, ALICE))
    with TestClient(serve(tok, folder)) as c:  # after a restart: still in alice's scope, still sealed
        hub = c.app.state.hub
        turns = hub.session_for("alice").turns
        assert [t.sealed_by for t in turns] == [edit.id] * 4 and turns[1].content == SECRET_A
        assert all(t.redacted_by == edit.id for t in turns[:2])  # out of alice's context
        assert [t for _, t in history(c, BOB)][0] == "Bob says hello." and len(history(c, BOB)) == 2
        assert all("Maya" not in str(t) for t in history(c, ALICE))
    purge(hub.patient.ledger.store, [edit.id])
    with TestClient(serve(tok, folder)) as c:
        assert c.app.state.hub.session_for("alice").turns == []  # the sealed rows went with the key
        assert [t for _, t in history(c, BOB)][0] == "Bob says hello."
    assert all(b"Maya" not in p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_a_purge_by_another_process_reaches_every_scope(tok, tmp_path):
    from repair.edit.ledger.ops import open_store

    folder = tmp_path / "session"
    with TestClient(serve(tok, folder)) as c:
        hub = c.app.state.hub
        alice = hub.session_for("alice")
        alice._record(SECRET_Q, Reply(kind="chat", text=SECRET_A))
        edit = make_edit("e1", 1)
        alice.patient.ledger.commit(
            edit, verification={"forgotten": True}, redact_turns=turn_ids(alice.turns, [(SECRET_Q, SECRET_A)])
        )
        redact(alice.turns, [(SECRET_Q, SECRET_A)], edit.id)
        assert (
            c.delete(f"/v1/edits/{edit.id}", headers={"Authorization": f"Bearer {ALICE}"}).status_code == 200
        )
        assert [t for _, t in history(c, ALICE)] == [SECRET_Q, SECRET_A]  # undone: the turns are back
        store, _ = open_store(folder / "ledger")  # another process: `repair edits purge e1 --session DIR`
        purge(store, [edit.id])
        history(c, BOB)  # bob's session syncs first: the shared ledger's "changed" goes to bob's scope
        assert all("Maya" not in str(t) for t in history(c, ALICE))  # alice's scope re-reads its turns too
