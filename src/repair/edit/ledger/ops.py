"""Operations on a ledger folder that need no model: open (migrate, tidy), undo, audit, retention.
``repair edits list|show|undo|purge|audit|retention`` use these (``doctor`` reads tensors: ``tensors``); a
running server sees their changes on its next request (``Ledger.sync``). Standard library and pydantic
only, but for a v1 ledger's migration."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from repair.edit.ledger.crypto import text_hmac
from repair.edit.ledger.files import (
    ForeignLedgerError,
    LedgerChangedError,
    NoLedgerError,
    crashpoint,
)
from repair.edit.ledger.history import History
from repair.edit.ledger.maintenance import Tidy, backups, cleanup, finish_purge, scrub_backups
from repair.edit.ledger.migrate import migrate, needs_migration, remove_legacy
from repair.edit.ledger.store import EditRecord, Store


def open_store(
    root: Path,
    fingerprint: str | None = None,
    aliases: set[str] | None = None,
    wait: float | None = None,
    create: bool = True,
) -> tuple[Store, Tidy]:
    """Open (and on first use create or migrate) the ledger in ``root``, and tidy it under the write lock."""
    root = Path(root)
    if not create and not (root / "ledger.db").exists() and not any(root.glob("*.json")):
        raise NoLedgerError(f"no ledger in {root}")
    store = Store(root, wait)
    migrated = False
    with store.write() as conn:
        store.ensure_schema(conn, fingerprint)
        known = store.info(conn, "fingerprint")
        if fingerprint and known not in (fingerprint, *(aliases or ())):
            raise ForeignLedgerError(
                f"ledger {root} belongs to another base model (fingerprint {known[:12]}…, this model "
                f"{fingerprint[:12]}…); refusing to apply its edits"
            )
        if needs_migration(store, conn):
            migrate(store, conn, fingerprint or "", aliases or set())
            migrated = True
        elif store.info(conn, "migrated") is None:  # a new ledger: later *.json files are not its business
            store.set_info(conn, "migrated", json.dumps({"from": None}))
        tidy = cleanup(store, conn)
    if migrated:
        crashpoint("migrate:after-commit")
    remove_legacy(store)
    if tidy.purged:
        finish_purge(store, tidy.purged)
    if backups(store.root):  # a purge cut short before it reached the backups
        scrub_backups(store.root, [r.id for r in store.records() if r.purged is not None])
    return store, tidy


def mark_undone(store: Store, conn: sqlite3.Connection, edit_id: str) -> EditRecord:
    """Inside a write transaction: mark an active edit undone and give its turns back to the context."""
    eid = store.resolve_id(edit_id, conn)
    rec = store.record(eid, conn)
    if rec.status != "active":
        raise KeyError(f"edit '{eid}' is not active (already undone?)")
    store.set_status(conn, eid, "undone")
    History.unredact(conn, eid)
    crashpoint("undo:before-commit")
    return store.record(eid, conn)


def undo(store: Store, edit_id: str) -> EditRecord:
    """Undo in the index only (a CLI undo): every process applying this ledger drops it on its next sync."""
    with store.write() as conn:
        rec = mark_undone(store, conn, edit_id)
    crashpoint("undo:after-commit")
    return rec


def audit(store: Store, text: str) -> list[EditRecord]:
    """The edits that forgot ``text`` (matched by its HMAC under the operator key; case and spacing aside)."""
    h = text_hmac(text)
    return [r for r in store.records() if h in r.forget_hmacs]


def set_retention(store: Store, seconds: float | None) -> Tidy:
    """Keep forgotten text at most ``seconds`` after its edit (None: until purged); applied now and on
    every open."""
    with store.write() as conn:
        store.set_info(conn, "retention_s", None if seconds is None else str(float(seconds)))
        tidy = cleanup(store, conn, now=time.time())
    if tidy.purged:
        finish_purge(store, tidy.purged)
    return tidy


def retention(store: Store) -> float | None:
    with store.read() as conn:
        v = store.info(conn, "retention_s")
    return None if v is None else float(v)


def expire(store: Store) -> list[str]:
    """Purge the edits past the retention period (if one is set); cheap when none is."""
    limit = retention(store)
    if limit is None or not any(
        r.purged is None and r.created < time.time() - limit for r in store.records()
    ):
        return []
    with store.write() as conn:
        tidy = cleanup(store, conn)
    if tidy.purged:
        finish_purge(store, tidy.purged)
    return tidy.purged


def scope_state(applied: list[str], records: Iterable[EditRecord], scope: str) -> tuple[str, ...]:
    """The edits a request in ``scope`` runs with: ``applied`` (on the weights, in order), then the
    scope's own active edits that are not, in order."""
    rest = sorted(
        (r for r in records if r.status == "active" and r.id not in set(applied)), key=lambda r: r.seq
    )
    return tuple(applied + [r.id for r in rest if r.scope == scope])


def check_base(state: tuple[str, ...], based_on: Sequence[str] | None) -> None:
    """Refuse to commit an edit computed on another ``state`` than the one it would now be committed on."""
    if based_on is not None and state != tuple(based_on):
        raise LedgerChangedError(
            "the edits on the model changed while this edit was made (another process committed or undid "
            "one); it was checked against another model and is not committed"
        )
