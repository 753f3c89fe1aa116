"""What the ``repair`` commands share: the console, the model and ledger options, loading a patient."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from repair.cli_errors import fail
from repair.models.registry import BUNDLED, repair_home

console = Console()

ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help=f"bundled name ({', '.join(BUNDLED)}), folder or hub id")
]
LedgerOpt = Annotated[
    Path | None,
    typer.Option(
        "--ledger",
        "--session",
        help="ledger folder, or the folder of `repair chat --session DIR` (default: $REPAIR_HOME/ledgers/MODEL)",
    ),
]


def ledger_dir(model: str, ledger: Path | None) -> Path:
    """The ledger folder, without loading the model."""
    if ledger is not None:  # a chat session's folder holds its ledger in ledger/
        inner = ledger / "ledger"
        return inner if not (ledger / "ledger.db").exists() and (inner / "ledger.db").exists() else ledger
    name = Path(model).expanduser().name if Path(model).expanduser().is_dir() else model
    return repair_home() / "ledgers" / name.replace("/", "__")


def load_patient(model: str, ledger: Path | bool | None, dtype: str | None = None) -> Any:
    """The model with its ledger (``ledger``: a folder; False: none), loaded under a status line."""
    import repair

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    with console.status(f"loading {model} …"):
        t = time.perf_counter()
        try:
            where = (
                ledger
                if isinstance(ledger, bool)
                else ledger_dir(model, ledger)
                if ledger is not None
                else True
            )
            patient = repair.load(model, ledger=where, dtype=dtype)
        except ValueError as e:  # an empty name, an unknown dtype
            fail(str(e))
    console.print(f"[dim]loaded {patient!r} in {time.perf_counter() - t:.1f} s[/dim]")
    return patient
