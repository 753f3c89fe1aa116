"""The edit ledger: every edit is a safetensors file of deltas plus a JSON manifest, written atomically.

Base weights are never overwritten. Edits are applied on top of a snapshot of the touched base
matrices, so undo restores the exact bits: touched matrices are reset from the snapshot and the
remaining active edits are re-applied in order.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from repair.edit.delta import Edit, MapDelta
from repair.models.arch import ArchMap

FORMAT = "repair-ledger/1"
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


class LedgerError(RuntimeError):
    """A manifest or delta file is corrupt, foreign (another base model) or inconsistent."""


class LedgerBusyError(LedgerError):
    """Another process or thread is editing this patient right now."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file, fsync, rename: a crash leaves the old file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Ledger:
    """Edits for one patient, persisted in ``root`` (or in memory only when ``root`` is None)."""

    def __init__(self, model: torch.nn.Module, arch: ArchMap, fingerprint: str, root: Path | None) -> None:
        self.model, self.arch, self.fingerprint = model, arch, fingerprint
        self.root = Path(root) if root is not None else None
        self._edits: list[Edit] = []  # active edits, in application order
        self._manifests: dict[str, dict[str, Any]] = {}
        self._base: dict[tuple[int, str], torch.Tensor] = {}  # snapshot of touched base matrices
        self._lock = threading.RLock()
        self._trials = 0
        if self.root is not None:
            self.root.mkdir(parents=True, exist_ok=True)

    # -- locking -----------------------------------------------------------------------------
    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        if not self._lock.acquire(blocking=False):
            raise LedgerBusyError("another edit of this patient is in progress; try again when it finishes")
        try:
            if self.root is None:
                yield
                return
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError as e:
                    raise LedgerBusyError(
                        f"ledger {self.root} is locked by another process editing this patient"
                    ) from e
                yield
            finally:
                os.close(fd)
        finally:
            self._lock.release()

    # -- weights -----------------------------------------------------------------------------
    def _snapshot(self, edit: Edit) -> None:
        for d in edit.deltas:
            key = (d.layer, d.map)
            if key not in self._base:
                self._base[key] = self.arch.linear(self.model, d.layer, d.map).weight.detach().clone()

    def _rebuild(self, keys: set[tuple[int, str]]) -> None:
        """Reset ``keys`` to the base snapshot and re-apply active edits in order (exact)."""
        with torch.no_grad():
            for key in keys:
                self.arch.linear(self.model, *key).weight.copy_(self._base[key])
            for e in self._edits:
                sub = [d for d in e.deltas if (d.layer, d.map) in keys]
                if sub:
                    Edit(e.id, sub).apply(self.model, self.arch)

    @contextmanager
    def trial(self, edit: Edit) -> Iterator[None]:
        """Apply ``edit`` to the live weights for a check, then restore them exactly."""
        with self._exclusive():
            self._snapshot(edit)
            edit.apply(self.model, self.arch)
            self._trials += 1
            try:
                yield
            finally:
                self._trials -= 1
                self._rebuild({(d.layer, d.map) for d in edit.deltas})

    # -- public API --------------------------------------------------------------------------
    def commit(self, edit: Edit, **meta: Any) -> Edit:
        """Apply ``edit`` to the live weights and persist it."""
        with self._exclusive():
            self._snapshot(edit)
            edit.apply(self.model, self.arch)
            for d in edit.deltas:
                if not torch.isfinite(self.arch.linear(self.model, d.layer, d.map).weight).all():
                    self._rebuild({(d.layer, d.map) for d in edit.deltas})
                    raise LedgerError(f"edit {edit.id} would write non-finite weights; not committed")
            self._edits.append(edit)
            edit.meta.update(meta)
            manifest = self._manifest(edit)
            self._manifests[edit.id] = manifest
            if self.root is not None:
                self._write(edit, manifest)
        return edit

    def undo(self, edit_id: str) -> dict[str, Any]:
        with self._exclusive():
            edit = self._find(edit_id)
            self._edits.remove(edit)
            self._rebuild({(d.layer, d.map) for d in edit.deltas})
            manifest = self._manifests[edit.id]
            manifest["status"] = "undone"
            manifest["undone"] = time.time()
            if self.root is not None:
                atomic_write_bytes(self.root / f"{edit.id}.json", json.dumps(manifest, indent=1).encode())
            return manifest

    def list(self, include_undone: bool = False) -> list[dict[str, Any]]:
        items = sorted(self._manifests.values(), key=lambda m: m["seq"])
        return [m for m in items if include_undone or m["status"] == "active"]

    def show(self, edit_id: str) -> dict[str, Any]:
        return self._manifests[self._resolve_id(edit_id)]

    def get(self, edit_id: str) -> Edit:
        return self._find(edit_id)

    @property
    def active(self) -> list[Edit]:
        return list(self._edits)

    @property
    def state(self) -> tuple[str, ...] | None:
        """Names the live weights: the active edits in order (undo restores base bit-exactly, so equal
        states are equal weights); None while a trial edit is applied on top."""
        return None if self._trials else tuple(e.id for e in self._edits)

    def update_meta(self, edit_id: str, **meta: Any) -> None:
        """Record facts learnt after commit (the verification result, say) in the manifest."""
        with self._exclusive():
            eid = self._resolve_id(edit_id)
            self._manifests[eid].setdefault("meta", {}).update(meta)
            if self.root is not None:
                atomic_write_bytes(
                    self.root / f"{eid}.json", json.dumps(self._manifests[eid], indent=1).encode()
                )

    def load(self) -> list[Edit]:
        """Read every manifest in ``root`` and re-apply the active edits in order."""
        if self.root is None:
            return []
        manifests = []
        for path in sorted(self.root.glob("*.json")):
            try:
                m = json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise LedgerError(f"corrupt ledger manifest {path}: {e}") from e
            if not isinstance(m, dict) or m.get("format") != FORMAT:
                raise LedgerError(f"{path} is not a repair ledger manifest (format {FORMAT!r} expected)")
            missing = [k for k in REQUIRED if k not in m]
            if missing:
                raise LedgerError(f"corrupt ledger manifest {path}: missing {missing}")
            if m["fingerprint"] != self.fingerprint:
                raise LedgerError(
                    f"{path} belongs to another base model (fingerprint {m['fingerprint'][:12]}…, "
                    f"this patient {self.fingerprint[:12]}…); refusing to apply it"
                )
            manifests.append(m)
        loaded = []
        for m in sorted(manifests, key=lambda m: m["seq"]):
            self._manifests[m["id"]] = m
            if m["status"] != "active":
                continue
            edit = self._read_deltas(m)
            with self._exclusive():
                self._snapshot(edit)
                edit.apply(self.model, self.arch)
                self._edits.append(edit)
            loaded.append(edit)
        return loaded

    # -- files -------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        return 1 + max((m["seq"] for m in self._manifests.values()), default=0)

    def _manifest(self, edit: Edit) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "id": edit.id,
            "created": time.time(),
            "seq": self._next_seq(),
            "status": "active",
            "fingerprint": self.fingerprint,
            "deltas_file": f"{edit.id}.safetensors",
            "deltas_sha256": "",
            "deltas": [
                {
                    "layer": d.layer,
                    "map": d.map,
                    "kind": "dense" if d.dense is not None else "lora",
                    "rank": int(d.a.shape[0]) if d.a is not None else None,
                }
                for d in edit.deltas
            ],
            "layers": edit.layers,
            "maps": edit.maps,
            "timings": edit.timings,
            "meta": edit.meta,
        }

    def _write(self, edit: Edit, manifest: dict[str, Any]) -> None:
        assert self.root is not None
        tensors: dict[str, torch.Tensor] = {}
        for d in edit.deltas:
            if d.dense is not None:
                tensors[f"{d.key}.dense"] = d.dense.contiguous()
            else:
                tensors[f"{d.key}.B"] = d.b.contiguous()
                tensors[f"{d.key}.A"] = d.a.contiguous()
            if d.keys is not None:
                tensors[f"{d.key}.keys"] = d.keys.contiguous()
        dpath = self.root / manifest["deltas_file"]
        tmp = dpath.with_name(f".{dpath.name}.tmp-{os.getpid()}")
        save_file(tensors, str(tmp), metadata={"edit_id": edit.id})
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dpath)
        manifest["deltas_sha256"] = _sha256_file(dpath)
        # The manifest goes last: a manifest on disk always names a complete delta file.
        atomic_write_bytes(
            self.root / f"{edit.id}.json", json.dumps(manifest, indent=1, default=str).encode()
        )

    def _read_deltas(self, m: dict[str, Any]) -> Edit:
        assert self.root is not None
        dpath = self.root / m["deltas_file"]
        if not dpath.exists():
            raise LedgerError(f"ledger manifest {m['id']} names {dpath.name}, which is missing")
        if _sha256_file(dpath) != m["deltas_sha256"]:
            raise LedgerError(f"delta file {dpath} does not match its manifest's sha256 (corrupt)")
        t = load_file(str(dpath))
        deltas = []
        for spec in m["deltas"]:
            key = f"layers.{spec['layer']}.{spec['map']}"
            keys = t.get(f"{key}.keys")
            if spec["kind"] == "dense":
                deltas.append(MapDelta(spec["layer"], spec["map"], dense=t[f"{key}.dense"], keys=keys))
            else:
                deltas.append(
                    MapDelta(spec["layer"], spec["map"], b=t[f"{key}.B"], a=t[f"{key}.A"], keys=keys)
                )
        return Edit(m["id"], deltas, meta=m.get("meta", {}), timings=m.get("timings", {}))

    def _resolve_id(self, edit_id: str) -> str:
        if edit_id in self._manifests:
            return edit_id
        hits = [k for k in self._manifests if k.startswith(edit_id) or k.endswith(edit_id)]
        if len(hits) == 1:
            return hits[0]
        raise KeyError(f"no edit '{edit_id}'" if not hits else f"edit id '{edit_id}' is ambiguous: {hits}")

    def _find(self, edit_id: str) -> Edit:
        eid = self._resolve_id(edit_id)
        for e in self._edits:
            if e.id == eid:
                return e
        raise KeyError(f"edit '{eid}' is not active (already undone?)")
