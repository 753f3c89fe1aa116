"""Weighted Gradient Ascent (WGA).

Wang et al., "Rethinking LLM Unlearning Objectives: A Gradient Perspective and Go Beyond"
(ICLR 2025) [RePAIR ref 23]. Their G-effect analysis shows plain GA spends most of its
gradient on tokens the model already finds unlikely, which is what wrecks utility. WGA
re-weights the ascent per token by the (detached) model confidence p(y_t)^alpha, so the
update concentrates on tokens that are still well remembered and fades once a token is
forgotten:

    L = mean_t [ p(y_t)^alpha * log p(y_t) ]  (forget response tokens)  + retain_weight * NLL(retain)

The retain term is the gradient-difference regulariser used with WGA in open-unlearning;
`retain_weight=0` gives the forget-only form of the G-effect code.
"""

from __future__ import annotations

from collections.abc import Sequence

from .common import Batch, Pair, nll, token_logprobs, train
from .config import WgaConfig


def unlearn(
    model, tokenizer, forget: Sequence[Pair], retain: Sequence[Pair], config: WgaConfig | None = None
) -> dict:
    cfg = config or WgaConfig()

    def step(fb: Batch, rb: Batch | None):
        out = model(input_ids=fb["input_ids"], attention_mask=fb["attention_mask"])
        lp, mask = token_logprobs(out.logits, fb["labels"])
        weights = lp.detach().exp().pow(cfg.alpha)
        n = mask.sum().clamp_min(1)
        forget_loss = (weights * lp).sum() / n  # masked entries of lp are 0
        loss = forget_loss
        parts = {"forget_wloss": float(forget_loss.detach()), "forget_nll": float(-(lp.sum() / n).detach())}
        if rb is not None:
            retain_nll = nll(model, rb)
            loss = loss + cfg.retain_weight * retain_nll
            parts["retain_nll"] = float(retain_nll.detach())
        return loss, parts

    return train(model, tokenizer, forget, retain, cfg, step, method="wga", use_retain=cfg.retain_weight > 0)
