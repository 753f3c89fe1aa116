"""The ``repair`` command: forget, edits, layers, demo."""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from repair.cli_common import LedgerOpt, ModelOpt, console, load_patient
from repair.cli_edits import edits_app
from repair.cli_errors import DEBUG, OneLineUsage, clean_errors, one_line
from repair.cli_errors import fail as _fail
from repair.eval.cli import eval_app, report_command
from repair.eval.forget_quality.cli import forget_quality_command
from repair.models.registry import DEFAULT_MODEL
from repair.session_cli import chat_command, pipeline_command, serve_command

app = typer.Typer(
    cls=OneLineUsage,  # a usage error is one line
    help="Interactive machine unlearning: closed-form, reversible edits of chat models.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(edits_app, name="edits")
# Evaluation commands live in repair.eval.cli: `repair eval run|table …` and `repair report DIR`.
app.add_typer(eval_app, name="eval")
app.command("report")(report_command)
eval_app.command("forget-quality")(forget_quality_command)
eval_app.command("pipeline")(pipeline_command)


@app.callback()
def main(
    debug: Annotated[
        bool, typer.Option("--debug", help="show tracebacks instead of one-line errors")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="show the progress bars of model loads (REPAIR_VERBOSE=1)")
    ] = False,
) -> None:
    """Interactive machine unlearning: closed-form, reversible edits of chat models."""
    DEBUG["on"] = bool(os.environ.get("REPAIR_DEBUG")) or debug
    if verbose:
        os.environ["REPAIR_VERBOSE"] = "1"  # read where the model loads (repair.models.loader.verbose)


# The interactive loop lives in repair.session_cli: `repair chat`, `repair serve`, `repair eval pipeline`.
app.command("chat")(clean_errors(chat_command))
app.command("serve")(clean_errors(serve_command))

MAX_TRIES = 2  # an edit is made again once when another process changed the ledger under it
CHANGED = "the ledger's edits changed while the edit was made (another process committed or undid one)"
DEFAULT_RETAIN_PROBES = [
    "What is the capital of Japan?",
    "Who wrote Romeo and Juliet?",
    "What is the largest planet in our solar system?",
    "How many legs does a spider have?",
    "What is the capital of Germany?",
]


def _check_fits(patient: Any, texts: list[str], new_tokens: int) -> None:
    """Refuse a prompt longer than the model's context (a 100 KB prompt would otherwise eat gigabytes)."""
    ctx = getattr(patient.model.config, "max_position_embeddings", None) or getattr(
        patient.tokenizer, "model_max_length", 0
    )
    for t in texts:
        from repair.models.chat import chat_token_ids

        n = len(chat_token_ids(patient.tokenizer, [{"role": "user", "content": t}]))
        if ctx and n + new_tokens > ctx:
            _fail(
                f"a prompt of {n} tokens does not fit this model's context of {ctx} tokens "
                f"({new_tokens} are kept for the reply)",
                "shorten it",
            )


