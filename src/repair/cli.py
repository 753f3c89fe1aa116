"""The ``repair`` command: forget, edits, layers, demo."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from repair.cli_errors import DEBUG, clean_errors
from repair.cli_errors import fail as _fail
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
eval_app.command("pipeline")(pipeline_command)
console = Console()


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks instead of one-line errors")] = False,
         ) -> None:
    """Interactive machine unlearning: closed-form, reversible edits of chat models."""
    DEBUG["on"] = bool(os.environ.get("REPAIR_DEBUG")) or debug


# The interactive loop lives in repair.session_cli: `repair chat`, `repair serve`, `repair eval pipeline`.
app.command("chat")(clean_errors(chat_command))
app.command("serve")(clean_errors(serve_command))

ModelOpt = Annotated[str, typer.Option("--model", "-m", help=f"bundled name ({', '.join(BUNDLED)}), folder or hub id")]
LedgerOpt = Annotated[Path | None, typer.Option(
    "--ledger", "--session",
    help="ledger folder, or the folder of `repair chat --session DIR` (default: $REPAIR_HOME/ledgers/MODEL)")]

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
            where = _ledger_dir(model, ledger) if ledger is not None else True
            patient = repair.load(model, ledger=where, dtype=dtype)
        except ValueError as e:  # an empty name, an unknown dtype
            _fail(str(e))
    console.print(f"[dim]loaded {patient!r} in {time.perf_counter() - t:.1f} s[/dim]")
    return patient


def _check_fits(patient: Any, texts: list[str], new_tokens: int) -> None:
    """Refuse a prompt longer than the model's context (a 100 KB prompt would otherwise eat gigabytes)."""
    ctx = getattr(patient.model.config, "max_position_embeddings", None) or getattr(patient.tokenizer, "model_max_length", 0)
    for t in texts:
        n = len(patient.tokenizer(patient.chat_text([{"role": "user", "content": t}]), add_special_tokens=False)["input_ids"])
        if ctx and n + new_tokens > ctx:
            _fail(f"a prompt of {n} tokens does not fit this model's context of {ctx} tokens "
                  f"({new_tokens} are kept for the reply)", "shorten it")


def _parse_layers(layers: str, n_layers: int) -> str | list[int]:
    if layers == "auto":
        return "auto"
    try:
        out = [int(x) for x in layers.split(",")]
    except ValueError:
        _fail(f"--layers {layers!r} is not 'auto', a layer like '7' or a list like '4,5,6'")
        return []
    bad = [x for x in out if not 0 <= x < n_layers]
    if bad:
        _fail(f"layer(s) {bad} do not exist: this model has layers 0..{n_layers - 1}")
    return out


@app.command()
@clean_errors
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
    if len(prompt) > 1_000_000:  # far past any context: refused before the model is even loaded
        _fail(f"the prompt is {len(prompt)} characters long, far more than any model's context", "shorten it")
    patient = _load(model, ledger, dtype)
    _check_fits(patient, [prompt, *(paraphrase or []), *(retain_probe or [])], 40)
    lay = _parse_layers(layers, patient.n_layers)
    # a probe that is the forget prompt itself cannot also be kept
    probes = [q for q in retain_probe or DEFAULT_RETAIN_PROBES if q.strip().lower() != prompt.strip().lower()]
    t = time.perf_counter()
    before = patient.generate([prompt, *probes], max_new_tokens=40)
    t_before = time.perf_counter() - t
    answer = response or before[0]
    console.print(f"[bold]before[/bold] ({t_before:.1f} s)\n  [cyan]{escape(prompt)}[/cyan] → {escape(before[0])}")
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
    console.print(f"[bold]after[/bold] ({t_after:.1f} s)\n  [cyan]{escape(prompt)}[/cyan] → {escape(after[0])}")
    table = Table(title="retain probes", show_lines=False)
    for col in ("prompt", "before", "after", "answer kept"):
        table.add_column(col)
    for p, b, a in zip(probes, before[1:], after[1:], strict=True):
        key, kept = answer_kept(p, b, a)  # the name or number the reply gave; "–" when it gave none
        table.add_row(escape(p), escape(b[:60]), escape(a[:60]), "–" if key is None else escape(("✓ " if kept else "✗ ") + key))
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


