"""Files of the ledger: atomic writes, delta files named by their content hash, and their checks on load."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel
from safetensors.torch import load, save

from repair.edit.delta import Edit, MapDelta


class DeltaShape(BaseModel):
    """What the index records of one delta: which map, dense or a LoRA pair (of this rank), its shape."""

    layer: int
    map: str
    kind: Literal["dense", "lora"]
    rank: int | None = None
    shape: list[int]

    @classmethod
    def of(cls, d: MapDelta) -> DeltaShape:
        if d.dense is not None:
            return cls(layer=d.layer, map=d.map, kind="dense", shape=[int(x) for x in d.dense.shape])
        assert d.a is not None and d.b is not None
        shape = [int(d.b.shape[0]), int(d.a.shape[1])]
        return cls(layer=d.layer, map=d.map, kind="lora", rank=int(d.a.shape[0]), shape=shape)


class LedgerError(RuntimeError):
    """A ledger record or delta file is corrupt, foreign (another base model) or inconsistent."""


class LedgerBusyError(LedgerError):
    """Another process or thread is editing this patient right now."""


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


def delta_bytes(edit: Edit) -> bytes:
    """The deltas (only what undo and re-apply need: no forget keys) as safetensors bytes."""
    tensors: dict[str, torch.Tensor] = {}
    for d in edit.deltas:
        if d.dense is not None:
            tensors[f"{d.key}.dense"] = d.dense.detach().float().contiguous()
        else:
            assert d.a is not None and d.b is not None
            tensors[f"{d.key}.B"] = d.b.detach().float().contiguous()
            tensors[f"{d.key}.A"] = d.a.detach().float().contiguous()
    return save(tensors)


def write_deltas(folder: Path, data: bytes) -> str:
    """Store ``data`` as ``folder/<sha256>.safetensors`` (atomic; an identical file is reused)."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = sha256_bytes(data)
    path = folder / f"{digest}.safetensors"
    if not path.exists():
        atomic_write_bytes(path, data)
    return digest


def read_deltas(folder: Path, edit_id: str, digest: str, spec: list[DeltaShape]) -> list[MapDelta]:
    """The deltas of one edit, checked: the content hash, every tensor present, finite, and of the
    shape the index recorded. A failure raises LedgerError naming the edit."""
    path = folder / f"{digest}.safetensors"
    if not path.exists():
        raise LedgerError(f"edit {edit_id}: its delta file {path.name} is missing")
    data = path.read_bytes()
    if sha256_bytes(data) != digest:
        raise LedgerError(f"edit {edit_id}: delta file {path.name} does not match its sha256 (corrupt)")
    t = load(data)
    out = []
    for s in spec:
        key = f"layers.{s.layer}.{s.map}"
        try:
            if s.kind == "dense":
                d = MapDelta(s.layer, s.map, dense=t[f"{key}.dense"])
            else:
                d = MapDelta(s.layer, s.map, b=t[f"{key}.B"], a=t[f"{key}.A"])
        except KeyError as e:
            raise LedgerError(f"edit {edit_id}: delta file lacks tensor {e.args[0]}") from None
        check_delta(edit_id, d, tuple(s.shape))
        out.append(d)
    return out


def check_delta(edit_id: str, d: MapDelta, shape: tuple[int, ...]) -> None:
    parts = [d.dense] if d.dense is not None else [d.b, d.a]
    if not all(p is not None and torch.isfinite(p).all() for p in parts):
        raise LedgerError(f"edit {edit_id}: the delta of layer {d.layer} {d.map} is not finite (NaN or Inf)")
    got = tuple(d.dense.shape) if d.dense is not None else (d.b.shape[0], d.a.shape[1])  # type: ignore[union-attr]
    lora_ok = d.dense is not None or d.b.shape[1] == d.a.shape[0]  # type: ignore[union-attr]
    if got != shape or not lora_ok:
        raise LedgerError(
            f"edit {edit_id}: the delta of layer {d.layer} {d.map} has shape {got}, expected {shape}"
        )


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=str, sort_keys=True)