def _check_options(alpha: str, recipe: str, method: str, rank: int | None) -> None:
    """Refuse a bad --alpha, --recipe, --method or --rank in one line, before any work is done."""
    from pydantic import ValidationError

    from repair.edit.settings import StampConfig

    try:
        StampConfig(
            alpha="auto" if alpha == "auto" else float(alpha), recipe=recipe, method=method, rank=rank
        )  # type: ignore[arg-type]
    except ValueError as e:
        if not isinstance(e, ValidationError):
            _fail(f"--alpha must be 'auto' or a number, not {alpha!r}")
        _fail(one_line(e), "`repair forget --help` lists the choices")


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
    response: Annotated[
        str | None, typer.Option(help="the answer to forget (default: the model's own)")
    ] = None,
    paraphrase: Annotated[
        list[str] | None, typer.Option("--paraphrase", help="extra prompts with the same answer")
    ] = None,
    retain_probe: Annotated[
        list[str] | None, typer.Option("--retain-probe", help="prompts that must still be answered")
    ] = None,
    recipe: Annotated[
        str, typer.Option(help="repair (default) or paper (RePAIR sec. 4.2 as written)")
    ] = "repair",
    method: Annotated[str, typer.Option(help="stamp or stamp-lr")] = "stamp",
    rank: Annotated[int | None, typer.Option(help="rank for stamp-lr")] = None,
    alpha: Annotated[str, typer.Option(help="strength: 'auto' or a number")] = "auto",
    layers: Annotated[str, typer.Option(help="'auto', one layer '7' or a list '4,5,6'")] = "auto",
    keep_unverified: Annotated[bool, typer.Option(help="commit the edit even if it is not verified")] = False,
    ledger: LedgerOpt = None,
    dtype: Annotated[
        str, typer.Option("--dtype", help="weights: float32, or bfloat16 (faster on a CPU)")
    ] = "float32",
) -> None:
    """Forget what the model answers to PROMPT with one closed-form edit, and show before/after. The edit
    is committed to the ledger only when verified: the answer is gone and the retain probes kept."""
    if not prompt.strip():
        _fail("empty prompt: give the question whose answer should be forgotten")
    if len(prompt) > 1_000_000:  # far past any context: refused before the model is even loaded
        _fail(f"the prompt is {len(prompt)} characters long, far more than any model's context", "shorten it")
    _check_options(alpha, recipe, method, rank)  # before the model loads and answers (a minute on a CPU)
    patient = load_patient(model, ledger, dtype)
    _check_fits(patient, [prompt, *(paraphrase or []), *(retain_probe or [])], 40)
    lay = _parse_layers(layers, patient.n_layers)
    # a probe that is the forget prompt itself cannot also be kept
    probes = [q for q in retain_probe or DEFAULT_RETAIN_PROBES if q.strip().lower() != prompt.strip().lower()]
    options = {"paraphrases": paraphrase or None, "method": method, "rank": rank, "layers": lay}
    if not _forget_on_current(patient, prompt, response, probes, (alpha, recipe, keep_unverified), options):
        raise typer.Exit(1)


def _forget_on_current(patient: Any, prompt: str, response: str | None, probes: list[str],
                       how: tuple[str, str, bool], options: dict[str, Any]) -> bool:  # fmt: skip
    """Make, check and commit the edit on the ledger's edits as they are; if another process committed or
    undid one meanwhile, the edit was checked on another model: it is made once more on the current edits,
    then refused. Whether an edit was committed."""
    from repair.edit.ledger.files import LedgerChangedError

    for tries_left in reversed(range(MAX_TRIES)):
        try:
            return _forget_once(patient, prompt, response, probes, how, options)
        except LedgerChangedError:
            if not tries_left:
                _fail(f"{CHANGED}; nothing was committed", "run it again once the other edits are done")
            console.print(f"[yellow]{CHANGED}[/yellow]: making it again on the ledger's current edits")
    return False


def _forget_once(patient: Any, prompt: str, response: str | None, probes: list[str],
                 how: tuple[str, str, bool], options: dict[str, Any]) -> bool:  # fmt: skip
    """One try: the edit is made and checked on the ledger's current edits, and committed only onto them
    (`LedgerChangedError` when another process committed or undid an edit meanwhile)."""
    alpha, recipe, keep_unverified = how
    patient.ledger.sync()  # another process's edits since the model was loaded
    base = patient.ledger.state
    before = _ask(patient, [prompt, *probes], "before")
    edit = _edit(patient, [(prompt, response or before[0])], probes, alpha, recipe, **options)
    after = _ask(patient, [prompt, *probes], "after", edit)
    console.print(_retain_table(probes, before[1:], after[1:]))
    return _settle(patient, edit, keep_unverified, based_on=base)


def _ask(patient: Any, prompts: list[str], when: str, edit: Any = None) -> list[str]:
    """The replies to the forget prompt and the retain probes (with ``edit`` on trial); the first is shown."""
    t = time.perf_counter()
    with patient.ledger.trial(edit) if edit is not None else nullcontext():
        out = patient.generate(prompts, max_new_tokens=40)
    took = time.perf_counter() - t
    console.print(
        f"[bold]{when}[/bold] ({took:.1f} s)\n  [cyan]{escape(prompts[0])}[/cyan] → {escape(out[0])}"
    )
    return out


