"""Attention Smoothing Unlearning (ASU).

Zare Zade et al., "Attention Smoothing Is All You Need For Unlearning" (ICLR 2026)
[RePAIR ref 27]. The forget-teacher is the model itself with a raised self-attention softmax
temperature T > 1 (attention logits q.k / sqrt(d) divided by T), which flattens the attention
maps and weakens the lexical/semantic associations that reconstruct memorised facts while the
output stays fluent. Unlearning is self-distillation into that teacher on the forget data,
with the usual NLL on retain data:

    L = KL( p_teacher(. | x_<t) || p_student(. | x_<t) )  over forget response tokens
        + retain_weight * NLL(retain)

The teacher is a frozen copy of the starting model (so ASU holds two models, the memory cost
RePAIR notes). Temperature is applied through the `scaling` attribute that Hugging Face
attention modules pass to every attention backend (eager, sdpa, flash).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .common import Batch, Pair, frozen_copy, nll, train
from .config import AsuConfig


def smooth_attention(model: torch.nn.Module, temperature: float) -> int:
    """Divide the attention-logit scale of every attention module by `temperature` (in place).

    Returns the number of modules changed; raises if the architecture exposes no `scaling`.
    """
    n = 0
    for module in model.modules():
        if "Attention" in type(module).__name__ and isinstance(getattr(module, "scaling", None), float):
            module.scaling = module.scaling / temperature
            n += 1
    if n == 0:
        raise ValueError(f"{type(model).__name__}: no attention module with a float `scaling` attribute")
    return n


def forget_kl(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Mean over labelled next-token positions of KL(teacher || student)."""
    mask = (labels[:, 1:] != -100).float()
    s = F.log_softmax(student_logits[:, :-1].float(), dim=-1)
    t = F.log_softmax(teacher_logits[:, :-1].float(), dim=-1)
    kl = (t.exp() * (t - s)).sum(-1)
    return (kl * mask).sum() / mask.sum().clamp_min(1)


def unlearn(
    model, tokenizer, forget: Sequence[Pair], retain: Sequence[Pair], config: AsuConfig | None = None
) -> dict:
    cfg = config or AsuConfig()
    teacher = frozen_copy(model)
    n_attn = smooth_attention(teacher, cfg.temperature)

    def step(fb: Batch, rb: Batch | None):
        kwargs = {"input_ids": fb["input_ids"], "attention_mask": fb["attention_mask"]}
        with torch.no_grad():
            t_logits = teacher(**kwargs).logits
        s_logits = model(**kwargs).logits
        forget_loss = forget_kl(s_logits, t_logits, fb["labels"])
        loss = forget_loss
        parts = {"forget_kl": float(forget_loss.detach())}
        if rb is not None:
            retain_nll = nll(model, rb)
            loss = loss + cfg.retain_weight * retain_nll
            parts["retain_nll"] = float(retain_nll.detach())
        return loss, parts

    stats = train(model, tokenizer, forget, retain, cfg, step, method="asu", use_retain=cfg.retain_weight > 0)
    stats["attention_modules_smoothed"] = n_attn
    return stats
