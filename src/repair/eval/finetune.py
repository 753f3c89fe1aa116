"""Base and Oracle patients for the evaluation tasks (RePAIR sec. 5.1), built once and cached.

* **Base**: the patient fully fine-tuned on D_f ∪ D_r (for misinformation, D_f carries the corrupted
  answers, so fine-tuning implants them, as the paper does with MMLU).
* **Oracle**: the same recipe on D_r only: the model that never saw D_f.

Each is a plain Hugging Face folder under
``repair_home()/eval/<model>/<task>/<size>/seed<seed>/{base,oracle}``, so ``repair.load(folder)``
gives a Patient over it. A folder is reused when its recorded key (model fingerprint, training
pairs, recipe) matches; otherwise it is rebuilt. Writes are atomic (temporary folder, rename).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from tqdm.auto import tqdm

from repair.eval.baselines.common import collate, encode_pairs, nll, pad_id
from repair.eval.baselines.config import TrainingConfig as _EncodeConfig
from repair.eval.tasks.base import TaskData
from repair.models.loader import load_hf, repair_home, resolve

Which = Literal["base", "oracle"]


class FinetuneConfig(BaseModel):
    """Full fine-tune recipe. Defaults memorise the small tasks on SmolLM2-135M in a few epochs:
    a high learning rate with linear decay is what makes a 135M model recite invented facts."""

    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(6, ge=1)
    lr: float = Field(2e-4, gt=0)
    batch_size: int = Field(8, ge=1)
    weight_decay: float = Field(0.0, ge=0)
    warmup_frac: float = Field(0.05, ge=0, lt=1)
    max_length: int = Field(256, ge=8)
    seed: int = 0
    # bf16 autocast (CPU AMX / CUDA tensor cores): about 2x faster on this project's CPUs; master
    # weights stay float32, so the saved model is float32 like the patient.
    amp: bool = True
    freeze_embeddings: bool = True  # tied embeddings/LM head: the facts live in the blocks


def device_auto() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast_for(device: torch.device, enabled: bool):
    """bf16 autocast on the device when enabled and supported, else a no-op context."""
    if not enabled:
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def cache_root(model: str, task: str, size: str, seed: int) -> Path:
    return repair_home() / "eval" / safe_name(model) / task / str(size) / f"seed{seed}"


def train_pairs(task: TaskData, which: Which) -> list[tuple[str, str]]:
    return [q.pair() for q in (task.train_base if which == "base" else task.train_oracle)]


def cache_key(fingerprint: str, pairs: Sequence[tuple[str, str]], cfg: FinetuneConfig) -> str:
    blob = json.dumps([fingerprint, list(pairs), cfg.model_dump(exclude={"amp"})], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def finetune(
    model,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    cfg: FinetuneConfig,
    *,
    desc: str = "finetune",
    progress: bool = True,
) -> dict[str, Any]:
    """Full fine-tune of ``model`` in place on chat-templated (prompt, response) pairs (loss on the
    response tokens only). Returns per-epoch mean losses and wall seconds."""
    if not pairs:
        raise ValueError("nothing to fine-tune on")
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    dev = next(model.parameters()).device
    enc = encode_pairs(tokenizer, pairs, _EncodeConfig(max_length=cfg.max_length, progress=False))
    emb = model.get_input_embeddings().weight if cfg.freeze_embeddings else None
    params = [p for p in model.parameters() if p is not emb]
    saved = {id(p): p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(p is not emb)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(enc) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    warm = max(1, int(cfg.warmup_frac * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    pad = pad_id(tokenizer)
    losses: list[float] = []
    model.train()
    t0 = time.perf_counter()
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    try:
        for _ in range(cfg.epochs):
            order = list(range(len(enc)))
            rng.shuffle(order)
            ep = []
            for i in range(0, len(order), cfg.batch_size):
                batch = collate([enc[j] for j in order[i : i + cfg.batch_size]], pad, dev)
                with autocast_for(dev, cfg.amp):
                    loss = nll(model, batch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                sched.step()
                ep.append(float(loss.detach()))
                bar.update(1)
                bar.set_postfix(loss=f"{ep[-1]:.3f}")
            losses.append(sum(ep) / len(ep))
    finally:
        bar.close()
        opt.zero_grad(set_to_none=True)
        for p in model.parameters():
            p.requires_grad_(saved[id(p)])
        model.eval()
    return {"epoch_loss": losses, "steps": total, "examples": len(enc), "wall_s": time.perf_counter() - t0}


def ensure_finetuned(
    model_name: str,
    task: TaskData,
    which: Which,
    cfg: FinetuneConfig | None = None,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Folder of the Base or Oracle patient for ``task``, fine-tuning it first if not cached."""
    cfg = cfg or FinetuneConfig()
    name, source, fingerprint = resolve(model_name)
    pairs = train_pairs(task, which)
    key = cache_key(fingerprint, pairs, cfg)
    final = cache_root(name, task.name, task.size, task.seed) / which
    marker = final / "repair_eval.json"
    if not force and marker.exists():
        try:
            if json.loads(marker.read_text()).get("key") == key:
                return final
        except (OSError, json.JSONDecodeError):
            pass  # unreadable marker: rebuild
    dev = torch.device(device) if device is not None else device_auto()
    model, tok = load_hf(source)
    model.to(dev)
    stats = finetune(model, tok, pairs, cfg, desc=f"{which}[{task.name}]", progress=progress)
    model.to("cpu")
    tmp = final.with_name(final.name + f".tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    info = {
        "key": key,
        "model": name,
        "model_fingerprint": fingerprint,
        "task": task.name,
        "size": task.size,
        "seed": task.seed,
        "which": which,
        "pairs": len(pairs),
        "config": cfg.model_dump(),
        "device": str(dev),
        "stats": stats,
    }
    (tmp / "repair_eval.json").write_text(json.dumps(info, indent=1))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def finetune_info(folder: str | Path) -> dict[str, Any]:
    """The record written next to a cached Base/Oracle (recipe, losses, wall time)."""
    p = Path(folder) / "repair_eval.json"
    return json.loads(p.read_text()) if p.exists() else {}
