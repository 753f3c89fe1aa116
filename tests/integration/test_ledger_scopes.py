"""Scopes in the ledger (issue 22, item 6): an edit made in a scope is preserved against, and verified with,
the global edits plus its own scope's, never another scope's. A served scope's request sees the global
edits merged and its own as adapters (``Hub.forget`` opens ``adapters.applied(own)`` around the request);
the engines read ``patient.ledger.active`` for the keys to keep fixed (STAMP-2's ``prior``, STAMP's
``prior_keys``) and check an edit in ``patient.ledger.trial`` on those weights. Also after a restart,
where the scope's edits come back from the database with their forget keys."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("fastapi")

from conftest import tiny_llama_for  # noqa: E402
from ledger_child import make_edit  # noqa: E402

from repair.edit.stamp.solve import prior_keys as stamp_prior_keys  # noqa: E402
from repair.edit.stamp2.keep import prior_keys  # noqa: E402
from repair.serve.app import create_app  # noqa: E402
from repair.serve.security import Keys, KeySpec  # noqa: E402
from repair.session import Session  # noqa: E402

pytestmark = pytest.mark.usefixtures("repair_home")

ADMIN = "sk-admin-000000000000"
IDS = torch.tensor([[1, 5, 9, 14, 3]])


def _hub(tok, root):
    from repair.edit.patient import Patient
    from repair.serve.hub import Limits

    model = tiny_llama_for(tok, positions=256, intermediate_size=64)
    patient = Patient(model, tok, name="tiny", source="", fingerprint="fp", ledger_dir=root)
    keys = Keys([KeySpec(name="admin", key=ADMIN, admin=True)])
    app = create_app(
        Session(patient, max_new_tokens=8), keys, hosts={"testserver"}, limits=Limits.for_model(patient, 8)
    )
    return app.state.hub


def _merged_logits(hub, edits) -> torch.Tensor:
    """The logits of the base weights plus these edits' deltas, merged (the hub's own weights are restored)."""
    arch, model = hub.patient.arch, hub.patient.model
    saved = {}
    with torch.no_grad():
        for e in hub.patient.ledger.active:  # back to the base weights
            for d in e.deltas:
                w = arch.linear(model, d.layer, d.map).weight
                saved.setdefault((d.layer, d.map), w.detach().clone())
        for e in hub.patient.ledger.active:
            for d in e.deltas:
                arch.linear(model, d.layer, d.map).weight.sub_(d.matrix().to(saved[(d.layer, d.map)].dtype))
        for e in edits:
            for d in e.deltas:
                w = arch.linear(model, d.layer, d.map).weight
                saved.setdefault((d.layer, d.map), w.detach().clone())
                w.add_(d.matrix().to(w.dtype))
        out = model(input_ids=IDS).logits
        for (layer, name), w in saved.items():
            arch.linear(model, layer, name).weight.copy_(w)
    return out


def _what_a_request_sees(hub, scope: str, new):
    """What an edit made in ``scope`` is solved and checked against: the edits kept fixed, their keys, and
    the logits while ``new`` is on trial (inside the scope's adapters, as ``Hub.forget`` runs it)."""
    served = hub.session_for(scope).patient
    with hub.adapters.applied(served.ledger.own), torch.no_grad():
        ids = [e.id for e in served.ledger.active]
        keys = prior_keys(served.ledger.active, 1)
        stamp_keys = stamp_prior_keys(served, 1, "down")
        with served.ledger.trial(new):
            logits = hub.patient.model(input_ids=IDS).logits
    return ids, keys, stamp_keys, logits


def test_a_scoped_edit_is_preserved_against_and_checked_with_the_global_and_its_own_edits(tok, tmp_path):
    root = tmp_path / "ledger"
    hub = _hub(tok, root)
    g, a1, b1 = make_edit("g1", 1), make_edit("a1", 2), make_edit("b1", 3)
    keys = {e.id: e.deltas[0].keys.clone() for e in (g, a1, b1)}
    hub.session_for("global").patient.ledger.commit(g)
    hub.session_for("alice").patient.ledger.commit(a1)
    hub.session_for("bob").patient.ledger.commit(b1)
    assert [e.id for e in hub.patient.ledger.active] == ["g1"]  # only the global edit is merged

    for restarted in (False, True):  # and the same after a restart: edits and keys come from the database
        if restarted:
            hub = _hub(tok, root)
        new = make_edit("n1", 4)
        for scope, own in (("alice", a1), ("bob", b1)):
            ids, held, stamp_held, logits = _what_a_request_sees(hub, scope, new)
            assert ids == ["g1", own.id]  # never the other scope's edit
            want = torch.cat([keys["g1"], keys[own.id]]).double()
            assert torch.equal(held, want) and torch.equal(stamp_held, want)
            torch.testing.assert_close(logits, _merged_logits(hub, [g, own, new]), rtol=1e-4, atol=1e-5)
        ids, held, _, logits = _what_a_request_sees(hub, "global", new)
        assert ids == ["g1"] and torch.equal(held, keys["g1"].double())
        torch.testing.assert_close(logits, _merged_logits(hub, [g, new]), rtol=1e-4, atol=1e-5)
