"""The edit ledger: an SQLite index (WAL) shared by every process, delta files named by content hash, and
the forgotten text sealed under one key per edit (see ``store`` for the layout, README "What is stored,
where, and for how long")."""

from repair.edit.ledger.core import Ledger
from repair.edit.ledger.files import LedgerBusyError, LedgerError, atomic_write_bytes
from repair.edit.ledger.history import FORGOTTEN, History, public_turn
from repair.edit.ledger.store import FORMAT, GLOBAL, EditRecord, ShownEdit, Store

__all__ = [
    "FORGOTTEN", "FORMAT", "GLOBAL", "EditRecord", "History", "Ledger", "LedgerBusyError", "LedgerError",
    "ShownEdit", "Store", "atomic_write_bytes", "public_turn",
]  # fmt: skip
