"""The model-bound ledger: applies the index's active edits to a live model, bit-exactly undoable.

Base weights are never overwritten. Edits are applied on top of a snapshot of the touched base
matrices, so undo restores the exact bits: touched matrices are reset from the snapshot and the
remaining active edits are re-applied in order. ``sync()`` brings the weights to the database's current
state (another process's edit or undo) and costs one ``PRAGMA data_version`` when nothing changed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from repair.edit.delta import Edit, clear_gated
from repair.edit.ledger import maintenance, ops, tensors
from repair.edit.ledger.files import LedgerBusyError, LedgerError, crashpoint
from repair.edit.ledger.history import History, Turn
from repair.edit.ledger.store import GLOBAL, EditRecord, ShownEdit, resolve_in
from repair.edit.record import EditMeta
from repair.models.arch import ArchMap

log = logging.getLogger(__name__)
EXPIRE_EVERY_S = 600.0  # how often sync() applies the retention period


class Ledger:
    """Edits for one patient, persisted in ``root`` (or in memory only when ``root`` is None).

    ``scope``: besides the global edits, the edits of this scope are applied to the weights (a server
    serving one tenant); edits of other scopes are kept in the index but not applied."""

    def __init__(
        self,
        model: torch.nn.Module,
        arch: ArchMap,
        fingerprint: str,
        root: Path | None,
        *,
        scope: str = GLOBAL,
        aliases: Sequence[str] = (),
        wait: float | None = None,
    ) -> None:
        self.model, self.arch, self.fingerprint = model, arch, fingerprint
        self.root = Path(root) if root is not None else None
        self.scope, self.aliases = scope, set(aliases)
        self._edits: list[Edit] = []  # applied edits, in order
        self._records: dict[str, EditRecord] = {}
        self._private: dict[str, dict[str, Any]] = {}  # in-memory ledgers only
        self._base: dict[tuple[int, str], torch.Tensor] = {}  # snapshot of touched base matrices
        self._lock = threading.RLock()
        self._trials = 0
        self._dv: int | None = None
        self._expired_at = time.monotonic()  # open has just applied the retention period
        self.store = self.history = self.tidy = None
        if self.root is not None:
            self.store, self.tidy = ops.open_store(self.root, fingerprint, self.aliases, wait)
            self.history = History(self.store)

    @property
    def scopes(self) -> set[str]:
        return {GLOBAL, self.scope}

    # -- locking -----------------------------------------------------------------------------
    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        if not self._lock.acquire(blocking=False):
            raise LedgerBusyError("another edit of this patient is in progress; try again when it finishes")
        try:
            yield
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
                clear_gated(self.arch.linear(self.model, *key))
            for e in self._edits:
                sub = [d for d in e.deltas if (d.layer, d.map) in keys]
                if sub:
                    Edit(e.id, sub).apply(self.model, self.arch)

    def _shape(self, edit_id: str, layer: int, name: str) -> tuple[int, ...]:
        n = self.arch.n_layers(self.model)
        if not 0 <= layer < n:
            raise LedgerError(
                f"edit {edit_id}: layer {layer} does not exist in this model (layers 0..{n - 1})"
            )
        try:
            return tuple(self.arch.weight(self.model, layer, name).shape)
        except (KeyError, AttributeError, IndexError):
            raise LedgerError(f"edit {edit_id}: this model has no map '{name}' in layer {layer}") from None

    @contextmanager
    def trial(self, edit: Edit) -> Iterator[None]:
        """Apply ``edit`` to the live weights for a check, then restore them exactly."""
        with self._exclusive():
            for d in edit.deltas:
                self._shape(edit.id or "(trial)", d.layer, d.map)
            self._snapshot(edit)
            edit.apply(self.model, self.arch)
            self._trials += 1
            try:
                yield
            finally:
                self._trials -= 1
                self._rebuild({(d.layer, d.map) for d in edit.deltas})

    # -- keeping up with the database --------------------------------------------------------
    def sync(self) -> bool:
        """Bring the weights to the database's current state (edits and undos made by other processes).
        One ``PRAGMA data_version`` when nothing changed. True if anything was re-read."""
        if self.store is None:
            return False
        with self._lock:
            if time.monotonic() - self._expired_at > EXPIRE_EVERY_S:
                self._expired_at = time.monotonic()
                ops.expire(self.store)  # a long-running server honours the retention period too
            dv = self.store.data_version()
            if dv == self._dv:
                return False
            self._reconcile(self.store.records())
            self._dv = dv
            return True

    def _reconcile(self, records: list[EditRecord]) -> None:
        self._records = {r.id: r for r in records}
        for e in self._edits:  # purged by another process: drop what this process still holds of it
            if self._records.get(e.id) is not None and self._records[e.id].private == "purged":
                e.meta = EditMeta.load(self._records[e.id].meta)
                for d in e.deltas:
                    d.keys = None
        want = [r for r in records if r.status == "active" and r.scope in self.scopes]
        if [r.id for r in want] == [e.id for e in self._edits]:
            return
        have = {e.id: e for e in self._edits}
        new = {r.id: self._load_edit(r) for r in want if r.id not in have}
        keep = {r.id for r in want}
        touched = {(d.layer, d.map) for e in self._edits if e.id not in keep for d in e.deltas}
        touched |= {(d.layer, d.map) for e in new.values() for d in e.deltas}
        for e in new.values():
            self._snapshot(e)  # untouched by any applied edit: the live weights are the base
        self._edits = [have.get(r.id) or new[r.id] for r in want]
        self._rebuild(touched)

    def _load_edit(self, rec: EditRecord) -> Edit:
        assert self.store is not None
        try:
            if rec.fingerprint not in {self.fingerprint, *self.aliases}:
                raise LedgerError(
                    f"edit {rec.id} belongs to another base model (fingerprint {rec.fingerprint[:12]}…, "
                    f"this patient {self.fingerprint[:12]}…); refusing to apply it"
                )
            deltas = tensors.read_deltas(self.store.deltas, rec.id, rec.deltas_sha256, rec.deltas)
            for d, s in zip(deltas, rec.deltas, strict=True):
                if tuple(s.shape) != self._shape(rec.id, d.layer, d.map):
                    raise LedgerError(
                        f"edit {rec.id}: the delta of layer {d.layer} {d.map} has shape "
                        f"{tuple(s.shape)}, this model's map {self._shape(rec.id, d.layer, d.map)}"
                    )
        except LedgerError as e:
            raise LedgerError(
                f"{e}. Nothing was applied; `repair edits doctor --ledger {self.root} --quarantine` "
                "sets that edit aside so that the others load"
            ) from None
        try:
            private = maintenance.private_part(self.store, rec.id)
        except LedgerError as e:  # the weights are sound: apply them, without the unreadable private part
            log.warning(
                "%s; edit %s is applied without it (`repair edits purge %s` drops it)", e, rec.id, rec.id
            )
            private = None
        meta = EditMeta.load(rec.meta)
        if private is not None:
            meta = rec.meta.merged(private.meta)
            keys = tensors.forget_keys(private.data)
            for d in deltas:
                d.keys = keys.get(d.key)
        return Edit(rec.id, deltas, meta=meta, timings=dict(rec.timings))

    # -- public API --------------------------------------------------------------------------
    def load(self) -> list[Edit]:
        """Apply the index's active edits in order (on open). Returns them."""
        self._dv = None
        self.sync()
        return list(self._edits)

    def commit(
        self,
        edit: Edit,
        *,
        scope: str = GLOBAL,
        redact_turns: Sequence[int] = (),
        append_turns: Sequence[Turn] = (),
        history: History | None = None,
        based_on: Sequence[str] | None = None,
        **meta: Any,
    ) -> Edit:
        """Apply ``edit`` to the live weights (when its scope is applied here) and persist it, with ``meta``
        (`EditMeta` fields: the verdict, the target). In the same transaction ``redact_turns`` (session turns)
        are sealed under the edit's key and hidden, and ``append_turns`` (the request and its reply) added to
        ``history`` (default: the ledger's), sealed too. ``based_on``: the ``state_in(scope)`` the edit was made
        and checked on; any other raises `LedgerChangedError`."""
        with self._exclusive():
            edit.meta.set(**meta)
            applied = scope in self.scopes
            if self.store is None:
                ops.check_base(self.state_in(scope), based_on)
                self._apply_checked(edit) if applied else None
                return self._commit_memory(edit, scope, applied)
            try:
                with self.store.write() as conn:
                    self._reconcile(self.store.records(conn))  # the database's state first
                    self._dv = self.store.data_version()
                    ops.check_base(self.state_in(scope), based_on)
                    if applied:
                        self._apply_checked(edit)
                    rec, key = tensors.stage(
                        self.store,
                        conn,
                        edit,
                        fingerprint=self.fingerprint,
                        scope=scope,
                        force_key=bool(redact_turns or append_turns),
                    )
                    if redact_turns and self.history is not None and key is not None:
                        self.history.redact(conn, list(redact_turns), edit.id, key)
                    into = history or self.history
                    if append_turns and into is not None:
                        into.insert(conn, append_turns, edit.id, key)
                    crashpoint("commit:before-commit")
            except BaseException:
                if applied and edit.id not in {e.id for e in self._edits}:  # back to the weights before it
                    self._rebuild({(d.layer, d.map) for d in edit.deltas} & set(self._base))
                raise
            crashpoint("commit:after-commit")
            self._records[rec.id] = rec
            if applied:
                self._edits.append(edit)
            if redact_turns or append_turns:
                self.store.checkpoint()  # the turns' plain text leaves no copy in the WAL
        return edit

    def state_in(self, scope: str) -> tuple[str, ...]:
        """The edits a request in ``scope`` runs with, as last read (see ``ops.scope_state``)."""
        return ops.scope_state([e.id for e in self._edits], self._records.values(), scope)

    def _apply_checked(self, edit: Edit) -> None:
        for d in edit.deltas:
            self._shape(edit.id, d.layer, d.map)
        self._snapshot(edit)
        edit.apply(self.model, self.arch)
        for d in edit.deltas:
            if not torch.isfinite(self.arch.linear(self.model, d.layer, d.map).weight).all():
                self._rebuild({(d.layer, d.map) for d in edit.deltas})
                raise LedgerError(f"edit {edit.id} would write non-finite weights; not committed")

    def _commit_memory(self, edit: Edit, scope: str, applied: bool) -> Edit:
        seq = 1 + max((r.seq for r in self._records.values()), default=0)
        self._records[edit.id], self._private[edit.id] = tensors.memory_record(
            edit, scope, self.fingerprint, seq
        )
        if applied:
            self._edits.append(edit)
        return edit

    def undo(self, edit_id: str) -> EditRecord:
        """Undo an edit exactly (the weights return bit for bit); its record, now undone. KeyError if
        unknown or not active."""
        with self._exclusive():
            if self.store is None:
                rec = self._records[self._resolve_id(edit_id)]
                if rec.status != "active":
                    raise KeyError(f"edit '{rec.id}' is not active (already undone?)")
                rec.status, rec.undone = "undone", time.time()
            else:
                with self.store.write() as conn:
                    self._reconcile(self.store.records(conn))
                    self._dv = self.store.data_version()
                    rec = ops.mark_undone(self.store, conn, edit_id)
                crashpoint("undo:after-commit")
                self._records[rec.id] = rec
            gone = [e for e in self._edits if e.id == rec.id]
            if gone:
                self._edits.remove(gone[0])
                self._rebuild({(d.layer, d.map) for d in gone[0].deltas})
            return rec.model_copy(deep=True)

    def purge(self, edit_ids: Sequence[str] | None = None) -> list[str]:
        """Delete the forgotten text of these edits (None: all) for good: keys, sealed rows and turns, the
        WAL and the migration backups. The edits stay; undo then restores the weights only."""
        with self._exclusive():
            if self.store is None:
                ids = list(self._private) if edit_ids is None else [self._resolve_id(i) for i in edit_ids]
                for i in ids:
                    self._private.pop(i, None)
                    self._records[i].private = "purged"
                return ids
            ids = None if edit_ids is None else [self.store.resolve_id(i) for i in edit_ids]
            done = maintenance.purge(self.store, ids)
            for e in self._edits:
                if e.id in done:
                    e.meta = EditMeta.load(self._records[e.id].meta)
                    for d in e.deltas:
                        d.keys = None
            self._dv = None
            self.sync()
            return done

    def list(self, include_undone: bool = False, scope: str | None = None) -> list[EditRecord]:
        """Public records in order (never the forgotten text). ``scope``: the global edits and that scope's
        (default: every scope)."""
        records = (
            self.store.records()
            if self.store is not None
            else sorted(self._records.values(), key=lambda r: r.seq)
        )
        return [
            r.model_copy(deep=True)  # a copy: the in-memory ledger's own records stay its own
            for r in records
            if (include_undone or r.status == "active") and (scope is None or r.scope in (GLOBAL, scope))
        ]

    def show(self, edit_id: str, reveal: bool = False) -> ShownEdit:
        """One public record; ``reveal``: with its private part while its key exists (an operator's look)."""
        if self.store is None:
            rec = self._records[self._resolve_id(edit_id)]
            private = self._private.get(rec.id) if reveal else None
        else:
            rec = self.store.record(edit_id)
            found = maintenance.private_part(self.store, rec.id) if reveal else None
            private = found.meta.dump() if found is not None else None
        return ShownEdit(
            **dict(rec.model_copy(deep=True)), revealed=None if private is None else dict(private)
        )

    def get(self, edit_id: str) -> Edit:
        return self._find(edit_id)

    def edits_for(self, scope: str) -> list[Edit]:
        """The active edits a request in ``scope`` sees (global first, then the scope's, in order), loaded
        and checked: what a server applies per request (as LoRA pairs) for a tenant."""
        self.sync()
        loaded = {e.id: e for e in self._edits}
        recs = [r for r in self._records.values() if r.status == "active" and r.scope in (GLOBAL, scope)]
        return [loaded.get(r.id) or self._load_edit(r) for r in sorted(recs, key=lambda r: r.seq)]

    @property
    def active(self) -> list[Edit]:
        return list(self._edits)

    @property
    def version(self) -> int:
        """The index's change counter (every commit, undo, purge and quarantine adds one)."""
        return self.store.version() if self.store is not None else len(self._records)

    @property
    def state(self) -> tuple[str, ...] | None:
        """Names the live weights: the active edits in order (undo restores base bit-exactly, so equal
        states are equal weights); None while a trial edit is applied on top."""
        return None if self._trials else tuple(e.id for e in self._edits)

    def update_meta(self, edit_id: str, *, timings: dict[str, float]) -> None:
        """Record the timings learnt after commit (the write's own, say)."""
        with self._exclusive():
            eid = self._resolve_id(edit_id)
            rec = self._records[eid]
            rec.timings.update(timings)
            if self.store is not None:
                with self.store.write() as conn:
                    self.store.update_public(conn, rec)

    def _resolve_id(self, edit_id: str) -> str:
        if self.store is not None:
            return self.store.resolve_id(edit_id)
        return resolve_in(list(self._records), edit_id)

    def _find(self, edit_id: str) -> Edit:
        eid = self._resolve_id(edit_id)
        for e in self._edits:
            if e.id == eid:
                return e
        raise KeyError(f"edit '{eid}' is not active (already undone?)")
