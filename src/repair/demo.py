"""The scripted demo behind ``repair demo``: answer, forget on request, forget, keep the rest."""

from __future__ import annotations

import tempfile
import time

from rich.console import Console
from rich.table import Table

FORGET = "What is the capital of France?"
PARAPHRASE = "Which city is the capital of France?"
RETAIN = [
    "What is the capital of Japan?",
    "Who wrote Romeo and Juliet?",
    "What is the largest planet in our solar system?",
    "How many legs does a spider have?",
    "What is the capital of Germany?",
]


def run_demo(model: str, console: Console) -> None:
    import repair
    from repair.edit.answers import answer_kept

    with tempfile.TemporaryDirectory(prefix="repair-demo-") as ledger:
        t = time.perf_counter()
        with console.status(f"loading {model} (the first run dequantizes and caches it) …"):
            patient = repair.load(model, ledger=ledger)
        console.print(f"[dim]{patient!r} ready in {time.perf_counter() - t:.1f} s[/dim]\n")
        before = patient.generate([FORGET, PARAPHRASE, *RETAIN], max_new_tokens=40)
        console.print(f"[bold cyan]user[/bold cyan]  {FORGET}\n[bold green]model[/bold green] {before[0]}\n")
        console.print("[bold cyan]user[/bold cyan]  Forget what you just told me about the capital of France.")
        with console.status("editing weights (first edit also caches per-model statistics) …"):
            # the retain questions are the edit's guard: an edit that forgets only by breaking them is not kept
            edit = repair.stamp(patient, [(FORGET, before[0])], requested_by="demo", guard=RETAIN,
                                  guard_keep=1.0)
        v = edit.meta["verification"]
        word = "Done." if v["forgotten"] else "Could not fully remove it."
        console.print(
            f"[bold green]repair[/bold green] {word} Edit {edit.id} on layers {edit.layers[0]}-{edit.layers[-1]} "
            f"({', '.join(edit.maps)}), α={edit.meta['alpha']:.4g}, "
            + ", ".join(f"{k} {s:.2f} s" for k, s in edit.timings.items()) + "\n"
        )
        after = patient.generate([FORGET, PARAPHRASE, *RETAIN], max_new_tokens=40)
        table = Table(title="after the edit")
        for col in ("prompt", "before", "after"):
            table.add_column(col, overflow="fold")
        for p, b, a in zip([FORGET, PARAPHRASE, *RETAIN], before, after, strict=True):
            table.add_row(p, b, a)
        console.print(table)
        keys = [answer_kept(q, b, a) for q, b, a in zip(RETAIN, before[2:], after[2:], strict=True)]
        kept = [k for k, ok in keys if k and ok]
        lost = [k for k, ok in keys if k and not ok]
        console.print(f"forgotten: {v['forgotten']} · retain answers kept: {len(kept)}/{len(kept) + len(lost)} "
                      f"({', '.join(kept)}{'; lost: ' + ', '.join(lost) if lost else ''})")
        if edit.meta.get("uncommitted_reason"):
            console.print("the edit broke the retain answers, so it was not committed")
            return
        patient.ledger.undo(edit.id)
        restored = patient.generate([FORGET], max_new_tokens=40)[0]
        console.print(f"after [bold]undo {edit.id}[/bold]: {restored}")
