"""An edit's weight update lands on the map it names and nowhere else (a tiny random Llama)."""

from __future__ import annotations

import torch

from repair.edit.delta import Edit, MapDelta


def test_edit_apply_changes_only_named_map(tiny_llama):
    from repair.models.arch import arch_for

    arch = arch_for(tiny_llama)
    before = {k: v.clone() for k, v in tiny_llama.state_dict().items()}
    delta = torch.randn(32, 64)
    Edit("e", [MapDelta(1, "down", dense=delta)]).apply(tiny_llama, arch)
    after = tiny_llama.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == ["model.layers.1.mlp.down_proj.weight"]
