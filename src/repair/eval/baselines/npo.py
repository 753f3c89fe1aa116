"""Negative Preference Optimization (NPO).

Zhang et al., "Negative Preference Optimization: From Catastrophic Collapse to Effective
Unlearning" (COLM 2024) [RePAIR ref 28]. DPO with only a negative (dispreferred) answer:

    L_NPO = -(2/beta) * E[ log sigmoid( -beta * (log pi(y|x) - log pi_ref(y|x)) ) ]

with log pi the summed log-likelihood of the response. Its gradient is GA's gradient scaled by
2*sigmoid(beta * log-ratio), which shrinks as the response becomes unlikely, slowing the
divergence of plain GA. We add the retain NLL (the "NPO+RT" / npo_grad_diff variant).

The reference model is the frozen starting model. Since the forget set is fixed, log pi_ref of
each forget example is computed once before training: exactly the frozen-reference loss
without holding a second copy of the weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .common import (
    Batch,
    Pair,
    collate,
    device_of,
    encode_pairs,
    nll,
    pad_id,
    sequence_logprob,
    train,
)
from .config import NpoConfig, TrainingConfig


@torch.no_grad()
def reference_logprobs(model, tokenizer, forget: Sequence[Pair], config: TrainingConfig) -> list[float]:
    """Summed response log-likelihood of each forget pair under the current (reference) model."""
    was_training = model.training
    model.eval()
    enc = encode_pairs(tokenizer, forget, config)
    out: list[float] = []
    try:
        for i in range(0, len(enc), config.batch_size):
            batch = collate(enc[i : i + config.batch_size], pad_id(tokenizer), device_of(model))
            out.extend(sequence_logprob(model, batch).tolist())
    finally:
        model.train(was_training)
    return out


def unlearn(
    model, tokenizer, forget: Sequence[Pair], retain: Sequence[Pair], config: NpoConfig | None = None
) -> dict:
    cfg = config or NpoConfig()
    ref = reference_logprobs(model, tokenizer, forget, cfg)
    enc = encode_pairs(tokenizer, forget, cfg)
    for e, r in zip(enc, ref, strict=True):
        e.extra["ref_logp"] = r

    def step(fb: Batch, rb: Batch | None):
        logp = sequence_logprob(model, fb)
        log_ratio = logp - fb["ref_logp"]
        forget_loss = -(2.0 / cfg.beta) * F.logsigmoid(-cfg.beta * log_ratio).mean()
        loss = forget_loss
        parts = {"forget_npo": float(forget_loss.detach()), "log_ratio": float(log_ratio.mean().detach())}
        if rb is not None:
            retain_nll = nll(model, rb)
            loss = loss + cfg.retain_weight * retain_nll
            parts["retain_nll"] = float(retain_nll.detach())
        return loss, parts

    return train(
        model,
        tokenizer,
        forget,
        retain,
        cfg,
        step,
        method="npo",
        forget_encoded=enc,
        use_retain=cfg.retain_weight > 0,
    )
