"""Forget-data-only Loss AdjusTment (FLAT).

Wang et al., "LLM Unlearning via Loss Adjustment with Only Forget Data" (ICLR 2025)
[RePAIR ref 24]. For each forget prompt x there is a template answer y_e ("I don't know.") and
the forget answer y_f. FLAT maximises the variational f-divergence between the two answer
distributions, with the model's average token probability as the variational function:

    L = -g(P(y_e|x)) + f*(g(P(y_f|x)))

where P(y|x) is the mean per-token probability of the response, and (g, f*) are the output
activation and convex conjugate of the chosen f-divergence (Nowozin et al., f-GAN, Table 6).
Minimising L raises the template answer's probability and lowers the forget answer's, with
importance weights set by the divergence. No retain data is used.

Differences from the reference code: P is averaged over each example's response tokens only
(the reference averages over the padded length), and the reverse-KL / Hellinger / Neyman
activations use the f-GAN forms g(v) = -exp(-v), 1 - exp(-v) (the reference's exp(v) flips the
direction of those variants). KL, Pearson, Jeffrey, Jensen-Shannon and total variation
(the reference default) match it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from .common import Batch, Pair, encode_pair, token_logprobs, train
from .config import FlatConfig

Fn = Callable[[torch.Tensor], torch.Tensor]

# divergence -> (g, f* o g), both applied to the variational value v = mean token probability
DIVERGENCES: dict[str, tuple[Fn, Fn]] = {
    "kl": (lambda v: v, lambda v: torch.exp(v - 1.0)),
    "reverse-kl": (lambda v: -torch.exp(-v), lambda v: v - 1.0),
    "pearson": (lambda v: v, lambda v: v * v / 4.0 + v),
    "neyman": (lambda v: 1.0 - torch.exp(-v), lambda v: 2.0 - 2.0 * torch.exp(-v / 2.0)),
    "squared-hellinger": (lambda v: 1.0 - torch.exp(-v), lambda v: torch.exp(v) - 1.0),
    "jeffrey": (lambda v: v, lambda v: v + v * v / 4.0 + v**3 / 16.0),  # 3rd-order conjugate, as FLAT
    "jensen-shannon": (lambda v: math.log(2.0) - F.softplus(-v), lambda v: F.softplus(v) - math.log(2.0)),
    "total-variation": (lambda v: 0.5 * torch.tanh(v), lambda v: 0.5 * torch.tanh(v)),
}


def mean_token_prob(model, batch: Batch) -> torch.Tensor:
    """Per-example mean probability of the response tokens, shape (B,)."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    lp, mask = token_logprobs(out.logits, batch["labels"])
    return (lp.exp() * mask).sum(-1) / mask.sum(-1).clamp_min(1)


def flat_loss(p_good: torch.Tensor, p_bad: torch.Tensor, divergence: str) -> torch.Tensor:
    g, conj = DIVERGENCES[divergence]
    return -g(p_good).mean() + conj(p_bad).mean()


def unlearn(
    model, tokenizer, forget: Sequence[Pair], retain: Sequence[Pair], config: FlatConfig | None = None
) -> dict:
    """`retain` is accepted for the uniform signature and ignored (FLAT is forget-data-only)."""
    cfg = config or FlatConfig()
    rng = random.Random(cfg.seed)
    enc = []
    for prompt, response in forget:
        bad = encode_pair(tokenizer, prompt, response, cfg.max_length)
        bad.extra["good"] = encode_pair(tokenizer, prompt, rng.choice(cfg.refusals), cfg.max_length)
        enc.append(bad)

    def step(fb: Batch, _rb: Batch | None):
        p_bad = mean_token_prob(model, fb)
        p_good = mean_token_prob(model, fb["good"])
        loss = flat_loss(p_good, p_bad, cfg.divergence)
        return loss, {"p_forget": float(p_bad.mean().detach()), "p_template": float(p_good.mean().detach())}

    return train(model, tokenizer, forget, [], cfg, step, method="flat", forget_encoded=enc, use_retain=False)
