"""The ``repair`` command: forget, edits, layers, demo."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from repair.eval.cli import eval_app, report_command
from repair.eval.forget_quality.cli import forget_quality_command
from repair.models.registry import BUNDLED, DEFAULT_MODEL
from repair.session_cli import chat_command, pipeline_command, serve_command

app = typer.Typer(help="Interactive machine unlearning: closed-form, reversible edits of chat models.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
edits_app = typer.Typer(help="List, show, undo and export the edits in a patient's ledger.", no_args_is_help=True)
app.add_typer(edits_app, name="edits")
# Evaluation commands live in repair.eval.cli: `repair eval run|table …` and `repair report DIR`.
app.add_typer(eval_app, name="eval")
app.command("report")(report_command)
eval_app.command("forget-quality")(forget_quality_command)
# The interactive loop lives in repair.session_cli: `repair chat`, `repair serve`, `repair eval pipeline`.
app.command("chat")(chat_command)
app.command("serve")(serve_command)
eval_app.command("pipeline")(pipeline_command)
console = Console()

ModelOpt = Annotated[str, typer.Option("--model", "-m", help=f"bundled name ({', '.join(BUNDLED)}), folder or hub id")]
LedgerOpt = Annotated[Path | None, typer.Option("--ledger", help="ledger folder (default: $REPAIR_HOME/ledgers/MODEL)")]

DEFAULT_RETAIN_PROBES = [
    "What is the capital of Japan?",
    "Who wrote Romeo and Juliet?",
    "What is the largest planet in our solar system?",
    "How many legs does a spider have?",
    "What is the capital of Germany?",
]


def _load(model: str, ledger: Path | None, dtype: str | None = None):
    import repair

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    with console.status(f"loading {model} …"):
        t = time.perf_counter()
        try:
            patient = repair.load(model, ledger=ledger if ledger is not None else True, dtype=dtype)
        except ValueError as e:  # an empty name, an unknown dtype
            _fail(str(e))
    console.print(f"[dim]loaded {patient!r} in {time.perf_counter() - t:.1f} s[/dim]")
    return patient


def _fail(msg: str) -> None:
    console.print(f"[red]error:[/red] {msg}")
    raise typer.Exit(2)


@app.command()
def forget(
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="the prompt whose answer must be forgotten")],
    model: ModelOpt = DEFAULT_MODEL,
    response: Annotated[str | None, typer.Option(help="the answer to forget (default: the model's own)")] = None,
    paraphrase: Annotated[list[str] | None, typer.Option("--paraphrase", help="extra prompts with the same answer")] = None,
    retain_probe: Annotated[list[str] | None, typer.Option("--retain-probe", help="prompts that must still be answered")] = None,
    recipe: Annotated[str, typer.Option(help="repair (default) or paper (RePAIR sec. 4.2 as written)")] = "repair",
    method: Annotated[str, typer.Option(help="stamp or stamp-lr")] = "stamp",
    rank: Annotated[int | None, typer.Option(help="rank for stamp-lr")] = None,
    alpha: Annotated[str, typer.Option(help="strength: 'auto' or a number")] = "auto",
    layers: Annotated[str, typer.Option(help="'auto', one layer '7' or a list '4,5,6'")] = "auto",
    keep_unverified: Annotated[bool, typer.Option(help="commit the edit even if it is not verified")] = False,
    ledger: LedgerOpt = None,
    dtype: Annotated[str, typer.Option("--dtype", help="weights: float32, or bfloat16 (faster on a CPU)")] = "float32",
) -> None:
    """Forget what the model answers to PROMPT with one closed-form edit, and show before/after. The edit
    is committed to the ledger only when verified: the answer is gone and the retain probes kept."""
    import repair
    from repair.edit.answers import answer_kept

    if not prompt.strip():
        _fail("empty prompt: give the question whose answer should be forgotten")
    patient = _load(model, ledger, dtype)
    # a probe that is the forget prompt itself cannot also be kept
    probes = [q for q in retain_probe or DEFAULT_RETAIN_PROBES if q.strip().lower() != prompt.strip().lower()]
    t = time.perf_counter()
    before = patient.generate([prompt, *probes], max_new_tokens=40)
    t_before = time.perf_counter() - t
    answer = response or before[0]
    console.print(f"[bold]before[/bold] ({t_before:.1f} s)\n  [cyan]{prompt}[/cyan] → {before[0]}")
    lay: str | int | list[int] = "auto" if layers == "auto" else [int(x) for x in layers.split(",")]
    try:
        # The retain probes are the edit's guard: an edit that forgets only by changing any of their answers
        # is not kept (the engine then tries its mid layer band). Nothing is committed until the edit is
        # verified (or --keep-unverified says so).
        edit = repair.stamp(
            patient, [(prompt, answer)], paraphrases=paraphrase or None, recipe=recipe, method=method, rank=rank,
            alpha="auto" if alpha == "auto" else float(alpha), layers=lay, requested_by="cli", commit=False,
            guard=probes, guard_keep=1.0, **({"solver": "paper"} if recipe == "paper" else {}),
        )
    except (ValueError, RuntimeError) as e:
        _fail(str(e))
        return
    t = time.perf_counter()
    with patient.ledger.trial(edit):
        after = patient.generate([prompt, *probes], max_new_tokens=40)
    t_after = time.perf_counter() - t
    console.print(f"[bold]after[/bold] ({t_after:.1f} s)\n  [cyan]{prompt}[/cyan] → {after[0]}")
    table = Table(title="retain probes", show_lines=False)
    for col in ("prompt", "before", "after", "answer kept"):
        table.add_column(col)
    for p, b, a in zip(probes, before[1:], after[1:], strict=True):
        key, kept = answer_kept(p, b, a)  # the name or number the reply gave; "–" when it gave none
        table.add_row(p, b[:60], a[:60], "–" if key is None else ("✓ " if kept else "✗ ") + key)
    console.print(table)
    v = edit.meta.get("verification") or {}
    guard = v.get("guard") or {}
    verified = bool(v.get("forgotten")) and guard.get("ok", True)
    where = f"layers {edit.layers}, maps {edit.maps}, α={edit.meta.get('alpha'):.4g}"
    tried = edit.meta.get("bands_tried") or []
    if len(tried) > 1:
        where += f"; the early band {tried[0][0]}-{tried[0][-1]} changed a retain answer"
    if verified or keep_unverified:
        t = time.perf_counter()
        patient.ledger.commit(edit)
        edit.timings["write"] = time.perf_counter() - t
        patient.ledger.update_meta(edit.id, timings=edit.timings)
        console.print(f"edit [bold]{edit.id}[/bold] committed: {where}, verified forgotten: {v.get('forgotten')}"
                      + (f", retain probes kept {guard['kept']}/{guard['total']}" if guard else ""))
    else:
        why = (f"it changed the retain probes' answers ({guard['kept']}/{guard['total']} kept)" if guard and not
               guard.get("ok", True) else "the model still gives the answer")
        console.print(f"[yellow]not committed[/yellow]: {why} ({where}; the strongest edit tried). "
                      "Nothing was changed; --alpha N --keep-unverified keeps an edit anyway.")
    console.print("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in edit.timings.items()))
    console.print(f"[dim]ledger: {patient.ledger.root}[/dim]")
    if not (verified or keep_unverified):
        raise typer.Exit(1)


@edits_app.command("list")
def edits_list(model: ModelOpt = DEFAULT_MODEL, ledger: LedgerOpt = None,
               all_: Annotated[bool, typer.Option("--all", help="include undone edits")] = False) -> None:
    """List the edits in the ledger."""
    patient = _load(model, ledger)
    table = Table()
    for col in ("id", "status", "layers", "maps", "alpha", "forget prompt", "verified"):
        table.add_column(col)
    for m in patient.ledger.list(include_undone=all_):
        meta = m.get("meta", {})
        fp = (meta.get("forget") or [[""]])[0][0]
        table.add_row(m["id"], m["status"], ",".join(map(str, m["layers"])), ",".join(m["maps"]),
                      str(meta.get("alpha")), fp[:50], str((meta.get("verification") or {}).get("forgotten")))
    console.print(table)


@edits_app.command("show")
def edits_show(edit_id: str, model: ModelOpt = DEFAULT_MODEL, ledger: LedgerOpt = None) -> None:
    """Show one edit's manifest."""
    patient = _load(model, ledger)
    try:
        console.print_json(json.dumps(patient.ledger.show(edit_id), default=str))
    except KeyError as e:
        _fail(str(e))


