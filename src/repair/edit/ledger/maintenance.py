"""Reading and purging an edit's private part, and tidying a folder after a crash (standard library and
pydantic only; an edit's rows and files are written by ``tensors.stage``)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

from pydantic import BaseModel, Field

from repair.edit.ledger.crypto import unseal
from repair.edit.ledger.files import atomic_write_bytes, crashpoint
from repair.edit.ledger.private import PrivatePart
from repair.edit.ledger.store import Store
from repair.edit.record import EditMeta

BACKUP_PREFIX = "backup-"


def private_part(store: Store, edit_id: str) -> PrivatePart | None:
    """An edit's private part (its forgotten text; the forget keys as bytes), or None once purged (or never
    kept)."""
    blob, key = store.sealed(edit_id), store.keys.get(edit_id)
    if blob is None or key is None:
        return None
    return PrivatePart.of(unseal(key, blob, edit_id))


def purge_locked(store: Store, conn: sqlite3.Connection, ids: list[str]) -> None:
    """Shred the keys first (what is sealed is unreadable from then on), then delete the sealed rows."""
    if not ids:
        return
    for eid in ids:
        store.keys.shred(eid)
        crashpoint("purge:after-key")
    now = time.time()
    conn.executemany(
        "UPDATE edits SET sealed = NULL, purged = COALESCE(purged, ?) WHERE id = ?", [(now, i) for i in ids]
    )
    conn.executemany("DELETE FROM turns WHERE sealed_by = ?", [(i,) for i in ids])
    store.bump(conn)
    crashpoint("purge:before-commit")


def purge(store: Store, ids: list[str] | None) -> list[str]:
    """Delete the private part of these edits (None: of all), their keys and sealed turns; checkpoint the
    WAL to zero bytes and scrub migration backups. The edits stay: undo restores the weights only."""
    with store.write() as conn:
        recs = store.records(conn)
        done = [r.id for r in recs if r.purged is None and (ids is None or r.id in ids)]
        purge_locked(store, conn, done)
    crashpoint("purge:after-commit")
    finish_purge(store, None if ids is None else done)
    return done


def finish_purge(store: Store, ids: list[str] | None) -> None:
    store.checkpoint()
    scrub_backups(store.root, ids)


class Tidy(BaseModel):
    """What ``cleanup`` found and removed."""

    removed: list[str] = Field(default_factory=list)
    purged: list[str] = Field(default_factory=list)


def cleanup(store: Store, conn: sqlite3.Connection, now: float | None = None) -> Tidy:
    """Under the write lock: remove temporary files, delta files and keys no row names (left by a crash
    mid-commit), finish a purge cut short, and purge edits past the retention period."""
    tidy = Tidy()
    for folder in (store.root, store.deltas, store.keys.folder):
        for p in folder.glob(".*.tmp-*") if folder.exists() else []:
            p.unlink(missing_ok=True)
            tidy.removed.append(str(p.relative_to(store.root)))
    recs = store.records(conn)
    refs = {r.deltas_sha256 for r in recs}
    for p in store.deltas.glob("*.safetensors") if store.deltas.exists() else []:
        if p.stem not in refs:
            p.unlink()
            tidy.removed.append(str(p.relative_to(store.root)))
    live = {r.id for r in recs if r.purged is None}
    for eid in store.keys.ids() - live:
        store.keys.shred(eid)
        tidy.removed.append(f"keys/{eid}.key")
    keys = store.keys.ids()
    broken = [r.id for r in recs if r.private == "sealed" and r.id not in keys]  # a purge cut short
    retention = store.info(conn, "retention_s")
    cutoff = (now or time.time()) - float(retention) if retention else None
    expired = [r.id for r in recs if cutoff is not None and r.purged is None and r.created < cutoff]
    tidy.purged = sorted(set(broken + expired))
    purge_locked(store, conn, tidy.purged)
    return tidy


def backups(root: Path) -> list[Path]:
    return sorted(p for p in root.glob(BACKUP_PREFIX + "*") if p.is_dir())


def scrub_backups(root: Path, ids: list[str] | None) -> None:
    """Remove what a purge deletes from the migration backups too: the whole backup for a purge of all;
    else the edits' manifests and delta files, and the history turns that held their text."""
    for b in backups(root):
        if ids is None:
            shutil.rmtree(b)
            continue
        texts: set[str] = set()
        for eid in ids:
            m = b / f"{eid}.json"
            if m.exists():
                try:
                    meta = EditMeta.load(json.loads(m.read_text()).get("meta"))
                except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
                    meta = EditMeta()
                texts |= set(meta.texts())
                m.unlink()
            (b / f"{eid}.safetensors").unlink(missing_ok=True)
        hist = b / "history.json"
        if hist.exists():
            _scrub_history(hist, set(ids), texts)


def _scrub_history(path: Path, ids: set[str], texts: set[str]) -> None:
    data = json.loads(path.read_text())
    turns = data.get("turns", [])
    drop = set()
    for i, t in enumerate(turns):
        if t.get("redacted_by") in ids or t.get("edit_id") in ids or t.get("content") in texts:
            drop.add(i)
            if t.get("edit_id") in ids and i > 0 and turns[i - 1].get("role") == "user":
                drop.add(i - 1)
    data["turns"] = [t for i, t in enumerate(turns) if i not in drop]
    atomic_write_bytes(path, json.dumps(data, indent=1).encode())
