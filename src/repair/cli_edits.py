"""``repair edits ...``: list, show, undo, purge, audit and export the edits in a ledger. Every command
but ``export`` reads the ledger's database alone: no model is loaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from repair.cli_common import LedgerOpt, ModelOpt, console, ledger_dir, load_patient
from repair.cli_errors import OneLineUsage, clean_errors, fail
from repair.models.registry import DEFAULT_MODEL

edits_app = typer.Typer(
    cls=OneLineUsage,
    help="List, show, undo and export the edits in a patient's ledger.",
    no_args_is_help=True,
)


def _store(model: str, ledger: Path | None) -> Any:
    from repair.edit.ledger.ops import open_store

    store, tidy = open_store(ledger_dir(model, ledger), create=False)
    if tidy.removed or tidy.purged:
        console.print(
            f"[dim]tidied: removed {len(tidy.removed)} leftover file(s), purged {len(tidy.purged)} "
            "edit(s) past the retention period[/dim]"
        )
    return store


@edits_app.command("list")
@clean_errors
def edits_list(
    model: ModelOpt = DEFAULT_MODEL,
    ledger: LedgerOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="include undone and quarantined edits")] = False,
    scope: Annotated[
        str | None, typer.Option(help="the global edits and this scope's (default: all)")
    ] = None,
    reveal: Annotated[
        bool, typer.Option(help="show what each edit forgot (decrypted, while its key exists)")
    ] = False,
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
        status = r.status + (f" ({r.problem})" if r.problem else "")
        text = {"sealed": "sealed", "purged": "purged", "none": "–"}[r.private]
        if reveal and r.private == "sealed" and (private := private_part(store, r.id)) is not None:
            meta = r.meta.merged(private.meta)
            text = str(meta.target or meta.subject or (meta.forget or [("", "")])[0][0])[:60]
        table.add_row(
            *(
                escape(str(x))
                for x in (
                    r.id,
                    r.seq,
                    r.scope,
                    status,
                    ",".join(map(str, r.layers)),
                    ",".join(r.maps),
                    r.meta.alpha,
                    r.meta.verification.forgotten if r.meta.verification else None,
                    text,
                )
            )
        )
    console.print(table)


@edits_app.command("show")
@clean_errors
def edits_show(
    edit_id: str,
    model: ModelOpt = DEFAULT_MODEL,
    ledger: LedgerOpt = None,
    reveal: Annotated[
        bool, typer.Option(help="also decrypt the forgotten text (while its key exists)")
    ] = False,
) -> None:
    """Show one edit's record."""
    from repair.edit.ledger.maintenance import private_part

    store = _store(model, ledger)
    out = store.record(edit_id).as_dict()
    if reveal:
        private = private_part(store, out["id"])
        out["revealed"] = private.meta.dump() if private else "purged: the forgotten text is gone"
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
def edits_purge(
    edit_id: Annotated[str | None, typer.Argument(help="the edit (or --all)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="purge every edit")] = False,
    model: ModelOpt = DEFAULT_MODEL,
    ledger: LedgerOpt = None,
) -> None:
    """Delete the forgotten text kept for an edit (its key, sealed rows and turns, backups) for good. The
    edit stays applied; undo then restores the weights only."""
    from repair.edit.ledger.maintenance import purge

    if (edit_id is None) == (not all_):
        fail("give one edit id or --all")
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
def edits_retention(
    days: Annotated[str | None, typer.Argument(help="days to keep forgotten text, or 'off'")] = None,
    model: ModelOpt = DEFAULT_MODEL,
    ledger: LedgerOpt = None,
) -> None:
    """Show or set how long forgotten text is kept before it is purged automatically (on every open)."""
    from repair.edit.ledger.ops import retention, set_retention

    store = _store(model, ledger)
    if days is not None:
        try:
            seconds = None if days == "off" else float(days) * 86400
        except ValueError:
            fail(f"retention must be a number of days or 'off', not {days!r}")
            return
        tidy = set_retention(store, seconds)
        if tidy.purged:
            console.print(f"purged {len(tidy.purged)} edit(s) older than that")
    r = retention(store)
    console.print("retention: " + ("until purged" if r is None else f"{r / 86400:g} days"))


@edits_app.command("doctor")
@clean_errors
def edits_doctor(
    model: ModelOpt = DEFAULT_MODEL,
    ledger: LedgerOpt = None,
    quarantine: Annotated[bool, typer.Option(help="set failing edits aside so the rest load")] = False,
    deep: Annotated[bool, typer.Option(help="also check each delta's shape against the model")] = False,
) -> None:
    """Check every active edit's delta file (present, sha256, finite, shape); report and, with
    --quarantine, set the failing ones aside (never silently)."""
    from repair.edit.ledger.tensors import doctor

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
        console.print(
            "run again with --quarantine to set them aside (they are kept, listed, and never applied)"
        )
        raise typer.Exit(1)


@edits_app.command("export")
@clean_errors
def edits_export(
    out: Annotated[Path, typer.Argument(help="output folder")],
    edit_id: Annotated[str | None, typer.Option("--id", help="one edit (default: all active)")] = None,
    scope: Annotated[
        str | None, typer.Option(help="that scope's own edits (merged: over the global ones)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="merged or lora")] = "lora",
    ungated: Annotated[
        bool,
        typer.Option(
            "--ungated",
            help="export gated edits without their gates (a plain weight cannot hold a gate: each update then "
            "acts on every input, and many edits add up)",
        ),
    ] = False,
    model: ModelOpt = DEFAULT_MODEL,
    ledger: LedgerOpt = None,
) -> None:
    """Export active edits as a merged model folder or a PEFT LoRA adapter: the global edits, or with
    --scope S that scope's own (a LoRA adapter to serve over the merged global edits)."""
    from repair.edit.export import chosen_edits, export_lora, export_merged

    if fmt not in ("lora", "merged"):
        fail(f"unknown format '{fmt}' (merged or lora)")
    patient = load_patient(model, ledger)
    edits = chosen_edits(patient.ledger, scope, edit_id)
    if fmt == "lora":
        path = export_lora(edits, patient.arch, patient.name, out, ungated)  # a name, not this machine's path
    else:  # the global edits are in the loaded weights; a scope's are added on top
        scoped = [e for e in edits if e.id not in {g.id for g in patient.ledger.active}]
        if edit_id and len(patient.ledger.active) + len(scoped) > 1:
            fail("a merged export holds all active edits (of its scope too); use --format lora for one")
        for e in scoped:
            e.apply(patient.model, patient.arch)
        every = patient.ledger.active + scoped
        path = export_merged(
            patient.model, patient.tokenizer, out, [e.id for e in every], every if ungated else ()
        )
    rank = json.loads((path / "adapter_config.json").read_text())["r"] if fmt == "lora" else None
    console.print(
        f"wrote {fmt} export of {len(edits)} edit(s) to {path}" + (f" (rank {rank})" if rank else "")
    )
