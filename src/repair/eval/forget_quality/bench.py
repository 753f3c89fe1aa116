"""``repair eval forget-quality``: configuration, the known-target filter, and one method's run."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from repair.edit.ledger.files import atomic_write_bytes

from . import resume
from .data import (
    MAX_NEW_TOKENS,
    KnownList,
    KnownTarget,
    Split,
    file_sha256,
    known_path,
    load_known,
    load_targets,
)
from .fillers import load_fillers
from .run import (
    Scored,
    Utility,
    answered,
    appender,
    ask,
    read_records,
    run_single,
    score_probes,
    scored,
    summarize,
)
from .schema import Target
from .sequential import (
    PANEL_RECORDS,
    PanelResult,
    keep_sample,
    make_plan,
    panel_base,
    run_sequential,
    sample_record,
)


class BenchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = "smollm2-135m-instruct"
    method: str = "stamp"
    split: Split = "test"
    sequential: int = Field(0, ge=0)  # 0: single-target mode; N: the first N targets one after another
    every: int = Field(10, ge=1)  # sequential: score everything after every `every` edits
    checkpoints: tuple[int, ...] = ()  # sequential: score after these edit counts instead (and the last)
    fillers: bool = False  # sequential: edit the fixed sample first, then filler facts up to N edits
    sample: int | None = Field(None, ge=1)  # sequential: score a fixed sample of this many targets only
    limit: int | None = Field(None, ge=1)  # the first N known targets only (smoke runs)
    kinds: tuple[Literal["entity", "fact"], ...] = ("entity", "fact")
    dtype: str = "float32"
    out: str = "results/forget-quality"
    resume: bool = True
    utility: bool = True  # KL and perplexity per target
    settings: dict[str, Any] = Field(default_factory=dict)  # the method's config overrides (--set)

    def run_dir(self) -> Path:
        mode = f"seq{self.sequential}" if self.sequential else "single"
        if self.sequential and self.sample:
            mode += f"-sample{self.sample}" + ("-fillers" if self.fillers else "")
        tag = "".join(f"+{k}={_tag(v)}" for k, v in sorted(self.settings.items()))
        return Path(self.out) / self.model / self.split / f"{self.method}{tag}-{mode}"


def _tag(v: Any) -> str:
    """A setting's value in a folder name: lists joined by "-", nested settings as "(k=v,k=v)"."""
    if isinstance(v, dict):
        return "(" + ",".join(f"{k}={_tag(x)}" for k, x in sorted(v.items())) + ")"
    return "-".join(map(str, v)) if isinstance(v, list | tuple) else str(v)


def machine() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return f"{os.cpu_count()}-core CPU ({platform.machine()}), {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def make_known(
    patient: Any, model: str, splits: tuple[Split, ...] = ("dev", "test"), progress: Any = None
) -> KnownList:
    """Ask the unedited model every probe and neighbour once; a target is known when its direct question
    is answered. Written to ``repair/data/forget_quality/known/<model>.json`` by the CLI. Answers are
    cached per target text under $REPAIR_HOME, so adding targets only asks about the new ones. The entries
    of splits not in ``splits`` are kept as the package's list has them."""
    from repair.models.loader import repair_home

    cache_path = (
        repair_home() / "forget-quality" / f"known-{model}-{patient.dtype}-v2.json"
    )  # v2: one batch per target
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    unedited = _unedited_cache(patient)
    said = json.loads(unedited.read_text()) if unedited.exists() else {}
    targets = {s: load_targets(s) for s in splits}
    todo = [t for ts in targets.values() for t in ts if _key(t) not in cache]
    for i, t in enumerate(todo, 1):  # cached as they finish: an interrupted filter resumes
        probe_replies, neighbour_replies = ask(patient, t)
        cache[_key(t)] = _known_target(t, probe_replies, neighbour_replies)
        said[_key(t)] = neighbour_replies  # the runs' unedited reference, without asking again
        if progress:
            progress()
        if i % 8 == 0 or i == len(todo):
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            cache_path.write_text(json.dumps(cache))
            unedited.write_text(json.dumps(said, ensure_ascii=False), encoding="utf-8")
    known = load_known(model) or KnownList(model=model, dtype=patient.dtype)  # other splits stay as they are
    for split, ts in targets.items():
        known.splits[split] = {
            t.id: KnownTarget.model_validate(cache[_key(t)]) for t in ts if cache[_key(t)] is not None
        }
        known.sha256[split] = file_sha256(split)
    return known


def _unedited_cache(patient: Any) -> Path:
    from repair.models.loader import repair_home

    return repair_home() / "forget-quality" / f"neighbours-{patient.name}-{patient.dtype}.json"


