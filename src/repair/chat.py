"""`repair chat`: a terminal chat with a patient that forgets on request.

Reads one message per line, so it also runs with piped stdin (`printf '...\\n/quit\\n' | repair chat`).
Commands: /edits, /undo ID, /history, /plan (the last repair as Python), /reset, /help, /quit.

Before the weights change, the chat shows what it will forget (the subject and the questions the model
will stop answering) and asks; ``--yes`` skips the question. An undo also takes the replies given while
that edit was active out of the context; ``/reset`` clears the context.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from repair.agents.watchdog import Watchdog, lazy_generate_fn
from repair.session import Reply, Session
from repair.session.control import Confirm, Proposal
from repair.session.surgeons import make_surgeon
from repair.session.texts import short_id

HELP = """commands: /edits (list edits) · /undo ID (revert one) · /history (the turns) · /plan (the last repair \
as Python) · /reset (clear the context) · /help · /quit
Ask anything, or ask the model to forget: "forget what you just said", "forget everything about Maya Taylor"."""


def _edits_table(session: Session) -> Table:
    table = Table(title="edits")
    for col in ("id", "target", "layers", "α", "verified"):
        table.add_column(col)
    for m in session.edits():
        meta, layers = m.meta, m.layers
        span = f"{layers[0]}-{layers[-1]}" if layers else ""
        table.add_row(
            short_id(m.id),
            escape(str(meta.target or (meta.forget or [("", "")])[0][0])[:50]),
            span,
            escape(str(meta.alpha)),
            str(meta.verification.forgotten if meta.verification else None),
        )
    return table


def _history_table(session: Session) -> Table:
    table = Table(title="history", show_lines=False)
    for col in ("#", "who", "kind", "text"):
        table.add_column(col, overflow="fold")
    for i, t in enumerate(session.history, 1):
        note = f" [forgotten by {short_id(t['redacted_by'])}]" if t.get("redacted_by") else ""
        table.add_row(str(i), t["role"], t.get("kind", ""), escape(t["content"][:200]) + note)
    return table


def _show_reply(console: Console, reply: Reply) -> None:
    style = {"chat": "green", "unlearn": "bold magenta", "error": "red"}[reply.kind]
    console.print(f"[{style}]{escape(reply.text)}[/{style}]")
    if reply.kind == "unlearn" and reply.plan:
        console.print(
            f"[dim]plan: {reply.plan.source}, attempts "
            + ", ".join(f"α={a.alpha:g} forgot {a.fraction:.0%}" for a in reply.plan.attempts)
            + " · /plan shows it as Python[/dim]"
        )


def ask_first(console: Console, read: Callable[[], str]) -> Confirm:
    """A `Confirm` that shows what would be forgotten and reads y/n (anything but yes is no)."""

    def confirm(p: Proposal) -> bool:
        console.print(f"[bold magenta]Forget {escape(p.target)}?[/bold magenta]")
        for q in p.questions:
            console.print(f"  I will stop answering: {escape(q)}")
        console.print(
            "[dim]y = forget it, anything else = keep it (repair chat --yes skips this question)[/dim]"
        )
        try:
            answer = read().strip().lower()
        except (EOFError, KeyboardInterrupt):
            answer = ""
        return answer in ("y", "yes")

    return confirm


def _command(console: Console, session: Session, line: str, last: Reply | None) -> None:
    """One /command."""
    if line == "/help":
        console.print(HELP)
    elif line == "/edits":
        console.print(_edits_table(session))
    elif line == "/history":
        console.print(_history_table(session))
    elif line == "/reset":
        session.reset()
        console.print(
            "context cleared: the next turns see none of the earlier ones (/history still lists them)"
        )
    elif line == "/plan":
        console.print(
            Syntax(last.plan.python, "python", word_wrap=True)
            if last and last.plan and last.plan.python
            else "no repair yet in this chat"
        )
    elif line.startswith("/undo"):
        parts = line.split()
        if len(parts) != 2:
            console.print("[red]usage: /undo ID[/red] (ids are listed by /edits)")
            return
        try:
            m = session.undo(parts[1])
            console.print(
                f"undone {short_id(m.id)}: the weights are back bit for bit; the replies given "
                "while it was on are out of the context"
            )
        except (KeyError, ValueError) as e:
            console.print(f"[red]{escape(str(e))}[/red]")
    else:
        console.print(f"[red]unknown command {escape(line.split()[0])}[/red]; /help lists them")


def _watchdog(k: int, llm: str | None) -> Watchdog:
    """The fast path alone, or with a bundled LLM for unsure and non-English turns (loaded on first use)."""
    return Watchdog(k=k, extractor=lazy_generate_fn(llm) if llm else None)


def _reader(console: Console) -> Callable[[], str]:
    """Read a line from the terminal or, piped, from stdin with each line echoed, so that the transcript
    reads as a conversation."""
    import sys

    if sys.stdin.isatty():
        return lambda: console.input("[bold cyan]> [/bold cyan]")

    def read() -> str:
        line = input()
        console.print(f"[bold cyan]>[/bold cyan] {escape(line)}")
        return line

    return read


def _loop(console: Console, session: Session, read: Callable[[], str]) -> None:
    """Until the input ends or /quit: a /command, or a message for the session."""
    last: Reply | None = None
    while True:
        try:
            line = read()
        except (EOFError, KeyboardInterrupt):
            break
        line = line.strip()
        if line in ("/quit", "/exit", "/q"):
            break
        if line.startswith("/"):
            _command(console, session, line, last)
        else:
            with console.status("thinking …"):
                reply = session.send(line)
            if reply.plan:
                last = reply
            _show_reply(console, reply)


def run_chat(
    model: str | None,
    session_dir: Path | None,
    surgeon: str = "rule",
    k: int = 4,
    console: Console | None = None,
    read: Callable[[], str] | None = None,
    dtype: str | None = None,
    engine: str = "stamp2",
    yes: bool = False,
    watchdog_llm: str | None = None,
) -> Session:
    """The REPL loop; returns the session when the input ends or the user types /quit. ``yes``: forget
    without asking first."""
    import repair

    console = console or Console()
    read = read or _reader(console)
    t = time.perf_counter()
    with console.status("loading the patient …"):
        kw = dict(surgeon=make_surgeon(surgeon, dtype), k=k, user="chat", engine=engine)
        kw["watchdog"] = _watchdog(k, watchdog_llm)
        if session_dir is not None:
            session = Session.open(session_dir, model=model, dtype=dtype, **kw)
        else:
            patient = repair.load(model or "smollm2-135m-instruct", ledger=False, dtype=dtype)
            session = Session(patient, **kw)
        session.warm()  # edit statistics and check questions now, not inside the first request
    session.confirm = None if yes else ask_first(console, read)
    where = (
        f"session {session_dir}" if session_dir else "not saved (pass --session DIR to keep edits and turns)"
    )
    console.print(
        f"[dim]{session.patient!r} ready in {time.perf_counter() - t:.1f} s · {where} · "
        f"{len(session.history) // 2} earlier turns · /help for commands[/dim]"
    )
    _loop(console, session, read)
    return session
