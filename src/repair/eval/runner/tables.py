"""Evaluation runner: the paper's Table 2 per task, Tables 5-8, the delta-vs-paper comparison and
Figure 5, each written as JSON (every number), a markdown table and PNG plots.

Protocol (what every method gets):

* Base and Oracle come from `repair.eval.finetune` (cached per model, task, size and seed).
* Every method comes from the unlearner registry (``repair.eval.unlearners``) and runs through the
  same protocol: prepare, unlearn each request, score, undo. Every method starts from the same Base
  weights and sees the same D_f and D_r. The baselines train on them (two epochs for batch runs, one
  for single-sample runs); STAMP gets D_r as its retain buffer (keep statistics) and forgets D_f as
  **sequential single-request edits, one per subject** (one person, one country or element, one
  agent), each a multi-row edit over that subject's forget pairs: the interactive setting, where each
  request names one subject (see ``runner.methods``).
* Metrics on the edited model: Acc_f / Acc_r (normalised answer containment) and F-RL / R-RL
  (ROUGE-L recall) from greedy free-form answers, refusal rates, utility perplexity on a named
  offline corpus, and the mean KL of the first reply token's distribution on generic chat prompts
  against Base. RTE is the wall time of the unlearning step alone, on this machine, in this run.
  STAMP's one-off per-model statistics (keep second moments over D_r and generic prompts, the
  refusal direction) are timed separately as ``prep_s``.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from repair.eval.finetune import device_auto, ensure_finetuned, finetune_info
from repair.eval.tasks import QA
from repair.models.loader import load_hf

from .config import ALL_METHODS, LABELS, TABLES, RunConfig, header, task_for, write_json
from .markdown import single_markdown, table2_markdown, variants_markdown
from .methods import (
    build_unlearner,
    request_record,
    requests_for,
    retain_subset,
    series_record,
    single_requests,
    subject_groups,
)
from .scoring import Evaluator

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# a context holding Base / Oracle for one task


class TaskContext:
    def __init__(self, task_name: str, cfg: RunConfig, *, need_oracle: bool = True) -> None:
        self.cfg = cfg
        self.device = torch.device(cfg.device) if cfg.device else device_auto()
        self.task = task_for(task_name, cfg)
        t0 = time.perf_counter()
        self.base_path = ensure_finetuned(
            cfg.model, self.task, "base", cfg.finetune, device=self.device, progress=cfg.progress
        )
        self.oracle_path = (
            ensure_finetuned(
                cfg.model, self.task, "oracle", cfg.finetune, device=self.device, progress=cfg.progress
            )
            if need_oracle
            else None
        )
        self.finetune_s = time.perf_counter() - t0
        self.base_model, self.tok = load_hf(str(self.base_path))
        self.base_model.to(self.device)
        self.work = Path(cfg.out) / "work"

    def patient(self):
        import repair

        p = repair.load(str(self.base_path), ledger=False)
        p.model.to(self.device)
        return p

    def info(self) -> dict[str, Any]:
        return {
            "task": self.task.name,
            "size": self.task.size,
            "seed": self.task.seed,
            "metric": self.task.metric,
            "n_forget": len(self.task.forget),
            "n_retain": len(self.task.retain),
            "task_metadata": self.task.metadata,
            "base": {
                "path": str(self.base_path),
                **{
                    k: v
                    for k, v in finetune_info(self.base_path).items()
                    if k in ("config", "stats", "device")
                },
            },
            "oracle": (
                {
                    "path": str(self.oracle_path),
                    **{
                        k: v
                        for k, v in finetune_info(self.oracle_path).items()
                        if k in ("config", "stats", "device")
                    },
                }
                if self.oracle_path
                else None
            ),
        }


def _free(*objs: Any) -> None:
    del objs
    gc.collect()


def _prepared(unlearner, patient) -> float:
    t0 = time.perf_counter()
    unlearner.prepare(patient)
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# Table 2: all methods on one task


def run_task(
    task_name: str, methods: Sequence[str], cfg: RunConfig, *, figure5: bool = True
) -> dict[str, Any]:
    """Base, Oracle and `methods` on one task. Writes table2-<task>.{json,md} (+ Figure 5 PNG)."""
    bad = [m for m in methods if m not in ALL_METHODS]
    if bad:
        raise ValueError(f"unknown methods {bad}: choose from {', '.join(ALL_METHODS)}")
    ctx = TaskContext(task_name, cfg)
    ev = Evaluator(ctx.task, ctx.base_model, ctx.tok, cfg)
    result = {
        **header("table2", cfg),
        **ctx.info(),
        "corpus": {"source": ev.corpus.source, **ev.corpus.metadata},
        "kl_prompts": len(ev.kl_prompts),
        "finetune_s": ctx.finetune_s,
        "rows": {},
    }
    out = Path(cfg.out)

    def save() -> None:
        write_json(out / f"table2-{ctx.task.name}.json", result)
        (out / f"table2-{ctx.task.name}.md").write_text(table2_markdown(result))

    result["rows"]["base"] = {
        "method": "Base",
        **ev.score(ctx.base_model, desc="score[base]", reference=False),
    }
    save()
    oracle, _ = load_hf(str(ctx.oracle_path))
    oracle.to(ctx.device)
    result["rows"]["oracle"] = {"method": "Oracle", **ev.score(oracle, desc="score[oracle]")}
    _free(oracle)
    save()
    for m in methods:
        log.info("task %s: method %s", ctx.task.name, m)
        result["rows"][m] = method_row(ctx, ev, m, cfg)
        save()
    if figure5:
        result["figure5"] = figure5_for(ctx, out / f"figure5-{ctx.task.name}.png")
        save()
    return result


def method_row(
    ctx: TaskContext,
    ev: Evaluator,
    method: str,
    cfg: RunConfig,
    *,
    retain: Sequence[QA] | None = None,
    label: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One method on the whole D_f, from Base: prepare, every request, then the scores. ``extra``: STAMP
    settings of a table's variant."""
    retain = ctx.task.retain if retain is None else retain
    warm = subject_groups(ctx.task.forget)[0][0]
    unlearner = build_unlearner(method, cfg, retain, ctx.work, epochs=cfg.baseline_epochs, warm=warm, **extra)
    patient = ctx.patient()
    prep = _prepared(unlearner, patient)
    requests = requests_for(method, ctx.task.forget, cfg.stamp_verify)
    tag = label or method
    applied = [
        unlearner.unlearn(patient, r)
        for r in tqdm(
            requests, desc=f"unlearn[{tag}]", disable=not cfg.progress or len(requests) < 2, leave=False
        )
    ]
    row = {
        "method": label or LABELS[method],
        "rte_s": sum(a.request_s for a in applied),
        "prep_s": prep,
        **series_record(method, applied, cfg, retain, **extra),
        **ev.score(patient.model, desc=f"score[{tag}]"),
    }
    _free(patient)
    return row


