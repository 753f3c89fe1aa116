"""`repair eval …` and `repair report` (registered on the main app in `repair.cli`).

    repair eval run --task personal --methods stamp,stamp-lr,ga,npo,rmu,flat,wga,asu --size small --out results/
    repair eval run --task all ...                      # the three tasks, one after the other
    repair eval table single-sample|layers|rank|retain-ratio|delta-vs-paper|all --out results/
    repair report results/                              # -> results/report.md (+ PNG plots)

The short forms of the issue also work: `repair eval --task personal --methods … --size small` is
`repair eval run …`, and `repair eval --table single-sample` is `repair eval table single-sample`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from repair.cli_errors import OneLineUsage
from repair.models.registry import DEFAULT_MODEL

eval_app = typer.Typer(
    cls=OneLineUsage,
    help="Reproduce the RePAIR paper's evaluation offline (Tables 2, 5-8, Figure 5).",
    no_args_is_help=True,
    invoke_without_command=True,
)
console = Console()

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="bundled name, local HF folder or hub id")]
SizeOpt = Annotated[
    str, typer.Option("--size", help="small (a CPU run), paper (the paper's sizes) or a number of units")
]
OutOpt = Annotated[Path, typer.Option("--out", help="results folder")]
SeedOpt = Annotated[int, typer.Option("--seed")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="cpu or cuda (default: cuda when present)")]
AmpOpt = Annotated[bool, typer.Option("--amp/--no-amp", help="bf16 autocast for fine-tunes and baselines")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", help="torch CPU threads (default: torch's)")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="STAMP setting for every edit, e.g. --set alpha_margin=1.5 "
        "--set 'layers=[4,5]' (StampConfig fields)",
    ),
]
BudgetOpt = Annotated[
    str,
    typer.Option(
        "--guard-budget",
        help="base: the guard is recorded once per series of "
        "edits; each: afresh before each edit (sessions 2-9)",
    ),
]


def _config(
    model: str,
    size: str,
    out: Path,
    seed: int,
    device: str | None,
    amp: bool,
    threads: int | None,
    settings: list[str] | None = None,
    guard_budget: str = "base",
    **kw,
):
    import torch
    from pydantic import ValidationError

    from repair.edit.stamp import parse_overrides
    from repair.eval.runner import RunConfig

    if threads:
        torch.set_num_threads(threads)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        return RunConfig(
            model=model,
            size=size,
            out=str(out),
            seed=seed,
            device=device,
            amp=amp,
            stamp_set=parse_overrides(settings or []),
            stamp_guard_budget=guard_budget,
            **{k: v for k, v in kw.items() if v is not None},
        )
    except (
        ValueError,
        ValidationError,
    ) as e:  # pydantic's ValidationError is a ValueError; both named for clarity
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None


@eval_app.command("run")
def run(
    task: Annotated[
        str, typer.Option("--task", "-t", help="personal, misinformation, hazard or all")
    ] = "personal",
    methods: Annotated[
        str, typer.Option("--methods", help="comma list of stamp,stamp-lr,ga,npo,rmu,flat,wga,asu")
    ] = "stamp,stamp-lr,ga,npo,rmu,flat,wga,asu",
    size: SizeOpt = "small",
    model: ModelOpt = DEFAULT_MODEL,
    out: OutOpt = Path("results"),
    seed: SeedOpt = 0,
    wmdp: Annotated[
        Path | None, typer.Option("--wmdp", help="local WMDP/MMLU-format file for the hazard task")
    ] = None,
    figure5: Annotated[
        bool, typer.Option("--figure5/--no-figure5", help="also plot the layer criterion")
    ] = True,
    device: DeviceOpt = None,
    amp: AmpOpt = True,
    threads: ThreadsOpt = None,
    settings: SetOpt = None,
    guard_budget: BudgetOpt = "base",
) -> None:
    """Table 2: Base, Oracle and every method on one task (or all three)."""
    from repair.eval.runner import ALL_METHODS, TASK_NAMES, run_task

    ms = [m.strip().lower() for m in methods.split(",") if m.strip()]
    bad = [m for m in ms if m not in ALL_METHODS]
    if bad:
        console.print(f"[red]error:[/red] unknown methods {bad}; choose from {', '.join(ALL_METHODS)}")
        raise typer.Exit(2)
    tasks = list(TASK_NAMES) if task == "all" else [task]
    if any(t not in TASK_NAMES for t in tasks):
        console.print(f"[red]error:[/red] unknown task {task!r}; choose from {', '.join(TASK_NAMES)} or all")
        raise typer.Exit(2)
    cfg = _config(
        model, size, out, seed, device, amp, threads, settings, guard_budget, wmdp=str(wmdp) if wmdp else None
    )
    for t in tasks:
        res = run_task(t, ms, cfg, figure5=figure5)
        console.print((out / f"table2-{res['task']}.md").read_text())


@eval_app.command("table")
def table(
    name: Annotated[
        str, typer.Argument(help="single-sample, layers, rank, retain-ratio, delta-vs-paper or all")
    ],
    size: SizeOpt = "small",
    model: ModelOpt = DEFAULT_MODEL,
    out: OutOpt = Path("results"),
    seed: SeedOpt = 0,
    requests: Annotated[
        int | None, typer.Option("--requests", help="single-sample: number of requests")
    ] = None,
    device: DeviceOpt = None,
    amp: AmpOpt = True,
    threads: ThreadsOpt = None,
    settings: SetOpt = None,
    guard_budget: BudgetOpt = "base",
) -> None:
    """Table 8 (single-sample), 5 (layers + Figure 5), 6 (rank), 7 (retain ratio), delta-vs-paper."""
    from repair.eval.runner import TABLES, run_table

    names = list(TABLES) if name == "all" else [name]
    if any(n not in TABLES for n in names):
        console.print(f"[red]error:[/red] unknown table {name!r}; choose from {', '.join(TABLES)} or all")
        raise typer.Exit(2)
    cfg = _config(model, size, out, seed, device, amp, threads, settings, guard_budget, requests=requests)
    for n in names:
        res = run_table(n, cfg)
        console.print((out / f"{res['kind']}.md").read_text())


@eval_app.callback()
def shortcut(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Option("--task", "-t", help="shortcut for `eval run --task`")] = None,
    table_name: Annotated[str | None, typer.Option("--table", help="shortcut for `eval table NAME`")] = None,
    methods: Annotated[
        str, typer.Option("--methods", help="with --task")
    ] = "stamp,stamp-lr,ga,npo,rmu,flat,wga,asu",
    size: SizeOpt = "small",
    model: ModelOpt = DEFAULT_MODEL,
    out: OutOpt = Path("results"),
    seed: SeedOpt = 0,
    threads: ThreadsOpt = None,
) -> None:
    """`repair eval --task T …` and `repair eval --table NAME …` run the matching subcommand."""
    if ctx.invoked_subcommand is not None:
        return
    if (task is None) == (table_name is None):
        console.print("[red]error:[/red] give --task or --table (or a subcommand: run, table, pipeline)")
        raise typer.Exit(2)
    if task is not None:
        run(
            task=task,
            methods=methods,
            size=size,
            model=model,
            out=out,
            seed=seed,
            wmdp=None,
            figure5=True,
            device=None,
            amp=True,
            threads=threads,
            settings=None,
            guard_budget="base",
        )
    else:
        table(
            name=table_name,
            size=size,
            model=model,
            out=out,
            seed=seed,
            requests=None,
            device=None,
            amp=True,
            threads=threads,
            settings=None,
            guard_budget="base",
        )


def report_command(
    folder: Annotated[Path, typer.Argument(help="results folder written by `repair eval`")] = Path("results"),
    docs: Annotated[Path, typer.Option("--docs", help="the forget-quality results page")] = Path(
        "docs/results.md"
    ),
) -> None:
    """Write FOLDER/report.md: every table with the paper's numbers beside it, targets, PNG plots."""
    from repair.eval.report import build_report

    try:
        path = build_report(folder)
    except FileNotFoundError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from e
    console.print(f"wrote {path}")
    from repair.eval.forget_quality.docs import update_readme, write_results_md

    console.print(f"wrote {write_results_md(folder, docs)}")
    from repair.eval.watchdog_report import append_to

    if append_to(docs, folder):
        console.print(f"added the watchdog's figures (from {folder / 'watchdog'}) to {docs}")
    if update_readme(Path("README.md"), folder):
        console.print("updated the results table in README.md")
