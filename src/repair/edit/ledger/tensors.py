"""The ledger's tensor side: delta files and forget keys as safetensors, staging an edit's rows and files,
reading a v1 manifest's deltas, and the doctor's checks. Imported by the model-bound ``Ledger`` and, lazily,
by the few model-free operations that touch tensors (a v1 migration, ``repair edits doctor``); listing and
showing a ledger never import it."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load, save

from repair.edit.delta import Edit, MapDelta
from repair.edit.ledger.crypto import seal
from repair.edit.ledger.files import (
    DeltaShape,
    LedgerError,
    crashpoint,
    dumps,
    sha256_bytes,
    write_deltas,
)
from repair.edit.ledger.private import forget_hmacs
from repair.edit.ledger.store import GLOBAL, EditRecord, Status, Store
from repair.edit.record import EditMeta


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
            if d.gate is not None:
                tensors[f"{d.key}.G"] = d.gate.detach().float().contiguous()
    return save(tensors)


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
                gate = t[f"{key}.G"] if s.kind == "gated" else None
                d = MapDelta(s.layer, s.map, b=t[f"{key}.B"], a=t[f"{key}.A"], gate=gate)
        except KeyError as e:
            raise LedgerError(f"edit {edit_id}: delta file lacks tensor {e.args[0]}") from None
        check_delta(edit_id, d, tuple(s.shape))
        out.append(d)
    return out


def check_delta(edit_id: str, d: MapDelta, shape: tuple[int, ...]) -> None:
    parts = [d.dense] if d.dense is not None else [d.b, d.a, *([] if d.gate is None else [d.gate])]
    if not all(p is not None and torch.isfinite(p).all() for p in parts):
        raise LedgerError(f"edit {edit_id}: the delta of layer {d.layer} {d.map} is not finite (NaN or Inf)")
    got = tuple(d.dense.shape) if d.dense is not None else (d.b.shape[0], d.a.shape[1])  # type: ignore[union-attr]
    lora_ok = d.dense is not None or d.b.shape[1] == d.a.shape[0]  # type: ignore[union-attr]
    if d.gate is not None:
        lora_ok = lora_ok and tuple(d.gate.shape) == (d.a.shape[1],)  # type: ignore[union-attr]
    if got != shape or not lora_ok:
        raise LedgerError(
            f"edit {edit_id}: the delta of layer {d.layer} {d.map} has shape {got}, expected {shape}"
        )


def pack(edit: Edit, private: dict[str, Any]) -> bytes:
    """The private meta and the forget keys (activations of the forgotten text), as safetensors bytes."""
    tensors = {
        f"{d.key}.keys": d.keys.detach().float().contiguous() for d in edit.deltas if d.keys is not None
    }
    return save(tensors, metadata={"private": json.dumps(private, default=str)})


def forget_keys(data: bytes) -> dict[str, torch.Tensor]:
    """The forget keys of an opened private part (``PrivatePart.data``), by delta key."""
    return {k.removesuffix(".keys"): v for k, v in load(data).items()}


def delta_shapes(edit: Edit) -> list[DeltaShape]:
    return [DeltaShape.of(d) for d in edit.deltas]


def memory_record(edit: Edit, scope: str, fingerprint: str, seq: int) -> tuple[EditRecord, dict[str, Any]]:
    """An in-memory ledger's record of ``edit`` (no audit: no HMACs) and its private part."""
    public, private = edit.meta.split()
    rec = EditRecord(
        id=edit.id, seq=seq, scope=scope, status="active", created=time.time(), fingerprint=fingerprint,
        deltas_sha256="", deltas=delta_shapes(edit), layers=edit.layers, maps=edit.maps,
        timings=dict(edit.timings), meta=EditMeta.load(public), forget_hmacs=[], private="sealed",
    )  # fmt: skip
    return rec, private


def stage(
    store: Store,
    conn: sqlite3.Connection,
    edit: Edit,
    *,
    fingerprint: str,
    scope: str = GLOBAL,
    status: Status = "active",
    created: float | None = None,
    force_key: bool = False,
) -> tuple[EditRecord, bytes | None]:
    """Write the edit's delta file and key and insert its row (inside the caller's transaction). Returns
    the record and the edit's key (None when nothing private was kept)."""
    public, private = edit.meta.split()
    digest = write_deltas(store.deltas, delta_bytes(edit))
    crashpoint("commit:after-delta")
    key = sealed = None
    if force_key or private or any(d.keys is not None for d in edit.deltas):
        key = store.keys.create(edit.id)
        crashpoint("commit:after-key")
        sealed = seal(key, pack(edit, private), edit.id)
    rec = EditRecord(
        id=edit.id, seq=store.next_seq(conn), scope=scope, status=status, created=created or time.time(),
        fingerprint=fingerprint, deltas_sha256=digest, deltas=delta_shapes(edit), layers=edit.layers,
        maps=edit.maps, timings=dict(edit.timings), meta=EditMeta.load(json.loads(dumps(public))),
        forget_hmacs=forget_hmacs(edit.meta),
    )  # fmt: skip
    store.insert(conn, rec, sealed)
    store.bump(conn)
    return rec, key


def legacy_edit(root: Path, m: dict[str, Any]) -> Edit:
    """The edit a v1 manifest describes, with its delta file checked against the manifest's sha256."""
    path = root / m["deltas_file"]
    if not path.exists():
        raise LedgerError(f"ledger manifest {m['id']} names {path.name}, which is missing")
    data = path.read_bytes()
    if sha256_bytes(data) != m["deltas_sha256"]:
        raise LedgerError(f"delta file {path} does not match its manifest's sha256 (corrupt)")
    t = load(data)
    deltas = []
    for s in m["deltas"]:
        key = f"layers.{s['layer']}.{s['map']}"
        parts = (
            {"dense": t[f"{key}.dense"]} if s["kind"] == "dense" else {"b": t[f"{key}.B"], "a": t[f"{key}.A"]}
        )
        deltas.append(MapDelta(s["layer"], s["map"], keys=t.get(f"{key}.keys"), **parts))
    return Edit(m["id"], deltas, meta=EditMeta.load(m.get("meta")), timings=m.get("timings", {}))


def check(store: Store, rec: EditRecord, shape_of: Any = None) -> str | None:
    """Why an edit cannot be applied (its delta file missing, corrupt, not finite, of the wrong shape for the
    model), or None."""
    try:
        deltas = read_deltas(store.deltas, rec.id, rec.deltas_sha256, rec.deltas)
        for d in deltas if shape_of is not None else []:
            want = shape_of(rec.id, d.layer, d.map)
            got = tuple(d.dense.shape) if d.dense is not None else (d.b.shape[0], d.a.shape[1])  # type: ignore[union-attr]
            if tuple(want) != got:
                raise LedgerError(
                    f"edit {rec.id}: the delta of layer {d.layer} {d.map} has shape {got}, "
                    f"but this model's map is {tuple(want)}"
                )
    except LedgerError as e:
        return str(e)
    return None


def doctor(store: Store, quarantine: bool = False, shape_of: Any = None) -> dict[str, str]:
    """Problems of the active edits by id; with ``quarantine`` (the user's consent) each failing edit is set
    aside (status "quarantined": never applied, still listed with its problem) so that the rest load."""
    problems = {r.id: p for r in store.records() if r.status == "active" and (p := check(store, r, shape_of))}
    if quarantine and problems:
        with store.write() as conn:
            for eid, why in problems.items():
                store.set_status(conn, eid, "quarantined", problem=why)
    return problems
