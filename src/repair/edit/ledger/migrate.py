"""Migration of a file-based ledger (``repair-ledger/1``: one JSON manifest and one delta file per edit)
into the database, on first open. The old files are first copied to ``ROOT/backup-v1/``; a crash at any
point leaves either the old ledger (migrated again on the next open) or the new one."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from repair.edit.ledger.files import LedgerError, crashpoint, fsync_dir
from repair.edit.ledger.history import History
from repair.edit.ledger.maintenance import BACKUP_PREFIX
from repair.edit.ledger.store import Store

V1 = "repair-ledger/1"
REQUIRED = (
    "format",
    "id",
    "created",
    "seq",
    "status",
    "fingerprint",
    "deltas_file",
    "deltas_sha256",
    "deltas",
)


def legacy_manifests(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*.json") if p.is_file())


def _read(path: Path, fingerprints: set[str] | None) -> dict[str, Any]:
    try:
        m = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LedgerError(f"corrupt ledger manifest {path}: {e}") from None
    if not isinstance(m, dict) or m.get("format") != V1:
        raise LedgerError(f"{path} is not a repair ledger manifest (format {V1!r} expected)")
    missing = [k for k in REQUIRED if k not in m]
    if missing:
        raise LedgerError(f"corrupt ledger manifest {path}: missing {missing}")
    if fingerprints is not None and m["fingerprint"] not in fingerprints:
        raise LedgerError(
            f"{path} belongs to another base model (fingerprint {m['fingerprint'][:12]}…); "
            "refusing to migrate it"
        )
    return m


def _backup(root: Path, files: list[Path]) -> Path:
    """Copy the old files to ``backup-v1`` (made whole under a temporary name, then renamed)."""
    dst = root / f"{BACKUP_PREFIX}v1"
    tmp = root / f".{BACKUP_PREFIX}v1.tmp-migrate"
    for p in (dst, tmp):
        if p.exists():
            shutil.rmtree(p)
    tmp.mkdir(mode=0o700)
    for f in files:
        shutil.copy2(f, tmp / f.name)
    fsync_dir(tmp)
    tmp.rename(dst)
    fsync_dir(root)
    return dst


def needs_migration(store: Store, conn: sqlite3.Connection) -> bool:
    return store.info(conn, "migrated") is None and bool(legacy_manifests(store.root))


def migrate(store: Store, conn: sqlite3.Connection, fingerprint: str, aliases: set[str]) -> int:
    """Inside the caller's write transaction: import every v1 manifest in order. Returns the count."""
    from repair.edit.ledger.tensors import legacy_edit, stage  # only a v1 ledger loads the tensor side

    root = store.root
    manifests = [_read(p, {fingerprint, *aliases} if fingerprint else None) for p in legacy_manifests(root)]
    files = [root / f"{m['id']}.json" for m in manifests] + [root / m["deltas_file"] for m in manifests]
    _backup(root, [f for f in files if f.exists()])
    crashpoint("migrate:after-backup")
    for m in sorted(manifests, key=lambda m: m["seq"]):
        edit = legacy_edit(root, m)
        rec, _ = stage(
            store,
            conn,
            edit,
            fingerprint=fingerprint or m["fingerprint"],
            created=m["created"],
            status="active" if m["status"] == "active" else "undone",
        )
        if m.get("undone"):
            conn.execute("UPDATE edits SET undone = ? WHERE id = ?", (m["undone"], rec.id))
        crashpoint("migrate:mid")
    store.set_info(conn, "migrated", json.dumps({"from": V1, "edits": len(manifests)}))
    crashpoint("migrate:before-commit")
    return len(manifests)


def remove_legacy(store: Store) -> None:
    """After the migration committed: delete the old files (each has its copy in the backup)."""
    backup = store.root / f"{BACKUP_PREFIX}v1"
    for p in list(store.root.glob("*.json")) + list(store.root.glob("*.safetensors")):
        if (backup / p.name).exists():
            p.unlink(missing_ok=True)


def migrate_history(store: Store, path: Path) -> int:
    """Import a session's ``history.json`` (``repair-session/1``) into the database: turns hidden by an
    active edit are sealed under its key. The file is copied to the backup first, then removed."""
    data = json.loads(path.read_text())
    turns = data.get("turns", [])
    with store.write() as conn:
        if store.info(conn, "history_migrated") is not None:  # migrated; the file outlived a crash
            path.unlink()
            return 0
        backup = store.root / f"{BACKUP_PREFIX}v1"
        backup.mkdir(mode=0o700, exist_ok=True)
        shutil.copy2(path, backup / "history.json")
        fsync_dir(backup)
        ids = History.import_turns(conn, turns)
        by_edit: dict[str, list[int]] = {}
        for tid, t in zip(ids, turns, strict=True):
            if t.get("redacted_by"):
                by_edit.setdefault(t["redacted_by"], []).append(tid)
        for eid, tids in by_edit.items():
            key = store.keys.get(eid)
            if key is not None:
                History(store).redact(conn, tids, eid, key)
            else:  # its edit is gone or purged: the text is not kept
                conn.executemany("DELETE FROM turns WHERE id = ?", [(i,) for i in tids])
        store.set_info(
            conn, "history_migrated", json.dumps({"model": data.get("model"), "turns": len(turns)})
        )
        crashpoint("migrate:history-before-commit")
    crashpoint("migrate:history-after-commit")
    path.unlink()
    fsync_dir(path.parent)
    store.checkpoint()
    return len(turns)