def _key(t: Target) -> str:
    return hashlib.sha256(t.model_dump_json().encode()).hexdigest()


def _known_target(
    t: Target, probe_replies: list[str], neighbour_replies: list[str]
) -> dict[str, list[str]] | None:
    probes = answered(t.probes, probe_replies)
    direct = next(p.id for p in t.probes if p.type == "direct")
    if direct not in probes:
        return None
    return {"probes": probes, "neighbours": answered(t.neighbours, neighbour_replies)}


def write_known(known: KnownList) -> Path:
    path = known_path(known.model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(known.model_dump_json(indent=1) + "\n", encoding="utf-8")
    return path


def selected(cfg: BenchConfig) -> tuple[list[Target], dict[str, KnownTarget]]:
    known = load_known(cfg.model)
    if known is None or cfg.split not in known.splits:
        raise FileNotFoundError(
            f"no known-target list for {cfg.model} ({cfg.split}): run `repair eval forget-quality --model "
            f"{cfg.model} --filter` once on the unedited model"
        )
    if known.sha256.get(cfg.split) != file_sha256(cfg.split):
        raise ValueError(
            f"the {cfg.split} split changed since {cfg.model}'s known list was made: re-run --filter"
        )
    entries = known.known(cfg.split)
    targets = [t for t in load_targets(cfg.split) if t.id in entries and t.kind in cfg.kinds]
    n = cfg.limit if cfg.fillers else (cfg.sequential or cfg.limit)  # fillers: the sample is drawn from all
    return (targets[:n] if n else targets), entries


def base_replies(patient: Any, targets: list[Target], path: Path) -> dict[str, str]:
    """The unedited model's replies to every neighbour (cached in the run folder; taken from the known
    filter's own replies when this machine ran it, since the batches are identical)."""
    cached = json.loads(path.read_text()) if path.exists() else {}
    unedited = _unedited_cache(patient)
    said = json.loads(unedited.read_text()) if unedited.exists() else {}  # from the known filter
    todo = [t for t in targets if any(f"{t.id}/{n.id}" not in cached for n in t.neighbours)]
    if todo:
        print(
            f"the unedited model's replies for {len(todo)} target(s) (once per split and dtype)", flush=True
        )
    for t in todo:
        replies = said.get(_key(t)) or ask(patient, t)[1]
        for n, r in zip(t.neighbours, replies, strict=True):
            cached[f"{t.id}/{n.id}"] = r
        # after every target: a stopped run (the stress split's 171 targets take most of an hour on one
        # thread) keeps what it asked
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, json.dumps(cached, indent=0, ensure_ascii=False).encode())
    return cached


def _settings(unlearner: Any) -> dict[str, Any]:
    """The method's effective settings after ``prepare`` (its model file included, when it has one)."""
    eff = getattr(unlearner, "effective", None)
    value = eff() if callable(eff) else getattr(unlearner, "config", None)
    return json.loads(value.model_dump_json()) if hasattr(value, "model_dump_json") else {}


def check_settings(out: Path, records: Path | list[Path], settings: dict[str, Any]) -> None:
    """Resuming is only sound with the settings the records (or logged edits) were made with (a changed
    default, say)."""
    path = out / "settings.json"
    made = [records] if isinstance(records, Path) else records
    if any(p.exists() and p.stat().st_size for p in made) and path.exists():
        before = json.loads(path.read_text())
        if before != settings:
            raise ValueError(
                f"{out} was made with other settings ({before}, now {settings}): re-run with --no-resume"
            )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def run_method(patient: Any, cfg: BenchConfig, unlearner: Any, progress: Any = None) -> dict[str, Any]:
    """One method on one split; writes records.jsonl and summary.json under ``cfg.run_dir()``."""
    t0 = time.perf_counter()
    targets, entries = selected(cfg)
    sha = file_sha256(cfg.split)  # of the file the targets were read from
    out = cfg.run_dir()
    records = out / "records.jsonl"
    if not cfg.resume:
        resume.clear(out)
    base = base_replies(patient, targets, out.parent.parent / f"base-{patient.dtype}.json")
    items: list[Scored] = [scored(t, entries[t.id], base) for t in targets]
    unlearner.prepare(patient)
    check_settings(out, [records, out / resume.EDITS], _settings(unlearner))
    utility = Utility(patient) if cfg.utility else None  # measured on the base weights
    write = appender(records)
    if cfg.sequential:
        return _run_sequential(patient, cfg, unlearner, items, entries, utility, progress, t0)
    done = {r.target for r in read_records(records)}
    run_single(patient, unlearner, items, utility=utility, done=done, write=write, progress=progress)
    return write_summary(cfg, patient, utility, None, time.perf_counter() - t0, sha)


