"""One-line errors for every `repair` command: what went wrong and what to do; ``--debug`` (or
REPAIR_DEBUG=1) shows the traceback instead."""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable
from typing import Any, NoReturn

import typer
import typer.core
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

console = Console()
err_console = Console(stderr=True)


def _usage_error() -> type[Exception]:
    """click's UsageError as typer raises it: typer bundles its own click (typer._click) from 0.26 on."""
    bundled = getattr(typer.core, "_click", None)
    if bundled is not None:
        return bundled.exceptions.UsageError  # type: ignore[no-any-return]
    import click

    return click.UsageError


UsageError = _usage_error()
DEBUG = {"on": bool(os.environ.get("REPAIR_DEBUG"))}

HINTS = {  # the first whose name is among the error's classes
    "LedgerBusyError": "wait for the other edit to finish, then run the command again",
    "ForeignLedgerError": "give this model its own --ledger folder, or load the model the ledger was made with",
    "NoLedgerError": "give --ledger DIR, a ledger folder or a `repair chat --session` folder; or make an edit first",
    "UnreadableLedgerError": "move that folder aside to start a new ledger, or restore it from a backup",
    "OperationalError": "another program may hold the ledger's database: try again in a moment",
    "DatabaseError": "the ledger's database is damaged: move its folder aside or restore it from a backup",
    "LedgerError": "`repair edits doctor` checks the ledger; --debug shows the traceback",
    "ModelNotFoundError": "`repair --help` lists the bundled models; a folder must hold *.safetensors",
    "IntegrityError": "delete the cached copy under $REPAIR_HOME/models and load again",
}


def fail(msg: str, hint: str = "") -> NoReturn:
    """Print one error line (user text escaped: it is never read as markup) and exit with code 2."""
    console.print(
        f"[red]error:[/red] {escape(msg)}" + (f" [dim]({escape(hint)})[/dim]" if hint else ""), soft_wrap=True
    )
    raise typer.Exit(2)


def one_line(e: BaseException) -> str:
    """An error's message on one line: a pydantic validation error as 'field: what is wrong' per field."""
    errors = getattr(e, "errors", None)
    if callable(errors) and type(e).__name__ == "ValidationError":
        return "; ".join(f"{'.'.join(map(str, x['loc'])) or 'value'}: {x['msg']}" for x in errors())
    msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    return msg.splitlines()[0] if msg else type(e).__name__


def clean_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command; a user-facing error (bad input, a missing file, a busy or foreign ledger) becomes
    one line and exit code 2, unless --debug asks for the traceback."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except (RuntimeError, ValueError, KeyError, OSError, sqlite3.Error) as e:
            if DEBUG["on"]:
                raise
            msg = one_line(e)
            hint = next((h for name, h in HINTS.items() if name in {c.__name__ for c in type(e).__mro__}), "")
            if "`repair " in msg:  # the message names the command to run: no other hint
                hint = "--debug shows the traceback"
            fail(msg, hint or "--debug shows the traceback")

    return run


def usage_line(e: Any, path: str) -> None:
    """A usage error (an unknown option or command, a bad or missing value, an option a command refuses)
    as one line on stderr, with the command whose ``--help`` says what it takes; nothing when the error
    is a bare command's help, already shown."""
    if type(e).__name__ == "NoArgsIsHelpError":
        return
    msg = " ".join(e.format_message().split()).rstrip(".")
    err_console.print(
        f"[red]error:[/red] {escape(msg[:1].lower() + msg[1:])} "
        f"[dim]({escape(f'`{path} --help` shows what it takes')})[/dim]",
        soft_wrap=True,
    )


class OneLineUsage(TyperGroup):
    """A `repair` command group: a usage error below it is one line (`usage_line`) and exit code 2, not
    click's usage block and a boxed panel. Sub-groups (``repair edits``) use it too, so that the line
    names the command that was given."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as e:  # the group's own options (`repair --bogus`)
            ctx = getattr(e, "ctx", None)
            usage_line(e, ctx.command_path if ctx is not None else "repair")
            raise typer.Exit(getattr(e, "exit_code", 2)) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as e:  # a command's options, or its own refusal (`serve --host` without keys)
            at = getattr(e, "ctx", None)
            if at is not None and at is not ctx and at.command_path.startswith(ctx.command_path):
                path = at.command_path  # raised by the command itself, in its own context
            else:  # raised while the command's options were read: the context is not made yet
                path = " ".join(filter(None, [ctx.command_path, ctx.invoked_subcommand]))
            usage_line(e, path)
            raise typer.Exit(getattr(e, "exit_code", 2)) from None
