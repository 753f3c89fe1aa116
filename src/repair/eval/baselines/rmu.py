"""Representation Misdirection for Unlearning (RMU).

Li et al., "The WMDP Benchmark: Measuring and Reducing Malicious Use with Unlearning"
(ICML 2024) [RePAIR ref 17], Sec. 5. With u a fixed random unit vector (entries ~ U[0, 1),
normalised) and h_l the output of decoder block l:

    L_forget = mean_tokens || h_l(x_f) - c * u ||^2          (per-token mean over features)
    L_retain = mean_tokens || h_l(x_r) - h_l^frozen(x_r) ||^2
    L = L_forget + alpha * L_retain

As in the reference code only a few MLP weights are trained: `mlp.down_proj` (param id 6 of a
Llama block) of layers l-2..l, with l = 7 of 32 for zephyr-7b (c = 6.5, alpha = 1200); the
default layer here is the one at the same relative depth.

Implementation notes:
* the loss depends only on h_l and the trained weights sit at or below l, so both forwards stop
  at block l (same gradients, fewer FLOPs);
* the frozen model is the live model with the original values of the trained tensors swapped
  in through `torch.func.functional_call`, so no second copy of the weights is held;
* forget/retain pairs are chat-templated; the token prefix shared by every example (system
  prompt, template header) has identical activations for all inputs, so it cannot be both
  misdirected and preserved; it is left out of the forget loss (pad tokens are always masked).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import contextmanager

import torch
from torch.func import functional_call

from .common import (
    IGNORE,
    Batch,
    Encoded,
    Pair,
    collate,
    decoder_layers,
    device_of,
    encode_pairs,
    pad_id,
    train,
)
from .config import RmuConfig


class _StopForward(Exception):
    """Raised by the capture hook to end the forward pass once block `layer` has run."""


def resolve_layer(model, config: RmuConfig) -> int:
    n = len(decoder_layers(model))
    if config.layer is None:
        return min(n - 1, max(0, round(n * 7 / 32)))
    if not -n <= config.layer < n:
        raise ValueError(f"layer {config.layer} out of range for {n} layers")
    return config.layer % n


def steering_coeff(config: RmuConfig, forget_norm: float | None) -> float:
    """c: ``steering_scale`` times the frozen forget activations' mean norm, else the absolute value."""
    if config.steering_scale is None or forget_norm is None:
        return config.steering_coeff
    return config.steering_scale * forget_norm


def control_vector(hidden_size: int, config: RmuConfig, forget_norm: float | None = None) -> torch.Tensor:
    """c * u with u uniform in [0, 1)^d normalised; deterministic in `config.seed`."""
    g = torch.Generator().manual_seed(config.seed)
    u = torch.rand(hidden_size, generator=g)
    return u / u.norm() * steering_coeff(config, forget_norm)


def trainable_params(model, layer: int, config: RmuConfig) -> dict[str, torch.nn.Parameter]:
    """Full-name -> parameter for the `params` fragments in layers [layer-k+1, layer]."""
    layers = decoder_layers(model)
    wanted = {
        id(p)
        for i in range(max(0, layer - config.update_layers + 1), layer + 1)
        for name, p in layers[i].named_parameters()
        if any(f in name for f in config.params)
    }
    params = {name: p for name, p in model.named_parameters() if id(p) in wanted}
    if not params:
        raise ValueError(f"no parameters match {config.params} in layers <= {layer}")
    return params


@contextmanager
def _capture(block: torch.nn.Module, store: dict):
    def hook(_module, _inputs, output):
        store["h"] = output[0] if isinstance(output, tuple) else output
        raise _StopForward

    handle = block.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def activations(
    model, batch: Batch, layer: int, overrides: dict[str, torch.Tensor] | None = None
) -> torch.Tensor:
    """Output of decoder block `layer` (B, T, H); `overrides` swaps in other parameter values."""
    store: dict = {}
    kwargs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "use_cache": False}
    with _capture(decoder_layers(model)[layer], store):
        try:
            if overrides is None:
                model(**kwargs)
            else:
                functional_call(model, overrides, args=(), kwargs=kwargs, strict=False)
        except _StopForward:
            pass
    return store["h"]


