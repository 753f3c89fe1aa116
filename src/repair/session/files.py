"""A session folder: the ledger's database (the edits and the turns, ``session_dir/ledger``; see
``repair.edit.ledger``), and the files from before it: the model it was made with, and the old
``history.json`` format (read once, then migrated into the database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from repair.edit.ledger import Ledger, Turn
from repair.session.control import mark_stale

HISTORY_FORMAT = "repair-session/1"


def saved_model(session_dir: Path) -> str | None:
    """The model a session folder's database was made with (None for a new folder)."""
    import sqlite3

    db = session_dir / "ledger" / "ledger.db"
    if not db.exists():
        return None
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT value FROM info WHERE key = 'model'").fetchone()
    except sqlite3.DatabaseError:
        return None
    finally:
        con.close()
    return None if row is None else row[0]


def read_history(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"corrupt session history {path}: {e}") from e
    if not isinstance(data, dict) or data.get("format") != HISTORY_FORMAT:
        raise ValueError(f"{path} is not a repair session history (format {HISTORY_FORMAT!r} expected)")
    return data


def attach_ledger(patient: Any, root: Path) -> None:
    """Give ``patient`` the session's ledger at ``root`` and re-apply the edits stored there (nothing
    to do when it already carries that one)."""
    led = patient.ledger
    if led.root is not None and led.root.resolve() == root.resolve():
        return
    if led.active:
        raise ValueError(
            f"the patient already carries {len(led.active)} edit(s) from ledger {led.root}; load it with "
            f"repair.load(name, ledger={str(root)!r}) or use Session.open(session_dir)"
        )
    patient.ledger = Ledger(
        patient.model,
        patient.arch,
        patient.fingerprint,
        root,
        aliases=getattr(patient, "fingerprint_aliases", ()),
    )
    patient.ledger.load()


def load_turns(patient: Any, session_dir: Path) -> list[Turn]:
    """The session's stored turns (an old ``history.json`` is migrated first); the model it belongs to
    is checked, or recorded for a new folder."""
    ledger = patient.ledger
    assert ledger.store is not None and ledger.history is not None
    legacy = session_dir / "history.json"
    saved = read_history(legacy)
    model = (saved or {}).get("model") or saved_model(session_dir)
    if model not in (None, patient.name):
        raise ValueError(f"session {session_dir} belongs to model {model!r}, not {patient.name!r}")
    if saved is not None:
        from repair.edit.ledger.migrate import migrate_history

        migrate_history(ledger.store, legacy)
    if model is None:
        with ledger.store.write() as conn:
            ledger.store.set_info(conn, "model", patient.name)
    return stored_turns(ledger)


def stored_turns(ledger: Any) -> list[Turn]:
    """The turns in the ledger's database (of its scope), the replies given while an undone edit was on
    marked stale: they stay out of the context."""
    turns = ledger.history.load()
    for m in ledger.list(include_undone=True):
        if m.status == "undone":
            mark_stale(turns, m)
    return turns


def model_of(session_dir: Path) -> str | None:
    """The model a session folder was made with: its old history file's, else its database's."""
    saved = read_history(session_dir / "history.json")  # a session from before the database
    return (saved or {}).get("model") or saved_model(session_dir)
