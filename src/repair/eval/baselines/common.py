"""Shared pieces of the training-based unlearning baselines.

Every baseline sees the same data pipeline: a (prompt, response) pair is rendered with the
tokenizer's chat template (or a plain "Question/Answer" layout when there is none), and only
the response tokens carry labels. The training loop walks the forget set once per epoch and
pairs each forget batch with the next retain batch (cycled), as in the TOFU-style
forget/retain trainers the baselines come from.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from repair.models.chat import has_template, render_chat

from .config import TrainingConfig

Pair = tuple[str, str]
Batch = dict[str, Any]
IGNORE = -100

# ---------------------------------------------------------------------------------------------
# tokenisation


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]  # IGNORE on prompt tokens
    # Per-example side data carried through batching: floats become a (B,) tensor, nested
    # Encoded values (e.g. FLAT's refusal twin) become a sub-batch under the same key.
    extra: dict[str, Any] = field(default_factory=dict)


def _render_prompt(tokenizer, prompt: str) -> tuple[str, bool]:
    """Prompt text up to where the assistant reply starts; bool says whether a template was used."""
    return render_chat(tokenizer, [{"role": "user", "content": prompt}]), has_template(tokenizer)


def encode_pair(tokenizer, prompt: str, response: str, max_length: int) -> Encoded:
    """Tokenise one pair; labels cover the response (and its end-of-turn marker) only.

    The prompt is tokenised on its own, exactly as at generation time, and the response part
    is tokenised separately and appended, so the prompt/response boundary is exact.
    """
    prompt_text, templated = _render_prompt(tokenizer, prompt)
    resp_ids: list[int]
    if templated:
        full = render_chat(
            tokenizer,
            [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}],
            generation_prompt=False,
        )
        prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
        if full.startswith(prompt_text):
            resp_ids = tokenizer(full[len(prompt_text) :], add_special_tokens=False)["input_ids"]
        else:  # template re-renders earlier turns differently: fall back to plain concatenation
            resp_ids = tokenizer(response, add_special_tokens=False)["input_ids"]
            if tokenizer.eos_token_id is not None:
                resp_ids = resp_ids + [tokenizer.eos_token_id]
    else:
        prompt_ids = tokenizer(prompt_text, add_special_tokens=True)["input_ids"]
        resp_ids = tokenizer(" " + response, add_special_tokens=False)["input_ids"]
        if tokenizer.eos_token_id is not None:
            resp_ids = resp_ids + [tokenizer.eos_token_id]
    # Keep the whole response if possible: cut the prompt from the left when too long.
    room = max_length - len(resp_ids)
    if room < 1:
        resp_ids = resp_ids[: max_length - 1]
        room = 1
    prompt_ids = prompt_ids[-room:]
    ids = list(prompt_ids) + list(resp_ids)
    labels = [IGNORE] * len(prompt_ids) + list(resp_ids)
    return Encoded(ids, labels)


def pad_id(tokenizer) -> int:
    for tid in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if tid is not None:
            return int(tid)
    return 0


def collate(encoded: Sequence[Encoded], pad: int, device: torch.device) -> Batch:
    """Right-pad a list of encodings into input_ids / attention_mask / labels tensors."""
    n = max(len(e.input_ids) for e in encoded)
    ids = torch.full((len(encoded), n), pad, dtype=torch.long)
    mask = torch.zeros((len(encoded), n), dtype=torch.long)
    labels = torch.full((len(encoded), n), IGNORE, dtype=torch.long)
    for i, e in enumerate(encoded):
        k = len(e.input_ids)
        ids[i, :k] = torch.tensor(e.input_ids)
        mask[i, :k] = 1
        labels[i, :k] = torch.tensor(e.labels)
    out: Batch = {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}
    for key, value in encoded[0].extra.items():
        if isinstance(value, Encoded):
            out[key] = collate([e.extra[key] for e in encoded], pad, device)
        else:
            out[key] = torch.tensor([float(e.extra[key]) for e in encoded], device=device)
    return out


def encode_pairs(tokenizer, pairs: Sequence[Pair], config: TrainingConfig) -> list[Encoded]:
    return [encode_pair(tokenizer, p, r, config.max_length) for p, r in pairs]


def batches(items: Sequence, batch_size: int, rng: random.Random | None) -> Iterator[list]:
    """One shuffled (if rng) pass over items in batches."""
    order = list(range(len(items)))
    if rng is not None:
        rng.shuffle(order)
    for i in range(0, len(order), batch_size):
        yield [items[j] for j in order[i : i + batch_size]]


def cycle_batches(items: Sequence, batch_size: int, rng: random.Random) -> Iterator[list]:
    """Endless reshuffled passes; used for the retain set so every forget step gets a batch."""
    while True:
        yield from batches(items, batch_size, rng)


# ---------------------------------------------------------------------------------------------
# losses and model helpers


def device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log p(y_t | y_<t) for the shifted labels, and the mask of labelled positions."""
    logits = logits[:, :-1, :].float()
    target = labels[:, 1:]
    mask = target != IGNORE
    lp = torch.gather(F.log_softmax(logits, dim=-1), 2, target.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return lp * mask, mask


def nll(model, batch: Batch) -> torch.Tensor:
    """Mean token NLL of the labelled (response) tokens, the usual causal-LM loss."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    lp, mask = token_logprobs(out.logits, batch["labels"])
    return -lp.sum() / mask.sum().clamp_min(1)


def sequence_logprob(model, batch: Batch) -> torch.Tensor:
    """Summed log-likelihood of each sequence's response, shape (B,)."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    lp, _ = token_logprobs(out.logits, batch["labels"])
    return lp.sum(-1)


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    """Deep copy in eval mode with gradients off (reference / teacher / frozen model)."""
    ref = copy.deepcopy(model)
    ref.eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def decoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The list of transformer blocks of a decoder-only HF model."""
    for path in ("model.layers", "model.decoder.layers", "transformer.h", "gpt_neox.layers"):
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        if isinstance(obj, torch.nn.ModuleList):
            return obj
    raise ValueError(f"cannot find decoder layers of {type(model).__name__}")


# ---------------------------------------------------------------------------------------------
# training loop


StepFn = Callable[[Batch, Batch | None], tuple[torch.Tensor, dict[str, float]]]


def _optimise(
    loss: torch.Tensor, optimizer, params: Sequence[torch.nn.Parameter], max_grad_norm: float | None
):
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()


@contextmanager
def _training_only(model: torch.nn.Module, params: Sequence[torch.nn.Parameter]):
    """Gradients on `params` alone and train mode, both restored afterwards."""
    all_params = list(model.parameters())
    saved_flags = [p.requires_grad for p in all_params]
    train_ids = {id(p) for p in params}
    for p in all_params:
        p.requires_grad_(id(p) in train_ids)
    was_training = model.training
    model.train()
    try:
        yield
    finally:
        for p, flag in zip(all_params, saved_flags, strict=True):
            p.requires_grad_(flag)
        model.train(was_training)


def _epochs(
    step: StepFn,
    optimizer,
    params,
    f_enc,
    r_iter,
    config: TrainingConfig,
    rng,
    pad: int,
    dev,
    total: int,
    bar,
) -> tuple[int, dict[str, float], dict[str, float]]:
    """Up to `total` steps over `config.epochs` passes: (steps, last step's terms, last epoch's means)."""
    steps, last, epoch_means = 0, {}, {}
    for _ in range(config.epochs):
        sums: dict[str, float] = {}
        n = 0
        for f_items in batches(f_enc, config.batch_size, rng):
            if steps >= total:
                break
            fb = collate(f_items, pad, dev)
            rb = collate(next(r_iter), pad, dev) if r_iter is not None else None
            loss, parts = step(fb, rb)
            _optimise(loss, optimizer, params, config.max_grad_norm)
            steps += 1
            n += 1
            last = {"loss": float(loss.detach()), **parts}
            for k, v in last.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.update(1)
            bar.set_postfix({k: f"{v:.3g}" for k, v in last.items()})
        epoch_means = {k: v / n for k, v in sums.items()} if n else sums
        if steps >= total:
            break
    return steps, last, epoch_means


def _passes(
    model: torch.nn.Module,
    tokenizer,
    train_params: list[torch.nn.Parameter],
    step: StepFn,
    f_enc: list[Encoded],
    r_iter: Iterator[list] | None,
    config: TrainingConfig,
    rng: random.Random,
    method: str,
) -> tuple[int, dict[str, float], dict[str, float]]:
    """`train`'s AdamW passes over the encoded forget set, with only ``train_params`` trainable: steps,
    per-term final losses and last-epoch means."""
    total = math.ceil(len(f_enc) / config.batch_size) * config.epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    with _training_only(model, train_params):
        optimizer = torch.optim.AdamW(train_params, lr=config.lr, weight_decay=config.weight_decay)
        bar = tqdm(total=total, desc=f"unlearn[{method}]", disable=not config.progress, leave=False)
        try:
            return _epochs(
                step,
                optimizer,
                train_params,
                f_enc,
                r_iter,
                config,
                rng,
                pad_id(tokenizer),
                device_of(model),
                total,
                bar,
            )
        finally:
            bar.close()
            optimizer.zero_grad(set_to_none=True)


def train(
    model: torch.nn.Module,
    tokenizer,
    forget: Sequence[Pair],
    retain: Sequence[Pair],
    config: TrainingConfig,
    step: StepFn,
    *,
    method: str,
    params: Sequence[torch.nn.Parameter] | None = None,
    forget_encoded: Sequence[Encoded] | None = None,
    use_retain: bool = True,
) -> dict:
    """Generic unlearning loop: `epochs` passes over the forget set with AdamW.

    `step(forget_batch, retain_batch)` returns the loss to minimise and floats to log. Only
    `params` (default: every parameter) are trained; `requires_grad` flags and train/eval mode
    are restored afterwards. Returns stats: steps, per-term final and last-epoch-mean losses,
    wall seconds.
    """
    if not forget:
        raise ValueError("forget set is empty")
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    f_enc = list(forget_encoded) if forget_encoded is not None else encode_pairs(tokenizer, forget, config)
    r_enc = encode_pairs(tokenizer, retain, config) if (use_retain and retain) else []
    r_iter = cycle_batches(r_enc, config.batch_size, rng) if r_enc else None
    train_params = list(params) if params is not None else list(model.parameters())
    t0 = time.perf_counter()
    steps, last, epoch_means = _passes(
        model, tokenizer, train_params, step, f_enc, r_iter, config, rng, method
    )
    return {
        "method": method,
        "steps": steps,
        "epochs": config.epochs,
        "n_forget": len(forget),
        "n_retain": len(r_enc),
        "trainable_params": sum(p.numel() for p in train_params),
        "final": last,
        "last_epoch_mean": epoch_means,
        "wall_s": time.perf_counter() - t0,
    }
