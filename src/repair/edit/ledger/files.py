"""Files of the ledger: atomic writes, delta files named by their content hash, what the index records of
a delta. Standard library and pydantic only: reading a ledger never imports torch (the tensors are read
and written in ``tensors``)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

if TYPE_CHECKING:
    from repair.edit.delta import MapDelta


class DeltaShape(BaseModel):
    """What the index records of one delta: which map, dense, a LoRA pair (of this rank) or a gated pair
    (a LoRA pair with its gate vector), its shape."""

    layer: int
    map: str
    kind: Literal["dense", "lora", "gated"]
    rank: int | None = None
    shape: list[int]

    @classmethod
    def of(cls, d: MapDelta) -> DeltaShape:
        if d.dense is not None:
            return cls(layer=d.layer, map=d.map, kind="dense", shape=[int(x) for x in d.dense.shape])
        assert d.a is not None and d.b is not None
        shape = [int(d.b.shape[0]), int(d.a.shape[1])]
        kind = "lora" if d.gate is None else "gated"
        return cls(layer=d.layer, map=d.map, kind=kind, rank=int(d.a.shape[0]), shape=shape)


class LedgerError(RuntimeError):
    """A ledger record or delta file is corrupt, foreign (another base model) or inconsistent."""


class LedgerBusyError(LedgerError):
    """Another process or thread is editing this patient right now."""


class LedgerChangedError(LedgerError):
    """The edits on the model changed (another process committed or undid one) after an edit was computed
    on it: the edit was made and checked against another model than the one it would be committed to."""


class ForeignLedgerError(LedgerError):
    """The ledger (or one of its edits) was made on another base model than the one loaded."""


class NoLedgerError(LedgerError):
    """The folder given holds no ledger (a command that only reads one found nothing there)."""


class UnreadableLedgerError(LedgerError):
    """The ledger's database cannot be opened or read (not a database, damaged, a folder in its place)."""


def crashpoint(name: str) -> None:
    """Fault injection for the crash tests: ``REPAIR_CRASH_AT=name`` kills the process right here, as a
    power cut would (no cleanup, no flush of Python buffers)."""
    if os.environ.get("REPAIR_CRASH_AT") == name:
        os._exit(137)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write to a temporary file, fsync, rename: a crash leaves the old file or the new one."""
    tmp = tmp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_deltas(folder: Path, data: bytes) -> str:
    """Store ``data`` as ``folder/<sha256>.safetensors`` (atomic; an identical file is reused)."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = sha256_bytes(data)
    path = folder / f"{digest}.safetensors"
    if not path.exists():
        atomic_write_bytes(path, data)
    return digest


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=str, sort_keys=True)