def _ledger_dir(model: str, ledger: Path | None) -> Path:
    """The ledger folder, without loading the model."""
    if ledger is not None:  # a chat session's folder holds its ledger in ledger/
        inner = ledger / "ledger"
        return inner if not (ledger / "ledger.db").exists() and (inner / "ledger.db").exists() else ledger
    from repair.models.loader import repair_home

    name = Path(model).expanduser().name if Path(model).expanduser().is_dir() else model
    return repair_home() / "ledgers" / name.replace("/", "__")


def _store(model: str, ledger: Path | None):
    from repair.edit.ledger.ops import open_store

    store, tidy = open_store(_ledger_dir(model, ledger), create=False)
    if tidy.removed or tidy.purged:
        console.print(f"[dim]tidied: removed {len(tidy.removed)} leftover file(s), purged {len(tidy.purged)} "
                      "edit(s) past the retention period[/dim]")
    return store


@edits_app.command("list")
@clean_errors
def edits_list(model: ModelOpt = DEFAULT_MODEL, ledger: LedgerOpt = None,
               all_: Annotated[bool, typer.Option("--all", help="include undone and quarantined edits")] = False,
               scope: Annotated[str | None, typer.Option(help="the global edits and this scope's (default: all)")] = None,
               reveal: Annotated[bool, typer.Option(help="show what each edit forgot (decrypted, while its key exists)")] = False,
               ) -> None:
    """List the edits in the ledger (no model is loaded; the forgotten text only with --reveal)."""
    from repair.edit.ledger.maintenance import private_part

    store = _store(model, ledger)
    table = Table()
    for col in ("id", "seq", "scope", "status", "layers", "maps", "alpha", "verified", "forgotten text"):
        table.add_column(col, no_wrap=col == "id", overflow="fold")
    for r in store.records():
        if not all_ and r.status != "active" or scope is not None and r.scope not in ("global", scope):
            continue
        ver = r.meta.get("verification") or {}
        status = r.status + (f" ({r.problem})" if r.problem else "")
        text = {"sealed": "sealed", "purged": "purged", "none": "–"}[r.private]
        if reveal and r.private == "sealed" and (private := private_part(store, r.id)) is not None:
            meta = private[0]
            text = str(meta.get("target") or meta.get("subject") or (meta.get("forget") or [[""]])[0][0])[:60]
        table.add_row(*(escape(str(x)) for x in (
            r.id, r.seq, r.scope, status, ",".join(map(str, r.layers)), ",".join(r.maps), r.meta.get("alpha"),
            ver.get("forgotten"), text)))
    console.print(table)


@edits_app.command("show")
@clean_errors
def edits_show(edit_id: str, model: ModelOpt = DEFAULT_MODEL, ledger: LedgerOpt = None,
               reveal: Annotated[bool, typer.Option(help="also decrypt the forgotten text (while its key exists)")] = False,
               ) -> None:
    """Show one edit's record."""
    from repair.edit.ledger.maintenance import private_part

    store = _store(model, ledger)
    out = store.record(edit_id).as_dict()
    if reveal:
        private = private_part(store, out["id"])
        out["revealed"] = private[0] if private else "purged: the forgotten text is gone"
    console.print_json(json.dumps(out, default=str))


@edits_app.command("undo")
@clean_errors
def edits_undo(edit_id: str, model: ModelOpt = DEFAULT_MODEL, ledger: LedgerOpt = None) -> None:
    """Undo an edit exactly (a running server drops it before its next request; a reload re-applies the rest)."""
    from repair.edit.ledger.ops import undo

    rec = undo(_store(model, ledger), edit_id)
    console.print(f"undone {rec.id}")


@edits_app.command("purge")
@clean_errors
def edits_purge(edit_id: Annotated[str | None, typer.Argument(help="the edit (or --all)")] = None,
                all_: Annotated[bool, typer.Option("--all", help="purge every edit")] = False,
                model: ModelOpt = DEFAULT_MODEL, ledger: LedgerOpt = None) -> None:
    """Delete the forgotten text kept for an edit (its key, sealed rows and turns, backups) for good. The
    edit stays applied; undo then restores the weights only."""
    from repair.edit.ledger.maintenance import purge

    if (edit_id is None) == (not all_):
        _fail("give one edit id or --all")
    store = _store(model, ledger)
    done = purge(store, None if all_ else [store.resolve_id(edit_id or "")])
    console.print(f"purged {len(done)} edit(s)" + (f": {', '.join(done)}" if done else ""))


