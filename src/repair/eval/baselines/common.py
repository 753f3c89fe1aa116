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
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from tqdm.auto import tqdm

Pair = tuple[str, str]
Batch = dict[str, Any]
IGNORE = -100

FDivergence = Literal["kl", "reverse-kl", "jeffrey", "squared-hellinger", "pearson", "neyman",
                      "jensen-shannon", "total-variation"]


class BaselineConfig(BaseModel):
    """Hyper-parameters shared by all six baselines, plus the few that are method-specific.

    Defaults follow the RePAIR paper's protocol (two epochs, AdamW) and each method's paper where
    it names a value; values marked "ours" are choices for models without a published setting.
    """

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(2, ge=1)
    lr: float = Field(1e-5, gt=0)
    batch_size: int = Field(4, ge=1)
    retain_weight: float = Field(1.0, ge=0)  # weight of the retain NLL term (GA, NPO, WGA, ASU)
    max_length: int = Field(256, ge=8)
    seed: int = 0
    weight_decay: float = Field(0.01, ge=0)  # TOFU / FLAT trainers
    max_grad_norm: float | None = 1.0  # HF Trainer default clipping
    max_steps: int | None = None  # hard cap on optimizer steps (None: epochs decide)
    progress: bool = True  # tqdm bar

    # NPO (Zhang et al., 2024)
    beta: float = Field(0.1, gt=0)

    # RMU (Li et al., 2024, WMDP): defaults of the reference zephyr-7b run
    steering_coeff: float = Field(6.5, gt=0)
    layer: int | None = None  # None: the layer at depth 7/32 as in the reference run
    rmu_alpha: float = Field(1200.0, ge=0)  # retain activation-matching weight
    rmu_update_layers: int = Field(3, ge=1)  # update layers [layer-k+1, layer]
    rmu_params: tuple[str, ...] = ("mlp.down_proj",)  # name fragments of trained params
    # The reference run trains 150 batches (max_num_batches) whatever the corpus size; two epochs over one
    # request's 1-3 pairs are 2 steps, which left RMU's 3 matrices unchanged (KL 0.000 on every task).
    rmu_steps: int | None = Field(150, ge=1)  # None: `epochs` passes, as the other baselines

    # WGA (Wang et al., 2025, G-effect): token weight p(y_t)^alpha
    wga_alpha: float = Field(1.0, ge=0)

    # FLAT (Wang et al., 2025): f-divergence and template ("good") answers
    flat_divergence: FDivergence = "kl"
    refusals: tuple[str, ...] = (
        "I don't know.",
        "I'm not sure about that.",
        "I cannot answer that question.",
        "I have no information about that.",
    )

    # ASU (Zare Zade et al., 2026): attention softmax temperature of the forget-teacher
    temperature: float = Field(2.0, gt=0)  # ours: the paper tunes T per benchmark


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
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        return text, True
    return f"Question: {prompt}\nAnswer:", False


def encode_pair(tokenizer, prompt: str, response: str, max_length: int) -> Encoded:
    """Tokenise one pair; labels cover the response (and its end-of-turn marker) only.

    The prompt is tokenised on its own, exactly as at generation time, and the response part
    is tokenised separately and appended, so the prompt/response boundary is exact.
    """
    prompt_text, templated = _render_prompt(tokenizer, prompt)
    resp_ids: list[int]
    if templated:
        full = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}],
            tokenize=False,
        )
        prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
        if full.startswith(prompt_text):
            resp_ids = tokenizer(full[len(prompt_text):], add_special_tokens=False)["input_ids"]
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


def encode_pairs(tokenizer, pairs: Sequence[Pair], config: BaselineConfig) -> list[Encoded]:
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


def train(
    model: torch.nn.Module,
    tokenizer,
    forget: Sequence[Pair],
    retain: Sequence[Pair],
    config: BaselineConfig,
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
    dev = device_of(model)
    pad = pad_id(tokenizer)
    f_enc = list(forget_encoded) if forget_encoded is not None else encode_pairs(tokenizer, forget, config)
    r_enc = encode_pairs(tokenizer, retain, config) if (use_retain and retain) else []
    r_iter = cycle_batches(r_enc, config.batch_size, rng) if r_enc else None

    all_params = list(model.parameters())
    saved_flags = [p.requires_grad for p in all_params]
    train_params = list(params) if params is not None else all_params
    train_ids = {id(p) for p in train_params}
    for p in all_params:
        p.requires_grad_(id(p) in train_ids)
    was_training = model.training
    model.train()
    optimizer = torch.optim.AdamW(train_params, lr=config.lr, weight_decay=config.weight_decay)

    steps_per_epoch = math.ceil(len(f_enc) / config.batch_size)
    total = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    t0 = time.perf_counter()
    steps = 0
    last: dict[str, float] = {}
    epoch_sums: dict[str, float] = {}
    bar = tqdm(total=total, desc=f"unlearn[{method}]", disable=not config.progress, leave=False)
    try:
        for _ in range(config.epochs):
            epoch_sums, n_epoch = {}, 0
            for f_items in batches(f_enc, config.batch_size, rng):
                if steps >= total:
                    break
                fb = collate(f_items, pad, dev)
                rb = collate(next(r_iter), pad, dev) if r_iter is not None else None
                loss, parts = step(fb, rb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(train_params, config.max_grad_norm)
                optimizer.step()
                steps += 1
                last = {"loss": float(loss.detach()), **parts}
                for k, v in last.items():
                    epoch_sums[k] = epoch_sums.get(k, 0.0) + v
                n_epoch += 1
                bar.update(1)
                bar.set_postfix({k: f"{v:.3g}" for k, v in last.items()})
            if n_epoch:
                epoch_sums = {k: v / n_epoch for k, v in epoch_sums.items()}
            if steps >= total:
                break
    finally:
        bar.close()
        optimizer.zero_grad(set_to_none=True)
        for p, flag in zip(all_params, saved_flags, strict=True):
            p.requires_grad_(flag)
        model.train(was_training)
    return {
        "method": method,
        "steps": steps,
        "epochs": config.epochs,
        "n_forget": len(forget),
        "n_retain": len(r_enc),
        "trainable_params": sum(p.numel() for p in train_params),
        "final": last,
        "last_epoch_mean": epoch_sums,
        "wall_s": time.perf_counter() - t0,
    }

