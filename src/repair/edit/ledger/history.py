"""Session turns in the ledger's database. A forgotten turn is sealed under its edit's key (no plain copy
is kept) and hidden from the chat's context; a purge deletes it. Each turn belongs to one scope (a served
API key's or user's conversation; the global one is the chat's): a `History` reads and writes its own."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from repair.edit.ledger.crypto import normalise, seal, unseal
from repair.edit.ledger.files import LedgerError
from repair.edit.ledger.store import GLOBAL, Store

FORGOTTEN = "[forgotten]"
COLUMNS = ("role", "kind", "time", "edit_id", "outcome")


MARKERS = ("edit_id", "outcome", "sealed_by", "redacted_by", "stale_by")


class Turn(BaseModel):
    """One turn of a session: as the ledger's database stores it, as a ``Session`` keeps it (``turns``) and,
    without ``sealed_by``, as its history shows it (``public_turn``; ``GET /v1/history``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: int | None = None  # its row in the database (a session without a folder has none)
    role: str
    content: str | None = None  # None: not kept (a forget request that committed nothing; a purged key)
    kind: str | None = None  # the reply's kind: chat, unlearn, confirm, ...
    time: float | None = None
    edit_id: str | None = None  # the edit an acknowledgement reports
    outcome: str | None = None
    sealed_by: str | None = None  # the edit whose key seals its text
    redacted_by: str | None = None  # the edit that hides it from the context
    stale_by: str | None = None  # a reply given while an edit that was since undone was on (not stored)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: the fields this turn was given, and each marker only while it names an edit."""
        out = self.model_dump(exclude_unset=True)
        return {k: v for k, v in out.items() if k not in MARKERS or v is not None}


class History:
    """The turns of one scope of the session whose ledger this is."""

    def __init__(self, store: Store, scope: str = GLOBAL) -> None:
        self.store, self.scope = store, scope

    def _aad(self, turn_id: int) -> str:
        return f"turn:{turn_id}"

    def load(self) -> list[Turn]:
        """Every turn, in order, with its text where it can be read: plain, or sealed under a key that still
        exists; a turn whose key is gone has ``content`` None."""
        with self.store.read() as conn:
            try:
                rows = conn.execute(
                    "SELECT * FROM turns WHERE scope = ? ORDER BY id", (self.scope,)
                ).fetchall()
            except sqlite3.OperationalError:
                return []
        return [self._turn(r) for r in rows]

    def _turn(self, r: sqlite3.Row) -> Turn:
        t = Turn(id=r["id"], role=r["role"], kind=r["kind"], time=r["time"], content=r["content"])
        if r["sealed"] is not None:
            key = self.store.keys.get(r["sealed_by"])
            try:
                t.content = unseal(key, r["sealed"], self._aad(r["id"])).decode() if key else None
            except LedgerError:
                t.content = None
            t.sealed_by = r["sealed_by"]
        for k in ("redacted_by", "edit_id", "outcome"):
            if r[k] is not None:
                setattr(t, k, r[k])
        return t

    def append(self, turns: list[Turn], seal_by: str | None = None) -> list[int]:
        """Add turns in one transaction; ``seal_by``: store their text sealed under that edit's key (a
        forget request and its acknowledgement name what was forgotten)."""
        key = self.store.keys.get(seal_by) if seal_by else None
        with self.store.write() as conn:
            return self.insert(conn, turns, seal_by, key)

    def insert(
        self, conn: sqlite3.Connection, turns: Sequence[Turn], seal_by: str | None, key: bytes | None
    ) -> list[int]:
        """Add turns inside the caller's transaction (an edit's commit adds the request that asked for it
        and its acknowledgement, sealed under its key); each turn learns its row and what seals it. With
        ``seal_by`` but no ``key`` (already purged) the text is not kept at all."""
        ids = []
        for t in turns:
            cur = conn.execute(
                "INSERT INTO turns (role, kind, time, edit_id, outcome, scope) VALUES (?, ?, ?, ?, ?, ?)",
                (*(getattr(t, c) for c in COLUMNS), self.scope),
            )
            tid = int(cur.lastrowid or 0)
            if key is not None:
                conn.execute(
                    "UPDATE turns SET sealed = ?, sealed_by = ? WHERE id = ?",
                    (seal(key, str(t.content).encode(), self._aad(tid)), seal_by, tid),
                )
            elif not seal_by:
                conn.execute("UPDATE turns SET content = ? WHERE id = ?", (t.content, tid))
            ids.append(tid)
        for t, tid in zip(turns, ids, strict=True):
            t.id = tid
            if seal_by:
                t.sealed_by = seal_by
        return ids

    def redact(self, conn: sqlite3.Connection, turn_ids: list[int], edit_id: str, key: bytes) -> None:
        """Inside the edit's commit: seal these turns under the edit's key, drop their plain text, hide them."""
        for tid in turn_ids:
            row = conn.execute("SELECT * FROM turns WHERE id = ?", (tid,)).fetchone()
            if row is None:
                continue
            text = self._turn(row).content
            if text is None:
                continue
            conn.execute(
                "UPDATE turns SET content = NULL, sealed = ?, sealed_by = ?, redacted_by = ? WHERE id = ?",
                (seal(key, text.encode(), self._aad(tid)), edit_id, edit_id, tid),
            )

    @staticmethod
    def unredact(conn: sqlite3.Connection, edit_id: str) -> None:
        """Undo: the turns come back into the context; they stay sealed, so a purge still removes them."""
        conn.execute("UPDATE turns SET redacted_by = NULL WHERE redacted_by = ?", (edit_id,))

    @staticmethod
    def import_turns(conn: sqlite3.Connection, turns: list[dict[str, Any]]) -> list[int]:
        """Insert the turns of an old ``history.json`` (its dicts, as that file holds them)."""
        ids = []
        for t in turns:
            cur = conn.execute(
                "INSERT INTO turns (role, kind, time, edit_id, outcome, content) VALUES (?, ?, ?, ?, ?, ?)",
                (*(t.get(c) for c in COLUMNS), t.get("content")),
            )
            ids.append(int(cur.lastrowid or 0))
        return ids


def turns_saying(store: Store, texts: list[str]) -> list[int]:
    """The plain turns, of every scope, that say one of ``texts`` (case and spacing aside), each with the
    other turn of its question and answer: what an edit made outside a chat (``repair forget --ledger
    SESSION``) must seal and hide in its own commit, as a chat's forget request does with the turns it
    names."""
    wanted = {normalise(t) for t in texts if t.strip()}
    with store.read() as conn:
        try:
            rows = conn.execute("SELECT id, role, scope, content FROM turns ORDER BY id").fetchall()
        except sqlite3.OperationalError:
            return []
    by_scope: dict[str, list[sqlite3.Row]] = {}
    for r in rows:
        by_scope.setdefault(r["scope"], []).append(r)
    ids: set[int] = set()
    for turns in by_scope.values():
        said = [t["content"] is not None and normalise(t["content"]) in wanted for t in turns]
        ids |= {t["id"] for t, hit in zip(turns, said, strict=True) if hit}
        for i, (u, a) in enumerate(zip(turns, turns[1:], strict=False)):
            if u["role"] == "user" and a["role"] == "assistant" and (said[i] or said[i + 1]):
                ids |= {u["id"], a["id"]}
    return sorted(ids)


def public_turn(t: Turn, active: set[str]) -> dict[str, Any]:
    """A turn as the history may show it, in its JSON form: never the text of a forgotten turn (one sealed
    by an edit that is still active, or whose key is gone), nor which key seals it."""
    out = {k: v for k, v in t.as_dict().items() if k not in ("content", "sealed_by")}
    hidden = t.content is None or t.redacted_by or (t.sealed_by in active)
    out["content"] = FORGOTTEN if hidden else t.content
    return out