@edits_app.command("audit")
@clean_errors
def edits_audit(text: str, model: ModelOpt = DEFAULT_MODEL, ledger: LedgerOpt = None) -> None:
    """Which edits forgot TEXT (matched by its HMAC under the operator key, also after a purge)."""
    from repair.edit.ledger.ops import audit

    hits = audit(_store(model, ledger), text)
    for r in hits:
        console.print(f"{r.id}  {r.status}  forgotten text {r.private}")
    if not hits:
        console.print("no edit forgot that text")


@edits_app.command("retention")
@clean_errors
def edits_retention(days: Annotated[str | None, typer.Argument(help="days to keep forgotten text, or 'off'")] = None,
                    model: ModelOpt = DEFAULT_MODEL, ledger: LedgerOpt = None) -> None:
    """Show or set how long forgotten text is kept before it is purged automatically (on every open)."""
    from repair.edit.ledger.ops import retention, set_retention

    store = _store(model, ledger)
    if days is not None:
        try:
            seconds = None if days == "off" else float(days) * 86400
        except ValueError:
            _fail(f"retention must be a number of days or 'off', not {days!r}")
            return
        tidy = set_retention(store, seconds)
        if tidy.purged:
            console.print(f"purged {len(tidy.purged)} edit(s) older than that")
    r = retention(store)
    console.print("retention: " + ("until purged" if r is None else f"{r / 86400:g} days"))


@edits_app.command("doctor")
@clean_errors
def edits_doctor(model: ModelOpt = DEFAULT_MODEL, ledger: LedgerOpt = None,
                 quarantine: Annotated[bool, typer.Option(help="set failing edits aside so the rest load")] = False,
                 deep: Annotated[bool, typer.Option(help="also check each delta's shape against the model")] = False,
                 ) -> None:
    """Check every active edit's delta file (present, sha256, finite, shape); report and, with
    --quarantine, set the failing ones aside (never silently)."""
    from repair.edit.ledger.ops import doctor

    store = _store(model, ledger)
    shape_of = None
    if deep:  # the model's shapes from its config alone: no weights are loaded
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        from repair.edit.ledger import Ledger
        from repair.models.arch import arch_for
        from repair.models.loader import resolve

        _, source, fingerprint = resolve(model)
        with torch.device("meta"):
            skeleton = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(source))
        shape_of = Ledger(skeleton, arch_for(skeleton), fingerprint, None)._shape
    problems = doctor(store, quarantine=quarantine, shape_of=shape_of)
    for eid, why in problems.items():
        console.print(f"[red]{escape(eid)}[/red]: {escape(why)}" + (" → quarantined" if quarantine else ""))
    if not problems:
        console.print("all active edits check out")
    elif not quarantine:
        console.print("run again with --quarantine to set them aside (they are kept, listed, and never applied)")
        raise typer.Exit(1)


@edits_app.command("export")
@clean_errors
def edits_export(
    out: Annotated[Path, typer.Argument(help="output folder")],
    edit_id: Annotated[str | None, typer.Option("--id", help="one edit (default: all active)")] = None,
    scope: Annotated[str | None, typer.Option(help="that scope's own edits (merged: over the global ones)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="merged or lora")] = "lora",
    model: ModelOpt = DEFAULT_MODEL,
    ledger: LedgerOpt = None,
) -> None:
    """Export active edits as a merged model folder or a PEFT LoRA adapter: the global edits, or with
    --scope S that scope's own (a LoRA adapter to serve over the merged global edits)."""
    from repair.edit.export import chosen_edits, export_lora, export_merged

    if fmt not in ("lora", "merged"):
        _fail(f"unknown format '{fmt}' (merged or lora)")
    patient = _load(model, ledger)
    edits = chosen_edits(patient.ledger, scope, edit_id)
    if fmt == "lora":
        path = export_lora(edits, patient.arch, patient.name, out)  # a name, not this machine's path
    else:  # the global edits are in the loaded weights; a scope's are added on top
        scoped = [e for e in edits if e.id not in {g.id for g in patient.ledger.active}]
        if edit_id and len(patient.ledger.active) + len(scoped) > 1:
            _fail("a merged export holds all active edits (of its scope too); use --format lora for one")
        for e in scoped:
            e.apply(patient.model, patient.arch)
        path = export_merged(patient.model, patient.tokenizer, out, [e.id for e in patient.ledger.active + scoped])
    rank = json.loads((path / "adapter_config.json").read_text())["r"] if fmt == "lora" else None
    console.print(f"wrote {fmt} export of {len(edits)} edit(s) to {path}" + (f" (rank {rank})" if rank else ""))


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
