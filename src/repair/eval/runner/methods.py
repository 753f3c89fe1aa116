"""How the runner hands each method its requests: every method comes from the unlearner registry
(``repair.eval.unlearners``) and runs through its protocol (prepare, unlearn, undo).

What a method is given follows the paper's protocol and the method's config class: a training baseline
gets the run's optimiser settings and D_r as its retain pairs, and trains on the whole D_f as one request;
STAMP gets D_r as its retain buffer (keep statistics), the run's STAMP settings and a guard, and takes one
request per subject, as a user makes them (``Method.interactive``).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from repair.edit.answers import SHORT_RESPONSE_WORDS, WORD, checked_answer
from repair.eval.baselines import TrainingConfig
from repair.eval.tasks import QA, TaskData
from repair.eval.unlearners import METHODS, Applied, ForgetRequest, Method, Unlearner, make_unlearner

from .config import RunConfig

# The tables' STAMP is the engine's API with a retain buffer and a guard (no chat surgeon); every other
# method has the same name in the registry.
REGISTRY_NAMES = {"stamp": "stamp-api", "stamp-lr": "stamp-lr-api"}


def subject_groups(qas: Sequence[QA]) -> list[list[QA]]:
    """D_f as single requests: one per subject (items without a subject are requests of their own)."""
    groups: OrderedDict[str, list[QA]] = OrderedDict()
    for i, q in enumerate(qas):
        groups.setdefault(q.subject or f"#{i}", []).append(q)
    return list(groups.values())


def retain_subset(qas: Sequence[QA], ratio: float, seed: int) -> list[QA]:
    """A seeded fraction of D_r, whole subjects first so the buffer holds complete profiles."""
    groups = subject_groups(qas)
    random.Random(f"retain-ratio:{seed}").shuffle(groups)
    n = max(1, round(ratio * len(qas)))
    out: list[QA] = []
    for g in groups:
        if len(out) >= n:
            break
        out.extend(g[: n - len(out)])
    return out


def single_requests(task: TaskData, n: int) -> list[QA]:
    """n single forget items: one per subject, cycling through the question types."""
    groups = subject_groups(task.forget)
    out = []
    for i in range(n):
        g = groups[i % len(groups)]
        out.append(g[(i // len(groups) + i) % len(g)])
    return out


def write_retain_buffer(qas: Sequence[QA], work: Path) -> str:
    """D_r as the JSONL retain buffer that `repair.stamp(retain=...)` reads."""
    lines = [json.dumps({"prompt": q.prompt, "response": q.response}, ensure_ascii=False) for q in qas]
    text = "\n".join(lines) + "\n"
    path = work / f"retain-{hashlib.sha256(text.encode()).hexdigest()[:12]}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return str(path)


def request_answer(q: QA, verify: str = "key") -> str | None:
    """What STAMP's α search must find gone for a request whose primary item is ``q`` (None: the whole
    response, the engine's default). See ``RunConfig.stamp_verify``."""
    if verify == "response" or len(WORD.findall(q.response)) > SHORT_RESPONSE_WORDS:
        return None  # a biography: one key (its city) would let the rest through; most of it must go
    return checked_answer(q.prompt, q.response)


def stamp_guard(
    cfg: RunConfig, overrides: dict[str, Any], retain: Sequence[QA], avoid: Sequence[QA] = ()
) -> list[str] | None:
    """The D_r prompts a STAMP edit must keep answering (``cfg.stamp_guard`` of them, preferring ones
    that are not scored, so that the guard is not the test); None for the paper's recipe."""
    if cfg.stamp_guard <= 0 or overrides.get("recipe") == "paper":
        return None
    scored = {q.prompt for q in avoid}
    pool = [q.prompt for q in retain if q.prompt not in scored] + [
        q.prompt for q in retain if q.prompt in scored
    ]
    return pool[: cfg.stamp_guard]


def stamp_overrides(method: str, cfg: RunConfig, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"method": "stamp-lr", "rank": cfg.stamp_rank} if method == "stamp-lr" else {}
    out.update(cfg.stamp_set)
    out.update(extra)
    return out


def method_spec(method: str) -> Method:
    return METHODS[REGISTRY_NAMES.get(method, method)]


def is_training(method: str) -> bool:
    return issubclass(method_spec(method).config, TrainingConfig)


def build_unlearner(
    method: str,
    cfg: RunConfig,
    retain: Sequence[QA],
    work: Path,
    *,
    epochs: int,
    warm: QA,
    avoid: Sequence[QA] = (),
    **extra: Any,
) -> Unlearner:
    """``method`` from the registry, configured from the run: ``epochs`` for a baseline; the STAMP
    settings (``extra`` wins over them), D_r as retain buffer, a guard that avoids ``avoid`` where it can,
    and a throw-away edit of ``warm`` in ``prepare`` for STAMP."""
    name = REGISTRY_NAMES.get(method, method)
    if is_training(method):
        run_wide = {
            "epochs": epochs,
            "lr": cfg.baseline_lr,
            "batch_size": cfg.baseline_batch_size,
            "seed": cfg.seed,
            "progress": cfg.progress,
            "amp": cfg.amp,
        }
        own = cfg.method_set.get(method, {})
        return make_unlearner(name, retain=[q.pair() for q in retain], **{**run_wide, **own})
    overrides = stamp_overrides(method, cfg, **extra)
    return make_unlearner(
        name,
        overrides=overrides,
        retain_buffer=write_retain_buffer(retain, work),
        guard=stamp_guard(cfg, overrides, retain, avoid),
        guard_budget=cfg.stamp_guard_budget,
        requested_by="eval",
        warm_pair=warm.pair(),
    )


def requests_for(method: str, forget: Sequence[QA], verify: str = "key") -> list[ForgetRequest]:
    """D_f as the method takes it: one request per subject (interactive methods) or one batch."""
    if method_spec(method).interactive:
        return [
            ForgetRequest(
                subject=g[0].subject or "", pairs=[q.pair() for q in g], answer=request_answer(g[0], verify)
            )
            for g in subject_groups(forget)
        ]
    return [ForgetRequest(subject="D_f", pairs=[q.pair() for q in forget])]


def request_record(method: str, applied: Applied) -> dict[str, Any]:
    """One request's record in a single-sample row: a baseline's training stats or STAMP's edit."""
    return {"train": applied.detail} if is_training(method) else {"edit": applied.detail}


def series_record(
    method: str, applied: Sequence[Applied], cfg: RunConfig, retain: Sequence[QA], **extra: Any
) -> dict[str, Any]:
    """A batch row's record of all its requests: a baseline's training stats, or STAMP's edits."""
    if is_training(method):
        return {"train": applied[0].detail}
    edits = [a.detail for a in applied]
    series = {
        "edits": edits,
        "rte_s": sum(a.request_s for a in applied),
        "n_edits": len(edits),
        "rte_edit_s": sum(e["edit_s"] for e in edits),
        "verified": sum(bool(e["verified"]) for e in edits),
        "committed": sum(e["committed"] for e in edits),
    }
    return {"stamp": series, "overrides": stamp_overrides(method, cfg, **extra), "retain_buffer": len(retain)}
