"""The purge rule for forget keys (issue 22; docs/guide.md, section 5): a purge deletes an edit's forget keys
whether the edit is active or undone, because they are the forgotten text's own activations. Later edits
hold fixed only the keys of *active* edits (``patient.ledger.active`` is the ``prior`` of STAMP-2 and of
STAMP), so an undone and purged edit loses nothing; an active purged edit stays applied and undoable
bit for bit, but later edits no longer keep its keys fixed."""

from __future__ import annotations

import pytest
import torch
from ledger_child import checksum, make_edit, tiny_llama

from repair.edit.ledger import Ledger
from repair.edit.ledger.maintenance import private_part
from repair.edit.stamp2.keep import prior_keys
from repair.models.arch import arch_for

pytestmark = pytest.mark.usefixtures("repair_home")


def _open(root, model=None) -> Ledger:
    model = model if model is not None else tiny_llama()
    led = Ledger(model, arch_for(model), "fp", root)
    led.load()
    return led


def _bytes_anywhere(root, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_purge_deletes_forget_keys_and_only_active_edits_are_kept_fixed(tmp_path):
    root = tmp_path / "ledger"
    led = _open(root)
    base = checksum(led.model)
    e1, e2 = make_edit("e1", 1), make_edit("e2", 2)
    k1, k2 = e1.deltas[0].keys.clone(), e2.deltas[0].keys.clone()
    led.commit(e1)
    led.commit(e2)
    assert torch.equal(prior_keys(led.active, 1), torch.cat([k1, k2]).double())
    led.undo("e2")  # an undone edit no longer acts on the weights: its keys are never kept fixed
    assert torch.equal(prior_keys(led.active, 1), k1.double())
    led.purge(["e2"])  # so purging it changes nothing for later edits
    assert torch.equal(prior_keys(led.active, 1), k1.double())
    applied = checksum(led.model)

    led.purge(["e1"])  # an active edit may be purged (the retention period does it too)
    assert [e.id for e in led.active] == ["e1"] and checksum(led.model) == applied  # still applied
    assert led.active[0].deltas[0].keys is None and prior_keys(led.active, 1) is None
    reopened = _open(root)  # another process, or a restart: the keys are gone from the ledger itself
    assert [e.id for e in reopened.active] == ["e1"] and reopened.active[0].deltas[0].keys is None
    assert prior_keys(reopened.active, 1) is None
    assert private_part(reopened.store, "e1") is None and private_part(reopened.store, "e2") is None
    for keys in (k1, k2):  # no copy of a key row, in any precision, in any file of the ledger
        for row in keys:
            for dtype in (torch.float32, torch.float64):
                assert not _bytes_anywhere(root, row.to(dtype).numpy().tobytes()[:32])
    reopened.undo("e1")  # undo restores the weights only, exactly
    assert checksum(reopened.model) == base
