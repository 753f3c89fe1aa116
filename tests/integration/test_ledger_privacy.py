"""Forgotten text is never kept in plain: sealed under a per-edit key from the commit on, gone for good after
a purge (every byte under the ledger, the session folder and $REPAIR_HOME, the -wal/-shm files and the
migration backup included); the history and the list never show it."""

from __future__ import annotations

import json
from pathlib import Path

from ledger_child import make_edit, tiny_llama, write_v1

from repair.edit.ledger import Ledger
from repair.edit.ledger.migrate import migrate_history
from repair.edit.ledger.ops import audit, set_retention
from repair.edit.patient import Patient
from repair.edit.record import ProbeCheck, Verification
from repair.models.arch import arch_for
from repair.session import Reply, Session
from repair.session.pipeline import redact, turn_ids

QUESTION, ANSWER = "What is the capital of Zubrowka?", "The capital of Zubrowka is Quillford."
SECRETS = [b"Zubrowka", b"Quillford", b"secret answer", b"secret question"]


def leaks(*folders: Path) -> list[str]:
    """Every file under the folders that holds any of the secrets (case-insensitive, every byte read)."""
    hits = []
    for folder in folders:
        for p in folder.rglob("*") if folder.exists() else []:
            if p.is_file():
                data = p.read_bytes().lower()
                hits += [f"{p}: {s.decode()}" for s in SECRETS if s.lower() in data]
    return hits


def _session(folder: Path) -> Session:
    model = tiny_llama()
    patient = Patient(model, None, name="tiny", source="", fingerprint="fp", ledger_dir=None)
    return Session(patient, session_dir=folder)


def _forget(session: Session, eid: str = "e1") -> None:
    """What a session does on "forget what you just told me", minus the model's generations: the edit is
    committed with the turns it forgets sealed in the same transaction, then the request is recorded."""
    pairs = [(QUESTION, ANSWER)]
    edit = make_edit(eid, 1)
    edit.meta.set(forget=pairs, target="the capital of Zubrowka")
    session.patient.ledger.commit(
        edit,
        verification=Verification.of([ProbeCheck(prompt=QUESTION, reply=ANSWER, label="leak")]),
        redact_turns=turn_ids(session.turns, pairs),
    )
    redact(session.turns, pairs, edit.id)
    session._record(
        "Forget what you told me about Zubrowka.",
        Reply(
            kind="unlearn",
            outcome="done",
            edit_id=edit.id,
            text="Done. Information related to Zubrowka has been removed.",
        ),
    )


def test_forgotten_turns_are_sealed_hidden_and_purged(tmp_path, repair_home):
    folder = tmp_path / "chat"
    session = _session(folder)
    session._record("Hello there", Reply(kind="chat", text="Hi! How can I help?"))
    session._record(QUESTION, Reply(kind="chat", text=ANSWER))
    assert leaks(folder)  # an ordinary turn is stored in plain
    _forget(session)
    # from the commit on: no plain copy anywhere, also not in the WAL
    assert leaks(folder, repair_home) == []
    assert "Zubrowka" not in json.dumps(session.history) and "Quillford" not in json.dumps(
        [m.as_dict() for m in session.edits()]
    )
    assert [t["content"] for t in session.history][:2] == ["Hello there", "Hi! How can I help?"]
    assert session._context_pairs(None) == [("Hello there", "Hi! How can I help?")]
    # the operator can still audit (HMAC) and read it while the key exists
    led = session.patient.ledger
    assert [r.id for r in audit(led.store, "  the capital of ZUBROWKA is quillford. ")] == ["e1"]
    assert led.show("e1", reveal=True).revealed["forget"] == [[QUESTION, ANSWER]]
    # a reopened session has the turns back (sealed), hidden from the context
    again = _session(folder)
    assert again._context_pairs(None) == [("Hello there", "Hi! How can I help?")]
    assert [t.content for t in again.turns][2:4] == [QUESTION, ANSWER]
    # purge: key, sealed rows and turns go; the edit stays, its HMAC too
    assert led.purge(["e1"]) == ["e1"]
    assert not (led.root / "keys" / "e1.key").exists()
    assert leaks(folder, repair_home) == []
    assert [r.id for r in audit(led.store, ANSWER)] == ["e1"]
    assert led.show("e1", reveal=True).revealed is None
    reopened = _session(folder)
    assert [t["content"] for t in reopened.history] == ["Hello there", "Hi! How can I help?"]
    assert (tmp_path / "chat" / "ledger" / "ledger.db-wal").stat().st_size == 0


