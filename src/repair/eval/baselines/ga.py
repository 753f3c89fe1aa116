"""Gradient ascent (GA) with a gradient-descent retain term.

Yao et al., "Large Language Model Unlearning" (2023) [RePAIR ref 25]: ascend the NLL of the
forget responses, descend the NLL of retain responses ("gradient difference" in TOFU):

    L = -NLL(forget) + retain_weight * NLL(retain)
"""

from __future__ import annotations

from collections.abc import Sequence

from .common import Batch, Pair, nll, train
from .config import GaConfig


def unlearn(
    model, tokenizer, forget: Sequence[Pair], retain: Sequence[Pair], config: GaConfig | None = None
) -> dict:
    cfg = config or GaConfig()

    def step(fb: Batch, rb: Batch | None):
        forget_nll = nll(model, fb)
        loss = -forget_nll
        parts = {"forget_nll": float(forget_nll.detach())}
        if rb is not None:
            retain_nll = nll(model, rb)
            loss = loss + cfg.retain_weight * retain_nll
            parts["retain_nll"] = float(retain_nll.detach())
        return loss, parts

    return train(model, tokenizer, forget, retain, cfg, step, method="ga", use_retain=cfg.retain_weight > 0)