# ---------------------------------------------------------------------------------------------
# Figure 5


def figure5_for(ctx: TaskContext, png: Path) -> dict[str, Any]:
    """Per-layer cosine distance between mean MLP (down) outputs on D_f and on the refusal set."""
    from repair.edit.layers import plot_separation, separation

    patient = ctx.patient()
    t0 = time.perf_counter()
    sep = separation(patient, [q.pair() for q in ctx.task.forget], "down")
    png.parent.mkdir(parents=True, exist_ok=True)
    plot_separation(sep, png, f"{ctx.cfg.model} fine-tuned on {ctx.task.name}: D_f vs refusal (down map)")
    best = max(range(len(sep)), key=sep.__getitem__)
    _free(patient)
    return {
        "separation": sep,
        "best_layer": best,
        "max": sep[best],
        "png": png.name,
        "seconds": time.perf_counter() - t0,
    }


# ---------------------------------------------------------------------------------------------
# Tables 5, 6, 7 and delta-vs-paper: STAMP variants on the personal task


def _variants_table(
    kind: str,
    cfg: RunConfig,
    variants: list[tuple[str, str, dict[str, Any], float]],
    task_name: str = "personal",
    extra_fn: Callable[[TaskContext], dict] | None = None,
) -> dict[str, Any]:
    """variants: (label, method, stamp overrides, retain ratio)."""
    ctx = TaskContext(task_name, cfg, need_oracle=False)
    ev = Evaluator(ctx.task, ctx.base_model, ctx.tok, cfg)
    result = {
        **header(kind, cfg),
        **ctx.info(),
        "corpus": {"source": ev.corpus.source, **ev.corpus.metadata},
        "rows": {},
    }
    out = Path(cfg.out)
    if extra_fn is not None:
        result.update(extra_fn(ctx))
    result["rows"]["base"] = {
        "method": "Base",
        **ev.score(ctx.base_model, desc="score[base]", reference=False),
    }

    def save() -> None:
        write_json(out / f"{kind}.json", result)
        (out / f"{kind}.md").write_text(variants_markdown(result))

    save()
    for label, method, overrides, ratio in variants:
        retain = retain_subset(ctx.task.retain, ratio, cfg.seed) if ratio < 1 else None
        row = method_row(ctx, ev, method, cfg, retain=retain, label=label, **overrides)
        row["retain_ratio"] = ratio
        result["rows"][label] = row
        save()
    return result