def test_undo_gives_the_turns_back_and_purge_after_undo_removes_them(tmp_path, repair_home):
    folder = tmp_path / "chat"
    session = _session(folder)
    session._record(QUESTION, Reply(kind="chat", text=ANSWER))
    _forget(session)
    session.undo("e1")
    assert [t["content"] for t in session.history][:2] == [QUESTION, ANSWER]  # back in the context
    assert leaks(folder) == []  # but still sealed: a purge can still remove them
    session.patient.ledger.purge(None)
    assert leaks(folder, repair_home) == []
    assert _session(folder).history == []


def test_migrated_ledger_and_history_leave_nothing_after_purge(tmp_path, repair_home):
    folder = tmp_path / "chat"
    write_v1(folder / "ledger", ["e1", "e2"])
    turns = [
        {"role": "user", "content": "secret question e1?", "kind": "chat", "redacted_by": "e1"},
        {"role": "assistant", "content": "The secret answer e1.", "kind": "chat", "redacted_by": "e1"},
    ]
    (folder / "history.json").write_text(
        json.dumps({"format": "repair-session/1", "model": "tiny", "turns": turns})
    )
    model = tiny_llama()
    ledger = Ledger(model, arch_for(model), "fp", folder / "ledger")
    assert [e.id for e in ledger.load()] == ["e1", "e2"]
    migrate_history(ledger.store, folder / "history.json")
    assert not (folder / "history.json").exists()
    assert (
        leaks(folder / "ledger" / "ledger.db", folder / "ledger" / "keys", folder / "ledger" / "deltas") == []
    )
    assert leaks(folder / "ledger" / "backup-v1")  # the backup holds the old files until a purge
    assert [t.redacted_by for t in ledger.history.load()] == ["e1", "e1"]
    ledger.purge(None)
    assert leaks(folder, repair_home) == []
    assert not (folder / "ledger" / "backup-v1").exists()


def test_purge_of_one_edit_scrubs_it_from_the_backup(tmp_path, repair_home):
    write_v1(tmp_path, ["e1", "e2"])
    model = tiny_llama()
    ledger = Ledger(model, arch_for(model), "fp", tmp_path)
    ledger.load()
    ledger.purge(["e1"])
    backup = sorted(p.name for p in (tmp_path / "backup-v1").iterdir())
    assert backup == ["e2.json", "e2.safetensors"]
    assert b"secret answer e1" not in b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())


def test_retention_purges_old_forgotten_text(tmp_path, repair_home):
    model = tiny_llama()
    ledger = Ledger(model, arch_for(model), "fp", tmp_path)
    ledger.commit(make_edit("e1", 1))
    assert set_retention(ledger.store, 3600).purged == []
    assert set_retention(ledger.store, 0).purged == ["e1"]
    assert leaks(tmp_path) == [] and [m.private for m in ledger.list()] == ["purged"]
    ledger.commit(make_edit("e2", 2))  # with retention 0, the next open purges it
    Ledger(model, arch_for(model), "fp", tmp_path)
    assert [m.private for m in ledger.list()] == ["purged", "purged"]


def test_a_long_running_process_honours_the_retention_period(tmp_path, repair_home):
    from repair.edit.ledger import core

    model = tiny_llama()
    ledger = Ledger(model, arch_for(model), "fp", tmp_path)
    ledger.commit(make_edit("e1", 1))
    with ledger.store.write() as conn:  # as `repair edits retention 0` from another process would set it
        ledger.store.set_info(conn, "retention_s", "0")
    ledger._expired_at -= core.EXPIRE_EVERY_S + 1
    ledger.sync()
    assert [m.private for m in ledger.list()] == ["purged"] and leaks(tmp_path) == []


def test_a_purge_by_another_process_reaches_a_running_one(tmp_path, repair_home):
    model = tiny_llama()
    running = Ledger(model, arch_for(model), "fp", tmp_path)
    running.commit(make_edit("e1", 1))
    assert running.get("e1").deltas[0].keys is not None and running.get("e1").meta.forget
    other = tiny_llama()
    Ledger(other, arch_for(other), "fp", tmp_path).purge(["e1"])
    assert running.sync()
    e1 = running.get("e1")  # still applied, no longer holding the forgotten text or its keys
    assert e1.deltas[0].keys is None and e1.meta.forget is None and e1.meta.target is None