def _run_sequential(
    patient: Any,
    cfg: BenchConfig,
    unlearner: Any,
    items: list[Scored],
    entries: dict[str, KnownTarget],
    utility: Utility | None,
    progress: Any,
    t0: float,
) -> dict[str, Any]:
    """A sequential run, resumed from the run folder when it holds a stopped one."""
    out, sha = cfg.run_dir(), file_sha256(cfg.split)
    fillers = None
    if cfg.fillers:
        fillers = load_fillers(cfg.model)
        if fillers is None:
            raise FileNotFoundError(
                f"no filler facts for {cfg.model}: run `benchmarks/make_fq_fillers.py --model {cfg.model}` once"
            )
    plan = make_plan(
        items,
        entries,
        sequential=cfg.sequential,
        every=cfg.every,
        checkpoints=cfg.checkpoints,
        sample=cfg.sample,
        fillers=fillers,
    )
    if cfg.sample:
        keep_sample(out, sample_record(plan, fillers))
    plan = panel_base(patient, plan, out)  # on the base weights, before a stopped run's edits come back
    resume.open_ledger(patient, out)  # the edits of a stopped run are re-applied from here
    state = resume.restore(patient, unlearner, plan, out)

    def checkpoint(curve: list[dict[str, Any]]) -> None:
        write_summary(cfg, patient, utility, curve, time.perf_counter() - t0, sha, complete=False)

    curve = run_sequential(
        patient,
        unlearner,
        plan,
        utility=utility,
        write=appender(out / "records.jsonl"),
        write_panel=_panel_writer(out / PANEL_RECORDS),
        progress=progress,
        on_point=checkpoint,
        done=(state.applied, state.curve),
        on_edit=resume.edit_logger(out),
    )
    return write_summary(cfg, patient, utility, curve, time.perf_counter() - t0, sha, complete=True)


def _panel_writer(path: Path) -> Any:
    def write(r: PanelResult) -> None:
        with path.open("a", encoding="utf-8") as f:
            f.write(r.model_dump_json() + "\n")

    return write


def write_summary(
    cfg: BenchConfig,
    patient: Any,
    utility: Utility | None,
    curve: list[dict[str, Any]] | None,
    wall_s: float,
    sha: str,
    complete: bool | None = None,
) -> dict[str, Any]:
    """summary.json from the run's records (in sequential mode: those of the last checkpoint so far;
    ``complete`` False while the run is still going, so a stopped run's summary says how far it got)."""
    out = cfg.run_dir()
    results = read_records(out / "records.jsonl")
    if cfg.sequential:
        results = [r for r in results if r.after_edits == max(r.after_edits for r in results)]
    summary = {
        "config": cfg.model_dump(),
        "model": patient.name,
        "dtype": patient.dtype,
        "split_sha256": sha,
        "machine": machine(),
        "max_new_tokens": MAX_NEW_TOKENS,
        "base_ppl": utility.base_ppl if utility else None,
        **summarize(results),
        "curve": curve,
        **({"complete": complete} if complete is not None else {}),
        "wall_s": round(wall_s, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


def relabel(cfg: BenchConfig) -> dict[str, Any]:
    """Score a finished run again from its stored replies with the current labeller (no generation):
    rewrites records.jsonl and summary.json; the run's timings, KL and perplexity are kept."""
    out = cfg.run_dir()
    old = json.loads((out / "summary.json").read_text())
    targets = {t.id: t for t in load_targets(cfg.split)}
    results = []
    for r in read_records(out / "records.jsonl"):
        probes = {p.id: p for p in targets[r.target].probes}
        r.probes = score_probes(
            [probes[p.id] for p in r.probes], [p.reply for p in r.probes], [p.type for p in r.probes]
        )
        results.append(r)
    tmp = out / "records.jsonl.tmp"
    tmp.write_text("".join(r.model_dump_json() + "\n" for r in results), encoding="utf-8")
    tmp.replace(out / "records.jsonl")
    if cfg.sequential:
        results = [r for r in results if r.after_edits == max(r.after_edits for r in results)]
    keep = {
        k: old[k]
        for k in (
            "config",
            "model",
            "dtype",
            "split_sha256",
            "machine",
            "max_new_tokens",
            "base_ppl",
            "curve",
            "complete",
            "wall_s",
        )
        if k in old
    }
    summary = {**keep, **summarize(results)}
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary
