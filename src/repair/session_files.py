"""A session folder's files from before the ledger's database: the model it was made with, and the
old ``history.json`` format (read once, then migrated into the database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
