"""Gated deltas: an update that acts only on inputs like its keys, kept as a hook (never in the weights),
committed, undone, stored and reloaded by the ledger, and made by STAMP-2 with ``gate``."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_llama_model

from repair.edit.delta import Edit, GatedDeltaError, MapDelta
from repair.edit.export import export_lora, export_merged
from repair.edit.ledger import Ledger
from repair.models.arch import arch_for

pytestmark = pytest.mark.usefixtures("repair_home")


def _gated(eid: str, key: torch.Tensor, seed: int = 0) -> Edit:
    g = torch.Generator().manual_seed(seed)
    b, a = torch.randn(32, 1, generator=g), key[None] / key.dot(key)  # a·key == 1
    gate = key / key.dot(key) / 0.5  # fires where the reach a·x is at least half the key's
    return Edit(
        eid, [MapDelta(1, "down", b=b, a=a, keys=key[None], gate=gate)], meta={"forget": [["q", "a"]]}
    )


def _down(model):
    return model.model.layers[1].mlp.down_proj


def test_gated_delta_acts_on_its_key_only_and_undo_removes_it(tiny_llama, tmp_path):
    arch, down = arch_for(tiny_llama), _down(tiny_llama)
    key, other = torch.randn(64), torch.randn(64)
    other -= other.dot(key) / key.dot(key) * key  # reach 0
    x = torch.stack([key, 0.8 * key, 0.3 * key, other])
    base, w0 = down(x).detach(), down.weight.detach().clone()
    edit = _gated("e1", key)
    ledger = Ledger(tiny_llama, arch, "fp", tmp_path)
    ledger.commit(edit)
    assert torch.equal(down.weight, w0)  # a hook, not a weight change
    d = edit.deltas[0]
    moved = down(x).detach() - base
    for i, reach in enumerate([1.0, 0.8]):
        torch.testing.assert_close(moved[i], reach * d.b[:, 0], rtol=1e-4, atol=1e-4)
    assert torch.equal(moved[2:], torch.zeros_like(moved[2:]))  # below the gate: exactly nothing
    with pytest.raises(GatedDeltaError, match="gated"):
        export_lora(ledger.active, arch, "base", tmp_path / "lora")
    with pytest.raises(GatedDeltaError, match="gated"):
        export_merged(tiny_llama, None, tmp_path / "merged", ["e1"])
    lora = export_lora(ledger.active, arch, "base", tmp_path / "lora", ungated=True)
    assert (lora / "adapter_model.safetensors").exists()

    fresh = tiny_llama_model()  # the stored edit comes back gated on a fresh copy of the model
    assert [e.id for e in Ledger(fresh, arch_for(fresh), "fp", tmp_path).load()] == ["e1"]
    torch.testing.assert_close(_down(fresh)(x).detach() - base, moved)

    ledger.undo("e1")
    assert torch.equal(down(x).detach(), base) and torch.equal(down.weight, w0)
    assert not down._forward_hooks  # the shared hook goes with the last gated delta


def test_trial_of_a_gated_edit_leaves_nothing_behind(tiny_llama):
    down = _down(tiny_llama)
    key = torch.randn(64)
    ledger = Ledger(tiny_llama, arch_for(tiny_llama), "fp", None)
    ledger.commit(_gated("kept", key, seed=1))
    with_kept = down(key[None]).detach()
    with ledger.trial(_gated("tried", key, seed=2)):
        assert not torch.equal(down(key[None]).detach(), with_kept)
    assert torch.equal(down(key[None]).detach(), with_kept)


def test_stamp2_gate_spares_prompts_without_the_subject(monkeypatch, tok):
    from conftest import tiny_llama_for

    from repair.edit.patient import Patient
    from repair.edit.stamp2 import Stamp2Config, forget_subject
    from repair.edit.stamp2.edit import _keyed
    from repair.edit.stamp2.rows import read_rows
    from repair.edit.stamp2.subject import chat_ids
    from repair.edit.stats import EditStats

    model = tiny_llama_for(tok, layers=4, positions=256, intermediate_size=256)
    patient = Patient(model, tok, name="tiny", source="", fingerprint="tiny-gate", ledger_dir=None)
    u = torch.randn(32) * 5
    monkeypatch.setattr("repair.edit.stamp2.edit.refusal_vector", lambda *a, **k: u)
    stats = EditStats(patient, persist=False)
    stats.keep = stats.keep[:2]
    prompts = ["Who is Marie Curie?", "Tell me about Curie."]
    seqs, poss = _keyed(tok, prompts, "Marie Curie")
    far = chat_ids(tok, "What is the boiling point of water?")[0]
    top = "model.layers.2"
    before = read_rows(patient, seqs, poss, outputs=[top])[top]
    far_before = read_rows(patient, [far], [list(range(len(far)))], outputs=[top])[top]
    for gate, lands in ((0.0, False), (0.5, True)):
        cfg = Stamp2Config(layers=[1, 2], strength=1.0, lam=1e-4, gate=gate, keep_prefix=False)
        edit = forget_subject(patient, "Marie Curie", cfg, stats, prompts)
        patient.ledger.commit(edit)
        after = read_rows(patient, seqs, poss, outputs=[top])[top]
        assert (after - before - u).norm() < 0.5 * u.norm() * len(after) ** 0.5  # the edit lands
        far_after = read_rows(patient, [far], [list(range(len(far)))], outputs=[top])[top]
        assert torch.equal(far_after, far_before) == lands  # only the gated edit leaves them exactly
        patient.ledger.undo(edit.id)


def test_each_gated_edit_acts_on_its_own_key_among_many(tiny_llama):
    down = _down(tiny_llama)
    keys = torch.linalg.qr(torch.randn(64, 8))[0].T * 4  # orthogonal: no key reaches another's gate
    x = torch.cat([keys, torch.zeros(1, 64)])
    base = down(x).detach()
    ledger = Ledger(tiny_llama, arch_for(tiny_llama), "fp", None)
    edits = [_gated(f"e{i}", k, seed=i) for i, k in enumerate(keys)]
    for e in edits:
        ledger.commit(e)
    moved = down(x).detach() - base
    want = torch.stack([e.deltas[0].b[:, 0] for e in edits] + [torch.zeros(32)])
    torch.testing.assert_close(moved, want, rtol=1e-4, atol=1e-4)
    ledger.undo("e3")
    assert torch.equal(down(x).detach()[3], base[3])  # the same batch: bit for bit


def test_merged_export_writes_gated_updates_ungated_and_restores_the_live_weights(tiny_llama, tmp_path, tok):
    from safetensors.torch import load_file

    down = _down(tiny_llama)
    w0 = down.weight.detach().clone()
    edit = _gated("e1", torch.randn(64))
    ledger = Ledger(tiny_llama, arch_for(tiny_llama), "fp", None)
    ledger.commit(edit)
    out = export_merged(tiny_llama, tok, tmp_path / "merged", ["e1"], ungated=[edit])
    saved = load_file(str(out / "model.safetensors"))["model.layers.1.mlp.down_proj.weight"]
    d = edit.deltas[0]
    torch.testing.assert_close(saved, w0 + d.b @ d.a)
    assert torch.equal(down.weight, w0)  # the live model keeps the gated hook, not a weight change
