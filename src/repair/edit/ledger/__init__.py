"""The edit ledger: an SQLite index (WAL) shared by every process, delta files named by content hash, and
the forgotten text sealed under one key per edit (see ``store`` for the layout, README "What is stored,
where, and for how long").

Reading a ledger (``store``, ``ops``, ``history``, ``maintenance``) needs the standard library and pydantic
alone; the tensor side (``tensors``) and the model-bound ``Ledger`` (``core``) import torch, so ``Ledger``
is loaded on first use: ``repair edits list`` stays under a second."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from repair.edit.ledger.files import LedgerBusyError, LedgerError, atomic_write_bytes
from repair.edit.ledger.history import FORGOTTEN, History, Turn, public_turn
from repair.edit.ledger.store import FORMAT, GLOBAL, EditRecord, ShownEdit, Store

if TYPE_CHECKING:
    from repair.edit.ledger.core import Ledger

__all__ = [
    "FORGOTTEN", "FORMAT", "GLOBAL", "EditRecord", "History", "Ledger", "LedgerBusyError", "LedgerError",
    "ShownEdit", "Store", "Turn", "atomic_write_bytes", "public_turn",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name == "Ledger":
        from repair.edit.ledger.core import Ledger

        globals()["Ledger"] = Ledger
        return Ledger
    raise AttributeError(f"module 'repair.edit.ledger' has no attribute {name!r}")
