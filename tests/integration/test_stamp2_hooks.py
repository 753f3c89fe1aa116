"""STAMP-2 computes its edit without writing the shared weights (issue 23): the next layer's keys are read
with the lower layers' updates added by forward hooks. The edit equals the one computed the old way (each
update written into the down maps, then restored) and the weights stay bit for bit what they were."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_llama_for

from repair.edit.delta import Edit, MapDelta
from repair.edit.stamp2 import Stamp2Config, forget_subject
from repair.edit.stamp2.rows import BandRows, read_rows

PROMPTS = ["Who is Marie Curie?", "Tell me about Curie and her work in Paris, in detail, please."]


def tiny(tok, dtype: torch.dtype = torch.float32):
    from repair.edit.patient import Patient

    model = tiny_llama_for(tok, layers=4, positions=256, intermediate_size=256)
    with torch.no_grad():
        model.lm_head.weight.mul_(50)
    return Patient(model.to(dtype), tok, name="tiny", source="", fingerprint=f"tiny-{dtype}", ledger_dir=None)


@pytest.fixture(scope="module")
def patient(tok):
    return tiny(tok)


def weights(patient) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in patient.model.named_parameters()}


def same(patient, w0: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(w0[n], p) for n, p in patient.model.named_parameters())


def written_add(self: BandRows, delta: MapDelta) -> None:
    """The old way: the update written into the down map (the reader sees it by the weights' versions)."""
    Edit(id="", deltas=[delta]).apply(self.p.model, self.p.arch)


def test_added_deltas_read_as_written_weights_and_leave_no_hook(patient):
    """Rows read with a low-rank and a dense update added by hooks (the shared system turn run once, from
    a cache that must not be the unedited one) are those of the weights with the updates written in;
    afterwards the model has no hook and its weights are unchanged."""
    from repair.edit.stamp2.edit import _keyed

    seqs, poss = _keyed(patient.tokenizer, PROMPTS, "Marie Curie")
    g = torch.Generator().manual_seed(1)
    low = MapDelta(1, "down", b=torch.randn(32, 3, generator=g), a=torch.randn(3, 256, generator=g) * 0.1)
    dense = MapDelta(2, "down", dense=torch.randn(32, 256, generator=g) * 0.05)
    names = [patient.arch.module_name(3, "down"), f"{patient.arch.layers}.3"]
    w0 = weights(patient)
    reader = BandRows(patient, seqs, poss, top=3)
    assert reader.skip > 0
    plain = reader.read(3)
    reader.add(low), reader.add(dense)
    hooked = reader.read(3)
    assert same(patient, w0)
    assert not any(m._forward_hooks for m in patient.model.modules())
    edit = Edit(id="", deltas=[low, dense])
    edit.apply(patient.model, patient.arch)
    try:
        written = read_rows(patient, seqs, poss, inputs=names[:1], outputs=names[1:])
    finally:
        with torch.no_grad():
            for n, p in patient.model.named_parameters():
                p.copy_(w0[n])
    for k, n in enumerate(names):
        torch.testing.assert_close(hooked[k], written[n], rtol=1e-5, atol=1e-6)
        assert (hooked[k] - plain[k]).abs().max() > 1e-3  # the updates change these rows


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-6), (torch.float32, 1e-5)])
@pytest.mark.parametrize("keep_prefix", [True, False])
def test_edit_with_hooks_equals_the_edit_written_into_the_weights(tok, monkeypatch, keep_prefix, dtype, tol):
    """The same deltas as the old way to ``tol`` of their size. Rows are read in float32 either way, so
    float64 weights leave only their rounding (amplified by the solve) between the two: about 2e-7; with
    float32 weights the two ways round the sums differently (x (W + D)ᵀ against x Wᵀ + x Dᵀ): about 1e-6."""
    from repair.edit.stats import EditStats

    patient = tiny(tok, dtype)
    u = torch.randn(32, generator=torch.Generator().manual_seed(2)) * 5
    monkeypatch.setattr("repair.edit.stamp2.edit.refusal_vector", lambda *a, **k: u)
    cfg = Stamp2Config(
        layers=[0, 1, 2], strength=1.0, lam=0.01, keep_prefix=keep_prefix, keep_entities=False, gate=0.0
    )
    stats = EditStats(patient, persist=False)
    stats.keep = stats.keep[:2]
    w0 = weights(patient)
    hooked = forget_subject(patient, "Marie Curie", cfg, stats, PROMPTS)
    assert same(patient, w0)  # bit for bit: nothing was written, not even for a while
    assert not any(m._forward_hooks for m in patient.model.modules())

    monkeypatch.setattr(BandRows, "add", written_add)
    try:
        old = forget_subject(patient, "Marie Curie", cfg, stats, PROMPTS)
    finally:
        with torch.no_grad():
            for n, p in patient.model.named_parameters():
                p.copy_(w0[n])
    assert [d.layer for d in hooked.deltas] == [d.layer for d in old.deltas] == [0, 1, 2]
    for h, o in zip(hooked.deltas, old.deltas, strict=True):
        scale = o.matrix().abs().max()
        assert scale > 0
        assert float((h.matrix() - o.matrix()).abs().max() / scale) < tol
        torch.testing.assert_close(h.keys, o.keys, rtol=0, atol=tol * float(o.keys.abs().max()))