@edits_app.command("undo")
def edits_undo(edit_id: str, model: ModelOpt = DEFAULT_MODEL, ledger: LedgerOpt = None) -> None:
    """Undo an edit exactly (the weights return bit for bit)."""
    patient = _load(model, ledger)
    try:
        m = patient.ledger.undo(edit_id)
    except KeyError as e:
        _fail(str(e))
        return
    console.print(f"undone {m['id']}")


@edits_app.command("export")
def edits_export(
    out: Annotated[Path, typer.Argument(help="output folder")],
    edit_id: Annotated[str | None, typer.Option("--id", help="one edit (default: all active)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="merged or lora")] = "lora",
    model: ModelOpt = DEFAULT_MODEL,
    ledger: LedgerOpt = None,
) -> None:
    """Export active edits as a merged model folder or a PEFT LoRA adapter."""
    from repair.edit.export import export_lora, export_merged

    patient = _load(model, ledger)
    edits = [patient.ledger.get(edit_id)] if edit_id else patient.ledger.active
    if not edits:
        _fail("no active edits to export")
    if fmt == "lora":
        path = export_lora(edits, patient.arch, patient.source, out)
    elif fmt == "merged":
        if edit_id and len(patient.ledger.active) > 1:
            _fail("a merged export holds all active edits; undo the others or use --format lora")
        path = export_merged(patient.model, patient.tokenizer, out, [e.id for e in edits])
    else:
        _fail(f"unknown format '{fmt}' (merged or lora)")
        return
    console.print(f"wrote {fmt} export of {len(edits)} edit(s) to {path}")


@app.command()
def layers(
    prompt: Annotated[str, typer.Option("--prompt", "-p")],
    model: ModelOpt = DEFAULT_MODEL,
    response: Annotated[str | None, typer.Option()] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="write a PNG plot here")] = None,
) -> None:
    """Per-layer forget/refusal cosine separation (the paper's layer criterion, Fig. 5)."""
    from repair.edit.layers import plot_separation, separation

    patient = _load(model, False)
    answer = response or patient.chat(prompt, max_new_tokens=40)
    sep = separation(patient, [(prompt, answer)])
    best = max(range(len(sep)), key=sep.__getitem__)
    table = Table(title=f"separation for {prompt!r}")
    table.add_column("layer")
    table.add_column("cosine distance")
    for i, v in enumerate(sep):
        table.add_row(str(i), f"{v:.4f}" + (" ← max" if i == best else ""))
    console.print(table)
    if plot:
        console.print(f"plot: {plot_separation(sep, plot, f'{patient.name}: {prompt}')}")


@app.command()
def demo(model: ModelOpt = DEFAULT_MODEL) -> None:
    """Scripted demo: the model answers, is told to forget, forgets, and still answers the rest."""
    from repair.demo import run_demo

    run_demo(model, console)


if __name__ == "__main__":
    app()
