"""The ledger's index: one SQLite database (WAL) per ledger folder, shared by every process.

    ROOT/ledger.db            edits (order, scope, status, public record, sealed private part), turns
    ROOT/deltas/SHA.safetensors   the weight deltas, named by their content hash
    ROOT/keys/ID.key          one AES-256-GCM key per edit (deleted by a purge)

Writers take ``ROOT/.lock`` (flock; waits up to ``REPAIR_LEDGER_WAIT`` seconds, default 10) and then a
write transaction; readers never wait. ``data_version`` changes whenever another process commits, so a
long-running process can tell cheaply whether to re-read the index.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from repair.edit.ledger.crypto import EditKeys
from repair.edit.ledger.files import DeltaShape, LedgerBusyError, LedgerError, UnreadableLedgerError
from repair.edit.record import EditMeta

FORMAT = "repair-ledger/2"
GLOBAL = "global"
Status = Literal["active", "undone", "quarantined"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS info(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS edits(
  id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, scope TEXT NOT NULL DEFAULT 'global',
  status TEXT NOT NULL CHECK (status IN ('active', 'undone', 'quarantined')),
  created REAL NOT NULL, undone REAL, purged REAL, problem TEXT,
  fingerprint TEXT NOT NULL, deltas_sha256 TEXT NOT NULL, deltas TEXT NOT NULL,
  public TEXT NOT NULL, forget_hmacs TEXT NOT NULL DEFAULT '[]', sealed BLOB);
CREATE TABLE IF NOT EXISTS turns(
  id INTEGER PRIMARY KEY AUTOINCREMENT, role TEXT NOT NULL, kind TEXT, time REAL,
  content TEXT, sealed BLOB, sealed_by TEXT, redacted_by TEXT, edit_id TEXT, outcome TEXT,
  scope TEXT NOT NULL DEFAULT 'global');
"""


# every column but the sealed blob (read only when it is opened): listing stays cheap however much is sealed
RECORD_COLUMNS = (
    "id, seq, scope, status, created, undone, purged, problem, fingerprint, deltas_sha256, deltas, public, "
    "forget_hmacs, sealed IS NOT NULL AS has_sealed"
)


def resolve_in(ids: list[str], edit_id: str) -> str:
    """The edit among ``ids`` named by ``edit_id``: its id, or the one id it begins or ends."""
    if edit_id in ids:
        return edit_id
    hits = [k for k in ids if edit_id and (k.startswith(edit_id) or k.endswith(edit_id))]
    if len(hits) == 1:
        return hits[0]
    raise KeyError(f"no edit '{edit_id}'" if not hits else f"edit id '{edit_id}' is ambiguous: {hits}")


class EditRecord(BaseModel):
    """One edit as the index keeps it, without its private part."""

    id: str
    seq: int
    scope: str = GLOBAL
    status: Status
    created: float
    undone: float | None = None
    purged: float | None = None
    problem: str | None = None
    fingerprint: str
    deltas_sha256: str
    deltas: list[DeltaShape]
    layers: list[int] = Field(default_factory=list)
    maps: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    meta: EditMeta = Field(default_factory=EditMeta)  # the public part: no forgotten text
    forget_hmacs: list[str] = Field(default_factory=list)
    private: Literal["sealed", "purged", "none"] = "none"

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``repair edits show``, a v1 manifest's fields): the meta without unset fields."""
        return {"format": FORMAT, **self.model_dump(exclude={"meta"}), "meta": self.meta.dump()}


class ShownEdit(EditRecord):
    """One record as ``Ledger.show`` gives it: with its private part when an operator asked to reveal it
    (while its key exists)."""

    revealed: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        if self.revealed is None:
            del out["revealed"]
        return out


def _record(row: sqlite3.Row) -> EditRecord:
    pub = json.loads(row["public"])
    private = "purged" if row["purged"] is not None else ("sealed" if row["has_sealed"] else "none")
    return EditRecord(
        id=row["id"], seq=row["seq"], scope=row["scope"], status=row["status"], created=row["created"],
        undone=row["undone"], purged=row["purged"], problem=row["problem"], fingerprint=row["fingerprint"],
        deltas_sha256=row["deltas_sha256"], deltas=json.loads(row["deltas"]), layers=pub.get("layers", []),
        maps=pub.get("maps", []), timings=pub.get("timings", {}), meta=EditMeta.load(pub.get("meta")),
        forget_hmacs=json.loads(row["forget_hmacs"]), private=private,
    )  # fmt: skip


def lock_wait() -> float:
    return float(os.environ.get("REPAIR_LEDGER_WAIT", "10"))


