"""`repair eval forget-quality`: what a user sees after "forget X", per probe type, for any method.

repair eval forget-quality --model smollm2-135m-instruct --method stamp --out results/forget-quality
repair eval forget-quality --method stamp,icu,ga --limit 5          # a quick look
repair eval forget-quality --method stamp2 --sequential 100 --split stress  # a curve (never held-out)
repair eval forget-quality --method stamp2 --split stress --sequential 1000 --sample 50 --fillers \
    --checkpoints 10,30,100,300,1000                     # 50 stress targets, then 950 filler facts
repair eval forget-quality --model qwen2.5-coder-0.5b-instruct --filter # once per model: known targets
repair eval forget-quality --model smollm2-135m-instruct --split stress --filter  # the stress set's
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from repair.models.registry import DEFAULT_MODEL

console = Console()


class _LogLines:
    """Progress when the output is a file, not a terminal (an hour-long run under nohup): rich draws its
    bar only at the end there, so print one plain line per 5 % or per minute, with a rough time left."""

    def __init__(self) -> None:
        self.tasks: dict[int, dict] = {}

    def __enter__(self) -> _LogLines:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: int) -> int:
        now = time.monotonic()
        self.tasks[len(self.tasks)] = {
            "what": description,
            "total": max(total, 1),
            "done": 0,
            "t0": now,
            "last": now,
            "prev": now,
            "base": 0,
        }
        return len(self.tasks) - 1

    def advance(self, task: int, n: int = 1) -> None:
        t, now = self.tasks[task], time.monotonic()
        step = max(t["total"] // 20, 1)
        t["done"] += n
        if now - t["prev"] < 0.05 and t["base"] == t["done"] - n:  # a resumed run skips what it had done:
            t["base"], t["t0"] = t["done"], now  # the time left is timed on new work only
        t["prev"] = now
        if t["done"] % step and t["done"] < t["total"] and now - t["last"] < 60:
            return
        t["last"], spent = now, now - t["t0"]
        left = spent / max(t["done"] - t["base"], 1) * (t["total"] - t["done"])
        print(
            f"{t['what']}: {t['done']}/{t['total']}, {spent / 60:.1f} min, about {left / 60:.0f} min left",
            flush=True,
        )


def _progress() -> Progress | _LogLines:
    if not console.is_terminal:
        return _LogLines()
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _settings(items: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            console.print(f"[red]error:[/red] bad --set {item!r}: expected key=value")
            raise typer.Exit(2)
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _ints(text: str | None, flag: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in (text or "").split(",") if x.strip())
    except ValueError:
        console.print(f"[red]error:[/red] {flag} takes a comma list of whole numbers, got {text!r}")
        raise typer.Exit(2) from None


def _device(name: str):
    import torch

    from repair.eval.finetune import device_auto

    if name == "auto":
        return device_auto()
    try:
        dev = torch.device(name)
    except RuntimeError:
        console.print(f"[red]error:[/red] unknown device {name!r}; use auto, cpu or cuda")
        raise typer.Exit(2) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        console.print("[red]error:[/red] --device cuda, but torch sees no CUDA device here")
        raise typer.Exit(2)
    return dev


_METHODS = "none, stamp, stamp-lr, stamp2, paper, paper-lr, ga, npo, rmu, flat, wga, asu, icu"
# the command's longer options, named once here (typer reads them from the annotations)
MethodOpt = Annotated[str, typer.Option("--method", help=f"comma list: {_METHODS}")]
SplitOpt = Annotated[
    str,
    typer.Option(
        "--split", help="test (held out; report once), dev (tuning) or stress (sequential runs; not held out)"
    ),
]
SequentialOpt = Annotated[
    int,
    typer.Option(
        "--sequential",
        help="N: forget the first N targets one after another, scoring all earlier ones every --every edits",
    ),
]
CheckpointsOpt = Annotated[
    str | None,
    typer.Option(
        "--checkpoints",
        help="sequential: score after these edit counts (comma list, e.g. 10,30,100,300,1000) instead of "
        "every --every edits; the last edit is always scored",
    ),
]
FillersOpt = Annotated[
    bool,
    typer.Option(
        "--fillers",
        help="sequential: edit the fixed --sample of targets first, then the model's filler facts "
        "(benchmarks/make_fq_fillers.py) up to N edits, scoring the sample and a panel of as many "
        "neighbours at each checkpoint",
    ),
]
SampleOpt = Annotated[
    int | None,
    typer.Option(
        "--sample",
        help="sequential: at each checkpoint score only a fixed, evenly spaced sample of this many of the "
        "targets (the first always among them) instead of all of them",
    ),
]
FilterOpt = Annotated[
    bool,
    typer.Option(
        "--filter",
        help="record which targets the unedited model knows (writes the package's known list) and stop: "
        "dev and test, or the stress set alone with --split stress",
    ),
]
RelabelOpt = Annotated[
    bool,
    typer.Option(
        "--relabel",
        help="score finished runs again from their stored replies with the current labeller (no model needed)",
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="a method setting, key=value (JSON value), repeatable: --set strength=1.5; the run folder "
        "is named after them",
    ),
]


def forget_quality_command(
    model: Annotated[
        str, typer.Option("--model", "-m", help="bundled name, local HF folder or hub id")
    ] = DEFAULT_MODEL,
    method: MethodOpt = "stamp",
    split: SplitOpt = "test",
    sequential: SequentialOpt = 0,
    every: Annotated[int, typer.Option("--every")] = 10,
    checkpoints: CheckpointsOpt = None,
    fillers: FillersOpt = False,
    sample: SampleOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", help="only the first N known targets")] = None,
    kinds: Annotated[str, typer.Option("--kinds", help="entity,fact")] = "entity,fact",
    dtype: Annotated[
        str, typer.Option("--dtype", help="float32 (reproducible tables), bfloat16 or auto")
    ] = "float32",
    out: Annotated[Path, typer.Option("--out")] = Path("results/forget-quality"),
    resume: Annotated[bool, typer.Option("--resume/--no-resume", help="continue a stopped run")] = True,
    utility: Annotated[
        bool, typer.Option("--utility/--no-utility", help="KL and perplexity per target")
    ] = True,
    filter_: FilterOpt = False,
    relabel_: RelabelOpt = False,
    threads: Annotated[int | None, typer.Option("--threads")] = None,
    device: Annotated[str, typer.Option("--device", help="auto (cuda when present), cpu or cuda")] = "auto",
    set_: SetOpt = None,
) -> None:
    """The forget-quality benchmark: leak / refusal / degenerate / confabulation per probe type, neighbours,
    KL, perplexity and cost, written as JSON, markdown and PNG under OUT."""
    import torch

    import repair

    if threads:
        torch.set_num_threads(threads)
    methods = [m.strip().lower() for m in method.split(",") if m.strip()]
    common = dict(model=model, split=split, sequential=sequential, every=every, sample=sample, limit=limit)
    common |= dict(checkpoints=_ints(checkpoints, "--checkpoints"), fillers=fillers)
    common |= dict(kinds=tuple(k.strip() for k in kinds.split(",") if k.strip()), dtype=dtype, out=str(out))
    cfgs = _configs(methods, resume=resume, utility=utility, settings=_settings(set_ or []), **common)
    if relabel_:
        from .bench import relabel

        for cfg in cfgs:
            _write_outputs(cfg, relabel(cfg))
        return
    t0 = time.perf_counter()
    patient = repair.load(model, dtype=dtype, ledger=False)  # the base weights: never the user's ledger
    patient.model.to(_device(device))
    if filter_:
        _filter(patient, model, split)
        return
    _run_all(patient, cfgs)
    wall = time.perf_counter() - t0
    (Path(out) / model / split / "last-run.json").write_text(json.dumps({"methods": methods, "wall_s": wall}))
    console.print(f"wall time {wall:.0f} s; results under {Path(out) / model / split}")


def _configs(methods: list[str], **fields: object) -> list:
    """One run config per method; an unknown method or a bad field is a one-line error (exit 2)."""
    from pydantic import ValidationError

    from repair.eval.unlearners import UNLEARNERS

    from .bench import BenchConfig

    bad = [m for m in methods if m not in UNLEARNERS]
    if bad:
        console.print(f"[red]error:[/red] unknown method(s) {bad}; choose from {', '.join(UNLEARNERS)}")
        raise typer.Exit(2)
    try:
        return [BenchConfig(method=m, **fields) for m in methods]
    except ValidationError as e:
        console.print(f"[red]error:[/red] {e.errors()[0]['loc']}: {e.errors()[0]['msg']}")
        raise typer.Exit(2) from None


def _filter(patient, model: str, split: str) -> None:
    """Record which targets the unedited model knows: dev and test, or the stress set alone."""
    from .bench import make_known, write_known
    from .data import load_targets

    splits = ("stress",) if split == "stress" else ("dev", "test")
    n = sum(len(load_targets(s)) for s in splits)
    with _progress() as bar:
        task = bar.add_task(f"asking {model} every probe", total=n)
        known = make_known(patient, model, splits, progress=lambda t=task: bar.advance(t))
    path = write_known(known)
    console.print(f"wrote {path}: " + ", ".join(f"{s} {len(v)} known" for s, v in known.splits.items()))


def _run_all(patient, cfgs: list) -> None:
    """Each method in turn, with a progress bar; one labels plot when there are several."""
    from repair.eval.unlearners import make_unlearner

    from .bench import run_method, selected
    from .report import plot_labels
    from .tuned import tuned

    summaries = []
    for cfg in cfgs:
        try:
            # the method's dev-tuned file (training baselines), under this run's --set values
            unlearner = make_unlearner(cfg.method, **{**tuned(cfg.method, cfg.model), **cfg.settings})
            with _progress() as bar:
                total = cfg.sequential if cfg.fillers else len(selected(cfg)[0])
                task = bar.add_task(f"{cfg.method} on {cfg.split}", total=total)
                s = run_method(patient, cfg, unlearner, progress=lambda t=task: bar.advance(t))
        except (FileNotFoundError, ValueError) as e:
            console.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2) from None
        _write_outputs(cfg, s)
        summaries.append(s)
    if len(summaries) > 1:
        cfg = cfgs[0]
        plot_labels(summaries, Path(cfg.out) / cfg.model / cfg.split / "labels.png")


def _write_outputs(cfg, s) -> None:
    from .report import plot_curve, plot_labels, summary_markdown

    md = summary_markdown(s)
    (cfg.run_dir() / "summary.md").write_text(md, encoding="utf-8")
    plot_labels([s], cfg.run_dir() / "labels.png")
    if s.get("curve"):
        plot_curve(s, cfg.run_dir() / "curve.png")
    console.print(md, markup=False, highlight=False)
