"""An edit is committed only onto the model it was made and checked on (issue 23): a server lets other
scopes' chats run between an edit's steps, and their sync may bring in a global edit that another process
committed meanwhile. Two `Ledger` objects on one folder stand for the two processes."""

from __future__ import annotations

import pytest
import torch
from ledger_child import make_edit, tiny_llama

from repair.edit.ledger import Ledger
from repair.edit.ledger.files import LedgerChangedError
from repair.models.arch import arch_for
from repair.serve.scopes import ScopedLedger

pytestmark = pytest.mark.usefixtures("repair_home")


def _ledger(root) -> Ledger:
    model = tiny_llama()
    led = Ledger(model, arch_for(model), "fp", root)
    led.load()
    return led


def _down(led: Ledger, layer: int = 1) -> torch.Tensor:
    return led.arch.linear(led.model, layer, "down").weight.detach().clone()


@pytest.mark.parametrize("synced", [False, True], ids=["at-commit", "synced-midway"])
def test_an_edit_made_before_another_process_committed_is_refused(tmp_path, synced):
    """``synced``: this process caught up between the edit's steps (a chat of another scope), so the weights
    already hold the other edit; else the commit's own read of the database brings it in."""
    a, b = _ledger(tmp_path), _ledger(tmp_path)
    state = a.state
    b.commit(make_edit("g1", 1))
    if synced:
        assert a.sync()
    with pytest.raises(LedgerChangedError, match="changed while this edit was made"):
        a.commit(make_edit("e2", 2, layer=0), based_on=state)
    assert [r.id for r in a.list()] == ["g1"] and a.state == ("g1",)  # nothing of e2, g1 applied
    assert torch.equal(_down(a), _down(b)) and torch.equal(_down(a, 0), _down(b, 0))
    a.commit(make_edit("e2", 2, layer=0), based_on=a.state)  # made again on this model: committed
    b.sync()
    assert [r.id for r in b.list()] == ["g1", "e2"] and torch.equal(_down(a, 0), _down(b, 0))


def test_an_undo_by_another_process_also_counts_and_an_unchanged_base_commits(tmp_path):
    a, b = _ledger(tmp_path), _ledger(tmp_path)
    a.commit(make_edit("g1", 1))
    b.sync()
    state = a.state
    b.undo("g1")
    with pytest.raises(LedgerChangedError):
        a.commit(make_edit("e2", 2), based_on=state)
    a.commit(make_edit("e3", 3), based_on=a.state)
    assert [r.id for r in a.list()] == ["e3"]


def test_a_scope_sees_its_own_edits_in_its_state_and_other_scopes_not(tmp_path):
    a, b = _ledger(tmp_path), _ledger(tmp_path)
    a.commit(make_edit("s1", 11), scope="alice")
    state = a.state_in("alice")
    assert state == ("s1",) and a.state_in("bob") == ()
    b.commit(make_edit("t1", 12), scope="bob")  # another scope's edit: alice's model is the same
    a.commit(make_edit("s2", 1), scope="alice", based_on=state)
    b.undo("s1")  # alice's own edit undone by another process: alice's model changed
    with pytest.raises(LedgerChangedError):
        a.commit(make_edit("s3", 2), scope="alice", based_on=("s1", "s2"))


def test_an_in_memory_ledger_checks_the_same(tmp_path):
    led = _ledger(None)
    led.commit(make_edit("g1", 1))
    with pytest.raises(LedgerChangedError):
        led.commit(make_edit("e2", 2), based_on=())
    led.commit(make_edit("e2", 2), based_on=("g1",))


def test_a_global_edit_another_process_just_committed_is_not_also_a_scopes_adapter(tmp_path):
    """A served scope adds its own edits per request; a global edit that another process committed since
    this one last synced is merged by the sync its loading runs, and must not be added a second time."""
    a, b = _ledger(tmp_path), _ledger(tmp_path)
    alice = ScopedLedger(a, "alice", lambda *_: None)
    a.commit(make_edit("s1", 11, layer=0), scope="alice")
    assert [e.id for e in alice.own] == ["s1"]
    b.commit(make_edit("g1", 1))
    fresh = ScopedLedger(a, "alice", lambda *_: None)  # a scope read back: its loading syncs the ledger
    assert [e.id for e in fresh.own] == ["s1"] and a.state == ("g1",)  # merged, and only merged
    assert [e.id for e in alice.own] == ["s1"]
    assert alice.state == ("g1", "s1") == a.state_in("alice")