class Store:
    """The index of one ledger folder (no model needed: list, show, undo, purge work on it alone)."""

    def __init__(self, root: Path, wait: float | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.deltas = self.root / "deltas"
        self.keys = EditKeys(self.root / "keys")
        self.wait = lock_wait() if wait is None else wait
        self._mutex = threading.RLock()  # one connection, shared by the process's threads
        path = self.root / "ledger.db"
        try:
            self.db = sqlite3.connect(path, timeout=self.wait, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            for pragma in ("synchronous=FULL", "secure_delete=ON", "foreign_keys=ON"):
                self.db.execute(f"PRAGMA {pragma}")
        except sqlite3.OperationalError as e:
            raise UnreadableLedgerError(f"cannot open the ledger database {path} ({e})") from None
        except sqlite3.DatabaseError as e:
            raise UnreadableLedgerError(f"{path} is not a ledger database ({e})") from None

    def close(self) -> None:
        with self._mutex:
            self.db.close()

    # -- locking ---------------------------------------------------------------------------------
    @contextmanager
    def _flock(self) -> Iterator[None]:
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + self.wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LedgerBusyError(
                            f"ledger {self.root} is locked by another process editing it; try again when it "
                            "finishes"
                        ) from None
                    time.sleep(0.02)
            yield
        finally:
            os.close(fd)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """The write lock and one transaction: everything inside commits together or not at all."""
        with self._mutex, self._flock():
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:  # another program (not repair) holds the database
                raise LedgerBusyError(f"ledger {self.root} is busy: {e}; try again in a moment") from None
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._mutex:
            yield self.db

    # -- info and versions -----------------------------------------------------------------------
    def ensure_schema(self, conn: sqlite3.Connection, fingerprint: str | None) -> None:
        for statement in SCHEMA.split(";"):  # not executescript: it would commit the open transaction
            if statement.strip():
                conn.execute(statement)
        columns = {r["name"] for r in conn.execute("PRAGMA table_info(turns)")}
        if "scope" not in columns:  # a ledger from before the server kept each scope's conversation
            conn.execute("ALTER TABLE turns ADD COLUMN scope TEXT NOT NULL DEFAULT 'global'")
        fmt = self.info(conn, "format")
        if fmt is None:
            conn.execute("INSERT INTO info VALUES ('format', ?)", (FORMAT,))
            conn.execute("INSERT INTO info VALUES ('version', '0')")
        elif fmt != FORMAT:
            raise LedgerError(f"{self.root} holds ledger format {fmt!r}; this repair reads {FORMAT!r}")
        if fingerprint and self.info(conn, "fingerprint") is None:
            conn.execute("INSERT INTO info VALUES ('fingerprint', ?)", (fingerprint,))

    @staticmethod
    def info(conn: sqlite3.Connection, key: str) -> str | None:
        try:
            row = conn.execute("SELECT value FROM info WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # no schema yet
            return None
        return None if row is None else row[0]

    @staticmethod
    def set_info(conn: sqlite3.Connection, key: str, value: str | None) -> None:
        if value is None:
            conn.execute("DELETE FROM info WHERE key = ?", (key,))
        else:
            conn.execute("INSERT OR REPLACE INTO info VALUES (?, ?)", (key, value))

    def bump(self, conn: sqlite3.Connection) -> int:
        """Count one change of the edits (the version a server reports)."""
        v = int(self.info(conn, "version") or 0) + 1
        self.set_info(conn, "version", str(v))
        return v

    def data_version(self) -> int:
        """Changes whenever another connection (another process) has committed: cheap, no table read."""
        with self._mutex:
            return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def version(self) -> int:
        with self.read() as conn:
            return int(self.info(conn, "version") or 0)

    # -- edits -----------------------------------------------------------------------------------
    def records(self, conn: sqlite3.Connection | None = None) -> list[EditRecord]:
        with self.read() as c:
            try:
                rows = (conn or c).execute(f"SELECT {RECORD_COLUMNS} FROM edits ORDER BY seq").fetchall()
            except sqlite3.OperationalError:  # an empty folder: no schema yet
                return []
        return [_record(r) for r in rows]

    def resolve_id(self, edit_id: str, conn: sqlite3.Connection | None = None) -> str:
        return resolve_in([r.id for r in self.records(conn)], edit_id)

    def record(self, edit_id: str, conn: sqlite3.Connection | None = None) -> EditRecord:
        eid = self.resolve_id(edit_id, conn)
        return next(r for r in self.records(conn) if r.id == eid)

    def sealed(self, edit_id: str, conn: sqlite3.Connection | None = None) -> bytes | None:
        with self.read() as c:
            row = (conn or c).execute("SELECT sealed FROM edits WHERE id = ?", (edit_id,)).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def next_seq(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM edits").fetchone()[0])

    def insert(self, conn: sqlite3.Connection, rec: EditRecord, sealed: bytes | None) -> None:
        pub = {"layers": rec.layers, "maps": rec.maps, "timings": rec.timings, "meta": rec.meta.dump()}
        conn.execute(
            "INSERT INTO edits (id, seq, scope, status, created, fingerprint, deltas_sha256, deltas, public, "
            "forget_hmacs, sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rec.id, rec.seq, rec.scope, rec.status, rec.created, rec.fingerprint, rec.deltas_sha256,
             json.dumps([d.model_dump() for d in rec.deltas]), json.dumps(pub, default=str), json.dumps(rec.forget_hmacs), sealed),
        )  # fmt: skip

    def update_public(self, conn: sqlite3.Connection, rec: EditRecord) -> None:
        pub = {"layers": rec.layers, "maps": rec.maps, "timings": rec.timings, "meta": rec.meta.dump()}
        conn.execute("UPDATE edits SET public = ? WHERE id = ?", (json.dumps(pub, default=str), rec.id))

    def set_status(
        self, conn: sqlite3.Connection, edit_id: str, status: Status, problem: str | None = None
    ) -> None:
        undone = time.time() if status == "undone" else None
        conn.execute(
            "UPDATE edits SET status = ?, undone = COALESCE(?, undone), problem = ? WHERE id = ?",
            (status, undone, problem, edit_id),
        )
        self.bump(conn)

    def checkpoint(self, tries: int = 50) -> bool:
        """Fold the WAL into the database and truncate it to zero bytes (so that pages a purge or a
        redaction overwrote leave no copy in ``ledger.db-wal``). False if readers kept it busy."""
        for _ in range(tries):
            with self._mutex:
                busy, _, _ = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return True
            time.sleep(0.02)
        return False