def run_table(name: str, cfg: RunConfig) -> dict[str, Any]:
    if name == "single-sample":
        return run_single_sample(cfg)
    if name == "layers":
        # The criterion's layer is known only once Figure 5 is computed, so the variants are filled
        # in by the hook that computes it, before any of them runs.
        variants: list[tuple[str, str, dict[str, Any], float]] = []

        def with_figure5(ctx: TaskContext) -> dict:
            f5 = figure5_for(ctx, Path(cfg.out) / "figure5-personal.png")
            best, n = f5["best_layer"], len(f5["separation"])
            variants.extend(
                [
                    (f"Layer {best} only (criterion)", "stamp", {"layers": [best]}, 1.0),
                    ("All layers", "stamp", {"layers": list(range(n))}, 1.0),
                    ("Default band (auto)", "stamp", {}, 1.0),
                ]
            )
            return {"figure5": f5}

        return _variants_table("table5-layers", cfg, variants, extra_fn=with_figure5)
    if name == "rank":
        ranks = [8, 16, 32, 64, 128]
        return _variants_table(
            "table6-rank", cfg, [(f"rank {r}", "stamp-lr", {"rank": r}, 1.0) for r in ranks]
        )
    if name == "retain-ratio":
        ratios = [0.10, 0.25, 0.50, 0.75, 1.00]
        return _variants_table(
            "table7-retain-ratio", cfg, [(f"ratio {r:.2f}", "stamp-lr", {}, r) for r in ratios]
        )
    if name == "delta-vs-paper":
        return _variants_table(
            "delta-vs-paper",
            cfg,
            [
                ("delta, exact (default)", "stamp", {}, 1.0),
                ("delta, ridge", "stamp", {"solver": "delta"}, 1.0),
                (
                    "paper-literal (eq. 4-9, criterion layer, gate/up/down)",
                    "stamp",
                    {"recipe": "paper", "solver": "paper", "maps": ("gate", "up", "down")},
                    1.0,
                ),
                (
                    "paper-literal STAMP-LR (eq. 10-11)",
                    "stamp-lr",
                    {"recipe": "paper", "solver": "paper", "maps": ("gate", "up", "down")},
                    1.0,
                ),
            ],
        )
    raise ValueError(f"unknown table {name!r}: choose from {', '.join(TABLES)}")


# ---------------------------------------------------------------------------------------------
# Table 8: single-sample unlearning


def run_single_sample(
    cfg: RunConfig, task_name: str = "personal", methods: Sequence[str] = ALL_METHODS
) -> dict[str, Any]:
    """|D_f| = 1, averaged over `cfg.requests` single requests; every request starts from Base."""
    ctx = TaskContext(task_name, cfg, need_oracle=False)
    reqs = single_requests(ctx.task, cfg.requests)
    retain_eval = retain_subset(ctx.task.retain, cfg.single_retain / max(1, len(ctx.task.retain)), cfg.seed)
    out = Path(cfg.out)
    result = {
        **header("table8-single-sample", cfg),
        **ctx.info(),
        "requests": [q.prompt for q in reqs],
        "retain_scored": len(retain_eval),
        "rows": {},
    }
    base_ev = Evaluator(
        ctx.task, ctx.base_model, ctx.tok, cfg, forget=reqs, retain=retain_eval, n_ppl=cfg.single_ppl
    )
    result["corpus"] = {"source": base_ev.corpus.source, **base_ev.corpus.metadata}
    result["rows"]["base"] = {
        "method": "Base",
        **base_ev.score(ctx.base_model, desc="score[base]", reference=False),
    }

    def save() -> None:
        write_json(out / "table8-single-sample.json", result)
        (out / "table8-single-sample.md").write_text(single_markdown(result))

    save()
    for m in methods:
        result["rows"][m] = _single_row(ctx, m, cfg, reqs, retain_eval)
        save()
    return result


def _single_row(
    ctx: TaskContext, m: str, cfg: RunConfig, reqs: Sequence[QA], retain_eval: Sequence[QA]
) -> dict[str, Any]:
    """Each request alone: unlearn, score, undo (so the next one starts from Base again)."""
    unlearner = build_unlearner(m, cfg, ctx.task.retain, ctx.work, epochs=1, warm=reqs[0], avoid=retain_eval)
    patient = ctx.patient()
    prep = _prepared(unlearner, patient)
    per: list[dict[str, Any]] = []
    for i, q in enumerate(tqdm(reqs, desc=f"single[{m}]", disable=not cfg.progress, leave=False)):
        ev = Evaluator(
            ctx.task, ctx.base_model, ctx.tok, cfg, forget=[q], retain=retain_eval, n_ppl=cfg.single_ppl
        )
        [request] = requests_for(m, [q], cfg.stamp_verify)
        applied = unlearner.unlearn(patient, request)
        s = ev.score(patient.model, desc=f"score[{m}#{i}]")
        unlearner.undo(patient, applied)  # bit-exact: the next request starts from Base
        per.append(
            {
                "rte_s": applied.request_s,
                "rte_edit_s": applied.weight_update_s,
                **request_record(m, applied),
                **s,
            }
        )
    keys = ["acc_f", "acc_r", "f_rl", "r_rl", "refusal_f", "refusal_r", "ppl", "kl", "rte_s", "rte_edit_s"]
    mean = {k: sum(p[k] for p in per) / len(per) for k in keys}
    _free(patient)
    return {"method": LABELS[m], **mean, "prep_s": prep, "per_request": per}
