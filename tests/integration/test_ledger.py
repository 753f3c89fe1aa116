"""The ledger: exact undo, persistence, corrupt/foreign manifests, locking, LoRA and merged export."""

from __future__ import annotations

import json
import threading

import pytest
import torch

from repair.edit.delta import Edit, MapDelta
from repair.edit.export import export_lora
from repair.edit.ledger import Ledger, LedgerBusyError, LedgerError
from repair.models.arch import UnsupportedArchitectureError, arch_for

pytestmark = pytest.mark.usefixtures("repair_home")


def _edit(eid: str, layer: int = 1, seed: int = 0, rank: int = 2) -> Edit:
    g = torch.Generator().manual_seed(seed)
    b, a = torch.randn(32, rank, generator=g) * 0.1, torch.randn(rank, 64, generator=g)
    return Edit(
        eid,
        [MapDelta(layer, "down", b=b, a=a, keys=torch.randn(rank, 64, generator=g))],
        meta={"forget": [["q", "a"]]},
    )


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(s1, s2):
    return all(torch.equal(s1[k], s2[k]) for k in s1)


def test_undo_is_bit_exact(tiny_llama, tmp_path):
    arch = arch_for(tiny_llama)
    ledger = Ledger(tiny_llama, arch, "fp", tmp_path)
    s0 = _state(tiny_llama)
    ledger.commit(_edit("e1", seed=1))
    s1 = _state(tiny_llama)
    ledger.commit(_edit("e2", seed=2))
    assert not _same(s1, _state(tiny_llama))
    ledger.undo("e2")
    assert _same(s1, _state(tiny_llama))  # bit-identical to before e2
    ledger.undo("e1")
    assert _same(s0, _state(tiny_llama))
    assert [m.status for m in ledger.list(include_undone=True)] == ["undone", "undone"]


def test_state_names_the_active_edits_and_is_none_during_a_trial(tiny_llama):
    ledger = Ledger(tiny_llama, arch_for(tiny_llama), "fp", None)
    assert ledger.state == ()
    ledger.commit(_edit("e1", seed=1))
    assert ledger.state == ("e1",)
    with ledger.trial(_edit("e2", seed=2)):
        assert ledger.state is None  # weights are neither ("e1",) nor ("e1", "e2") in the ledger's terms
    assert ledger.state == ("e1",)
    ledger.undo("e1")
    assert ledger.state == ()


def test_bfloat16_weights_take_the_delta_rounded_once_and_undo_exactly(tiny_llama, tmp_path):
    model = tiny_llama.to(torch.bfloat16)
    arch = arch_for(model)
    s0 = _state(model)
    ledger = Ledger(model, arch, "fp", tmp_path)
    edit = _edit("e1", seed=1)
    edit.deltas[0].b *= 1e-3  # small against the weights: rounding the delta to bf16 first would lose more
    w = arch.linear(model, 1, "down").weight
    want = (s0["model.layers.1.mlp.down_proj.weight"].float() + edit.deltas[0].matrix()).to(torch.bfloat16)
    ledger.commit(edit)
    assert w.dtype == torch.bfloat16 and torch.equal(w, want)
    ledger.undo("e1")
    assert _same(s0, _state(model))
    # a reload in float32 applies the same stored delta exactly in float32
    model32 = model.float()
    s32 = _state(model32)
    assert [e.id for e in Ledger(model32, arch, "fp", tmp_path).load()] == []  # undone: nothing re-applied
    assert _same(s32, _state(model32))


def test_dtype_names_resolve_and_unknown_ones_fail():
    from repair.models.loader import resolve_dtype

    assert resolve_dtype(None) is torch.float32
    assert (
        resolve_dtype("bf16")
        is resolve_dtype("bfloat16")
        is resolve_dtype("torch.bfloat16")
        is torch.bfloat16
    )
    assert resolve_dtype(torch.float16) is torch.float16
    from repair.models.loader import fast_bfloat16

    assert resolve_dtype("auto") is (torch.bfloat16 if fast_bfloat16() else torch.float32)
    with pytest.raises(ValueError, match="unknown dtype 'int8'"):
        resolve_dtype("int8")
    with pytest.raises(ValueError, match="unsupported dtype"):
        resolve_dtype(torch.int8)


def test_edits_reapply_in_order_on_reload(tiny_llama, tmp_path):
    arch = arch_for(tiny_llama)
    s0 = _state(tiny_llama)
    ledger = Ledger(tiny_llama, arch, "fp", tmp_path)
    ledger.commit(_edit("e1", seed=1))
    ledger.commit(_edit("e2", seed=2, layer=0))
    edited = _state(tiny_llama)
    tiny_llama.load_state_dict(s0)
    again = Ledger(tiny_llama, arch, "fp", tmp_path)
    assert [e.id for e in again.load()] == ["e1", "e2"]
    assert _same(edited, _state(tiny_llama))
    assert again.get("e1").deltas[0].keys is not None