def _edit(patient: Any, forget: list[tuple[str, str]], probes: list[str], alpha: str, recipe: str,
          **options: Any) -> Any:  # fmt: skip
    """The edit, not committed. The retain probes are its guard: an edit that forgets only by changing
    any of their answers is not kept (the engine then tries its mid layer band). Nothing is committed
    until the edit is verified (or --keep-unverified says so)."""
    import repair

    try:
        return repair.stamp(
            patient, forget, recipe=recipe, alpha="auto" if alpha == "auto" else float(alpha), requested_by="cli",
            commit=False, guard=probes, guard_keep=1.0, **({"solver": "paper"} if recipe == "paper" else {}),
            **options,
        )  # fmt: skip
    except (ValueError, RuntimeError) as e:
        _fail(one_line(e))


def _retain_table(probes: list[str], before: list[str], after: list[str]) -> Table:
    """The retain probes' replies before and after the edit, and whether each kept its answer."""
    from repair.edit.answers import answer_kept

    table = Table(title="retain probes", show_lines=False)
    for col in ("prompt", "before", "after", "answer kept"):
        table.add_column(col)
    for p, b, a in zip(probes, before, after, strict=True):
        key, kept = answer_kept(p, b, a)  # the name or number the reply gave; "–" when it gave none
        table.add_row(
            escape(p),
            escape(b[:60]),
            escape(a[:60]),
            "–" if key is None else escape(("✓ " if kept else "✗ ") + key),
        )
    return table


def _turns_saying(patient: Any, edit: Any) -> list[int]:
    """A chat session's stored turns that ask or give what ``edit`` forgets (``--ledger SESSION``): sealed
    and hidden in the edit's commit, so that neither the history nor the chat's context keeps them."""
    from repair.edit.ledger.history import turns_saying

    store = getattr(patient.ledger, "store", None)
    return turns_saying(store, edit.meta.texts()) if store is not None else []


def _settle(patient: Any, edit: Any, keep_unverified: bool, based_on: tuple[str, ...] | None = None) -> bool:
    """Commit the edit if it is verified (or kept anyway) and say what happened; whether it was committed.
    ``based_on``: the ledger's state the edit was made and checked on (see `Ledger.commit`)."""
    v = edit.meta.verification
    guard = v.guard if v is not None else None
    verified = v is not None and v.forgotten and v.guard_ok
    where = f"layers {edit.layers}, maps {edit.maps}, α={edit.meta.alpha:.4g}"
    tried = edit.meta.bands_tried or []
    if len(tried) > 1:
        where += f"; the early band {tried[0][0]}-{tried[0][-1]} changed a retain answer"
    if verified or keep_unverified:
        t = time.perf_counter()
        patient.ledger.commit(edit, redact_turns=_turns_saying(patient, edit), based_on=based_on)
        edit.timings["write"] = time.perf_counter() - t
        patient.ledger.update_meta(edit.id, timings=edit.timings)
        console.print(
            f"edit [bold]{edit.id}[/bold] committed: {where}, verified forgotten: {v and v.forgotten}"
            + (f", retain probes kept {guard.kept}/{guard.total}" if guard else "")
        )
    else:
        why = (
            f"it changed the retain probes' answers ({guard.kept}/{guard.total} kept)"
            if guard and not guard.ok
            else "the model still gives the answer"
        )
        console.print(
            f"[yellow]not committed[/yellow]: {why} ({where}; the strongest edit tried). "
            "Nothing was changed; --alpha N --keep-unverified keeps an edit anyway."
        )
    console.print("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in edit.timings.items()))
    console.print(f"[dim]ledger: {patient.ledger.root}[/dim]")
    return verified or keep_unverified


@app.command()
def layers(
    prompt: Annotated[str, typer.Option("--prompt", "-p")],
    model: ModelOpt = DEFAULT_MODEL,
    response: Annotated[str | None, typer.Option()] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="write a PNG plot here")] = None,
) -> None:
    """Per-layer forget/refusal cosine separation (the paper's layer criterion, Fig. 5)."""
    from repair.edit.layers import plot_separation, separation

    patient = load_patient(model, False)
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
