"""Export active edits as a merged model folder or as a PEFT LoRA adapter."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from repair.edit.delta import Edit, GatedDeltaError, carries_gated
from repair.edit.ledger.store import GLOBAL
from repair.models.arch import ArchMap, arch_for


def lora_factors(
    edits: list[Edit], ungated: bool = False
) -> dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]]:
    """Stack each map's factors over edits: sum_i B_i A_i == [B_1 .. B_k] [A_1; ..; A_k]. Gated deltas
    raise GatedDeltaError unless ``ungated`` (their gates are then dropped)."""
    acc: dict[tuple[int, str], tuple[list[torch.Tensor], list[torch.Tensor]]] = {}
    for e in edits:
        for d in e.deltas:
            b, a = (d.ungated() if ungated else d).factors()
            bs, as_ = acc.setdefault((d.layer, d.map), ([], []))
            bs.append(b.float())
            as_.append(a.float())
    return {k: (torch.cat(bs, 1), torch.cat(as_, 0)) for k, (bs, as_) in acc.items()}


def export_lora(
    edits: list[Edit], arch: ArchMap, base_name_or_path: str, out_dir: str | Path, ungated: bool = False
) -> Path:
    """Write ``adapter_config.json`` + ``adapter_model.safetensors`` that ``peft`` and vLLM load.

    Each module gets its own rank (``rank_pattern``) and ``lora_alpha == r`` so PEFT's scaling is 1
    and ``W + B A`` reproduces the edited weights. vLLM reads only ``r`` and ``lora_alpha`` (one scaling,
    ``lora_alpha / r``, also 1) and refuses an ``r`` above its ``--max-lora-rank``: ``r`` is the largest
    module rank, so that check covers every module.
    """
    if arch.transposed:
        raise NotImplementedError(
            f"LoRA export for {arch.family} (Conv1D weights) is not supported; export merged"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    factors = lora_factors(edits, ungated)
    if not factors:
        raise ValueError("no active edits to export")
    tensors, ranks = {}, {}
    for (layer, name), (b, a) in factors.items():
        module = arch.module_name(layer, name)
        tensors[f"base_model.model.{module}.lora_A.weight"] = a.contiguous()
        tensors[f"base_model.model.{module}.lora_B.weight"] = b.contiguous()
        ranks[module] = int(a.shape[0])
    targets = sorted(ranks)
    top = max(ranks.values())
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_name_or_path,
        "r": top,
        "lora_alpha": top,
        "rank_pattern": {f"^{k}$".replace(".", r"\."): v for k, v in ranks.items()},
        "alpha_pattern": {f"^{k}$".replace(".", r"\."): v for k, v in ranks.items()},
        "target_modules": targets,
        "lora_dropout": 0.0,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "use_rslora": False,
        "use_dora": False,
        "modules_to_save": None,
    }
    (out / "adapter_config.json").write_text(json.dumps(config, indent=1))
    save_file(tensors, str(out / "adapter_model.safetensors"))
    (out / "repair_edits.json").write_text(json.dumps([e.id for e in edits]))
    return out


def export_merged(
    model: torch.nn.Module, tokenizer, out_dir: str | Path, edit_ids: list[str], ungated: Sequence[Edit] = ()
) -> Path:
    """Save the edited model (base + active edits) as a plain Hugging Face folder. Gated edits live in
    hooks, which a saved model lacks: they raise GatedDeltaError unless passed as ``ungated``, whose updates
    are then written into the saved weights without their gates (the live weights are restored after)."""
    gated = [n for n, m in model.named_modules() if carries_gated(m)]
    if gated and not ungated:
        raise GatedDeltaError(
            f"{len(gated)} map(s) carry gated edits (e.g. {gated[0]}), which no plain weight expresses: "
            "serve them with repair, or export them --ungated (their updates then act on every input)"
        )
    arch = arch_for(model)
    plain = [Edit(e.id, [d.ungated() for d in e.deltas if d.gate is not None]) for e in ungated]
    maps = {(d.layer, d.map) for e in plain for d in e.deltas}
    saved = {k: arch.linear(model, *k).weight.detach().clone() for k in maps}
    try:
        for e in plain:
            e.apply(model, arch)
        out = Path(out_dir)
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        (out / "repair_edits.json").write_text(json.dumps(edit_ids))
        return out
    finally:
        with torch.no_grad():
            for k, w in saved.items():
                arch.linear(model, *k).weight.copy_(w)


def chosen_edits(ledger: Any, scope: str | None = None, edit_id: str | None = None) -> list[Edit]:
    """The active edits an export holds: every global edit (those the loaded weights carry), or with
    ``scope`` that scope's own edits only (the adapter a multi-LoRA server applies over the merged global
    edits); ``edit_id`` narrows either to one edit. ValueError when nothing is left."""
    if scope in (None, GLOBAL):
        edits = list(ledger.active)
    else:
        own = {r.id for r in ledger.list(scope=scope) if r.scope == scope}
        edits = [e for e in ledger.edits_for(scope) if e.id in own]
    if edit_id is not None:
        eid = ledger.show(edit_id).id  # a KeyError names an unknown id
        edits = [e for e in edits if e.id == eid]
    if not edits:
        where = f" in scope {scope!r}" if scope not in (None, GLOBAL) else ""
        raise ValueError(f"no active edits{where} to export" + (f" with id {edit_id!r}" if edit_id else ""))
    return edits