def test_corrupt_database_is_an_error(tiny_llama, tmp_path):
    arch = arch_for(tiny_llama)
    Ledger(tiny_llama, arch, "fp", tmp_path).commit(_edit("e1"))
    for p in tmp_path.glob("ledger.db*"):
        p.unlink()
    (tmp_path / "ledger.db").write_bytes(b"not a database" * 100)
    with pytest.raises(LedgerError, match="not a ledger database"):
        Ledger(tiny_llama, arch, "fp", tmp_path).load()


def test_foreign_ledger_is_refused(tiny_llama, tmp_path):
    arch = arch_for(tiny_llama)
    Ledger(tiny_llama, arch, "fp-A", tmp_path).commit(_edit("e1"))
    with pytest.raises(LedgerError, match="another base model"):
        Ledger(tiny_llama, arch, "fp-B", tmp_path).load()
    # a v1 folder with a file that is not a manifest is not migrated
    old = tmp_path / "v1"
    old.mkdir()
    (old / "other.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(LedgerError, match="not a repair ledger"):
        Ledger(tiny_llama, arch, "fp-A", old).load()
    # in a ledger of format 2, a stray JSON file is left alone
    (tmp_path / "notes.json").write_text("{}")
    assert [e.id for e in Ledger(tiny_llama, arch, "fp-A", tmp_path).load()] == ["e1"]
    assert (tmp_path / "notes.json").exists()


def test_tampered_delta_file_is_detected(tiny_llama, tmp_path):
    arch = arch_for(tiny_llama)
    Ledger(tiny_llama, arch, "fp", tmp_path).commit(_edit("e1"))
    [f] = (tmp_path / "deltas").glob("*.safetensors")
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(LedgerError, match="sha256.*repair edits doctor"):
        Ledger(tiny_llama, arch, "fp", tmp_path).load()


def test_concurrent_edit_is_refused(tiny_llama, tmp_path):
    import fcntl
    import os

    arch = arch_for(tiny_llama)
    ledger = Ledger(tiny_llama, arch, "fp", tmp_path, wait=0.3)
    entered, release = threading.Event(), threading.Event()

    def hold():
        with ledger._exclusive():
            entered.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    entered.wait(5)
    try:
        with pytest.raises(LedgerBusyError):
            ledger.commit(_edit("e1"))
    finally:
        release.set()
        t.join()
    # another process holding the write lock past the wait is reported as busy, not as a failure
    fd = os.open(tmp_path / ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(LedgerBusyError, match="locked by another process"):
            Ledger(tiny_llama, arch, "fp", tmp_path, wait=0.3).commit(_edit("e2"))
    finally:
        os.close(fd)
    assert ledger.list() == []


def test_non_finite_edit_is_not_committed(tiny_llama, tmp_path):
    arch = arch_for(tiny_llama)
    ledger = Ledger(tiny_llama, arch, "fp", tmp_path)
    s0 = _state(tiny_llama)
    bad = _edit("bad")
    bad.deltas[0].b[0, 0] = float("inf")
    with pytest.raises(LedgerError, match="non-finite"):
        ledger.commit(bad)
    assert _same(s0, _state(tiny_llama))
    assert ledger.list(include_undone=True) == [] and not list((tmp_path / "deltas").glob("*"))


def test_lora_export_reproduces_logits(tiny_llama, tmp_path):
    from peft import PeftModel

    arch = arch_for(tiny_llama)
    base_dir = tmp_path / "base"
    tiny_llama.save_pretrained(base_dir)
    ledger = Ledger(tiny_llama, arch, "fp", tmp_path / "ledger")
    ledger.commit(_edit("e1", seed=1, rank=2))
    ledger.commit(_edit("e2", seed=2, layer=0, rank=3))
    ledger.commit(Edit("e3", [MapDelta(2, "down", dense=torch.randn(32, 64) * 0.05)]))
    ids = torch.randint(0, 101, (2, 12))
    with torch.no_grad():
        edited = tiny_llama(ids).logits
    export_lora(ledger.active, arch, str(base_dir), tmp_path / "adapter")
    from transformers import LlamaForCausalLM

    base = LlamaForCausalLM.from_pretrained(base_dir).eval()
    peft_model = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()
    with torch.no_grad():
        got = peft_model(ids).logits
    assert (got - edited).abs().max() < 1e-4


def test_unsupported_architecture_names_what_is_missing():
    from transformers import MambaConfig, MambaForCausalLM

    m = MambaForCausalLM(MambaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, state_size=4))
    with pytest.raises(UnsupportedArchitectureError, match="mamba"):
        arch_for(m)


def test_gpt2_map_uses_conv1d_orientation():
    from transformers import GPT2Config, GPT2LMHeadModel

    m = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=16, n_layer=2, n_head=2))
    arch = arch_for(m)
    assert arch.weight(m, 0, "down").shape == (16, 64)
    assert arch.weight(m, 0, "up").shape == (64, 16)


def test_optional_packages_are_not_fetched_when_forbidden(monkeypatch):
    from repair.models.loader import try_install

    monkeypatch.setenv("REPAIR_NO_FETCH", "1")
    assert try_install(["no-such-package-for-repair==0.0.1"], "a test") is False
    monkeypatch.setenv("REPAIR_NO_FETCH", "0")
    # pip cannot find it (registry or offline): the caller is told, nothing raises
    assert try_install(["no-such-package-for-repair==0.0.1"], "a test") is False