def _masked_mse(h: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    per_token = (h.float() - target.float()).pow(2).mean(-1)
    return (per_token * mask).sum() / mask.sum().clamp_min(1)


def _shared_prefix(encs: Sequence[Encoded]) -> int:
    """Length of the token prefix common to all encodings, kept clear of every response."""
    if len(encs) < 2:
        return 0
    first = encs[0].input_ids
    n = min(len(e.input_ids) for e in encs)
    k = 0
    while k < n and all(e.input_ids[k] == first[k] for e in encs):
        k += 1
    resp_start = min(next((i for i, t in enumerate(e.labels) if t != IGNORE), len(e.labels)) for e in encs)
    return min(k, max(0, resp_start - 1))


def _forget_mask(fb: Batch, h: torch.Tensor) -> torch.Tensor:
    """Real tokens after the shared prefix (see the module notes), as floats (B, T)."""
    pos = torch.arange(fb["input_ids"].shape[1], device=h.device)
    return fb["attention_mask"].float() * (pos[None, :] >= fb["start"][:, None]).float()


@torch.no_grad()
def forget_norm(model, f_enc: Sequence[Encoded], layer: int, pad: int, batch_size: int) -> float:
    """Mean L2 norm of the unedited model's block-``layer`` output over the forget tokens."""
    total, count = 0.0, 0.0
    for i in range(0, len(f_enc), batch_size):
        fb = collate(f_enc[i : i + batch_size], pad, device_of(model))
        h = activations(model, fb, layer)
        mask = _forget_mask(fb, h)
        total += float((h.float().norm(dim=-1) * mask).sum())
        count += float(mask.sum())
    return total / max(count, 1.0)


def _step_budget(cfg: RmuConfig, n_forget: int) -> RmuConfig:
    """A fixed number of batches, cycling the forget set, as the reference code does."""
    if cfg.steps is None:
        return cfg
    per_epoch = math.ceil(n_forget / cfg.batch_size)
    steps = min(cfg.steps, cfg.max_steps or cfg.steps)
    return cfg.model_copy(update={"epochs": math.ceil(steps / max(per_epoch, 1)), "max_steps": steps})


def unlearn(
    model, tokenizer, forget: Sequence[Pair], retain: Sequence[Pair], config: RmuConfig | None = None
) -> dict:
    cfg = _step_budget(config or RmuConfig(), len(forget))
    layer = resolve_layer(model, cfg)
    params = trainable_params(model, layer, cfg)
    frozen = {name: p.detach().clone() for name, p in params.items()}

    f_enc = encode_pairs(tokenizer, forget, cfg)
    r_enc = encode_pairs(tokenizer, retain, cfg) if retain else []
    prefix = _shared_prefix(f_enc + r_enc)
    for e in f_enc:
        e.extra["start"] = prefix
    norm = forget_norm(model, f_enc, layer, pad_id(tokenizer), cfg.batch_size)
    target = control_vector(model.config.hidden_size, cfg, norm).to(device_of(model))

    def step(fb: Batch, rb: Batch | None):
        h_f = activations(model, fb, layer)
        forget_loss = _masked_mse(h_f, target.to(h_f.dtype), _forget_mask(fb, h_f))
        loss = forget_loss
        parts = {"forget_mse": float(forget_loss.detach())}
        if rb is not None:
            h_r = activations(model, rb, layer)
            with torch.no_grad():
                h_ref = activations(model, rb, layer, overrides=frozen)
            retain_loss = _masked_mse(h_r, h_ref, rb["attention_mask"].float())
            loss = loss + cfg.alpha * retain_loss
            parts["retain_mse"] = float(retain_loss.detach())
        return loss, parts

    stats = train(
        model,
        tokenizer,
        forget,
        retain,
        cfg,
        step,
        method="rmu",
        params=list(params.values()),
        forget_encoded=f_enc,
        use_retain=cfg.alpha > 0,
    )
    stats.update(
        layer=layer,
        updated=sorted(params),
        forget_prefix_skipped=prefix,
        forget_norm=norm,
        steering_coeff=steering_coeff(cfg, norm),
    )
    return stats
