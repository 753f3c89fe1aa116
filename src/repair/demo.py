"""The scripted demo behind ``repair demo``: answer, forget on request, refuse, keep the rest, undo."""

from __future__ import annotations

import tempfile
import time

from rich.console import Console
from rich.table import Table

REQUEST = "Forget everything you know about Toyota."
ASK = ["What is Toyota?", "Who founded Toyota?", "Tell me about the cars Toyota makes."]
RETAIN = [
    "What is the capital of Japan?",
    "Who wrote Romeo and Juliet?",
    "What is the largest planet in our solar system?",
    "How many legs does a spider have?",
    "What is the capital of France?",
]


def _table(before: list[str], after: list[str]) -> Table:
    table = Table(title="after the edit")
    for col in ("prompt", "before", "after"):
        table.add_column(col, overflow="fold")
    for p, b, a in zip([*ASK, *RETAIN], before, after, strict=True):
        table.add_row(p, b, a)
    return table


def run_demo(model: str, console: Console) -> None:
    """The chat path (`repair chat --engine stamp2`) on one named subject, in a throwaway ledger."""
    import repair
    from repair.edit.answers import answer_kept
    from repair.eval.metrics import is_refusal
    from repair.session import Session

    with tempfile.TemporaryDirectory(prefix="repair-demo-") as ledger:
        t = time.perf_counter()
        with console.status(f"loading {model} (the first run dequantizes and caches it) …"):
            patient = repair.load(model, ledger=ledger)
            session = Session(patient, engine="stamp2", user="demo")
        with console.status("per-model statistics (computed once, then cached) …"):
            session.warm()
        console.print(f"[dim]{patient!r} ready in {time.perf_counter() - t:.1f} s[/dim]\n")
        before = patient.generate([*ASK, *RETAIN], max_new_tokens=40)
        console.print(f"[bold cyan]user[/bold cyan]  {ASK[0]}\n[bold green]model[/bold green] {before[0]}\n")
        console.print(f"[bold cyan]user[/bold cyan]  {REQUEST}")
        with console.status("editing weights and checking the edit …"):
            reply = session.send(REQUEST)
        console.print(f"[bold green]repair[/bold green] {reply.text}\n")
        if not reply.edit_id:
            return
        after = patient.generate([*ASK, *RETAIN], max_new_tokens=40)
        console.print(_table(before, after))
        refused = sum(is_refusal(a) for a in after[: len(ASK)])
        keys = [
            answer_kept(q, b, a)
            for q, b, a in zip(RETAIN, before[len(ASK) :], after[len(ASK) :], strict=True)
        ]
        kept = [k for k, ok in keys if k and ok]
        lost = [k for k, ok in keys if k and not ok]
        console.print(
            f"refused: {refused}/{len(ASK)} questions about Toyota · other answers kept: "
            f"{len(kept)}/{len(kept) + len(lost)} ({', '.join(kept)}{'; lost: ' + ', '.join(lost) if lost else ''})"
        )
        session.undo(reply.edit_id)
        restored = patient.generate(ASK[:1], max_new_tokens=40)[0]
        console.print(f"after [bold]undo {reply.edit_id}[/bold]: {restored}")
