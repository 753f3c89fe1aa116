"""How far the rest of the model drifts as edits pile up: a quick check of composition.

    python benchmarks/sequential_drift.py [--model smollm2-135m-instruct] [--edits 60] [--set keep_entities=false] [--threads 2]
    python benchmarks/sequential_drift.py --engine stamp [--edits 50] [--set keep_prefix=false]
    python benchmarks/sequential_drift.py --vector /tmp/refusal-margin-u.pt   # a refined u (refusal_margin.py)

STAMP-2 (the default) forgets the stress set's entities one after another (each edit committed, none
verified); ``--engine stamp`` has the first engine forget the stress set's single facts instead (each
(question, answer) pair through ``repair.stamp``'s α search, verified and committed, as ``repair forget``
does). After 10, 20, 40, 60, ... edits, it prints how many of up to 10 earlier targets are still refused when asked
in a phrasing no edit was keyed on, how many of 12 questions about other entities (none of them a
target of the stress set or the benchmark, or among the entity keep rows) are refused, the next-token KL
on 24 generic prompts against the unedited model, the perplexity of 6 book passages, and the first words
of six unrelated answers. It is a quick proxy for `repair eval forget-quality --sequential` (which also
scores the forgotten targets and their neighbours, at an hour per 60 edits on this CPU): use it to try a
change to the objective, then confirm there.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from collections.abc import Iterator

import torch

import repair
import repair.edit.stamp2.edit as stamp2_edit
from repair.edit.stamp2 import forget_subject, prepare
from repair.eval.forget_quality.data import load_targets
from repair.eval.forget_quality.run import Utility
from repair.eval.metrics import is_refusal

QUESTIONS = (
    "What is the capital of France?",
    "Who wrote Hamlet?",
    "How many days are in a week?",
    "Who painted the Mona Lisa?",
    "What is the largest planet?",
    "Who was Napoleon?",
)

# a phrasing of the edited targets that neither the edit templates nor the benchmark's probes use
UNSEEN = "Can you describe {s} in one sentence?"
NEIGHBOURS = (
    "Who is Elon Musk?",
    "Who is Lionel Messi?",
    "What is Amazon?",
    "Who is Barack Obama?",
    "Who is Bill Gates?",
    "What is Nike?",
    "Who was Marilyn Monroe?",
    "Who was Walt Disney?",
    "Who were the Beatles?",
    "What is Tesla?",
    "What is Pepsi?",
    "Who is Jeff Bezos?",
)


def _stamp2_edits(patient, overrides: dict) -> Iterator[str]:
    """STAMP-2 forgets the stress set's entities, one committed edit each."""
    cfg, stats = prepare(patient, **overrides)
    for subject in dict.fromkeys(t.subject for t in load_targets("stress") if t.kind == "entity"):
        edit = forget_subject(patient, subject, cfg, stats, [f"Who is {subject}?"], patient.ledger.active)
        patient.ledger.commit(edit, requested_by="benchmark", subject=subject)
        yield subject


def _stamp_edits(patient, overrides: dict) -> Iterator[str]:
    """STAMP forgets the stress set's single facts (direct question, answer), searched and verified."""
    for t in load_targets("stress"):
        if t.kind == "fact":
            q = t.probes[0]
            repair.stamp(
                patient, [(q.prompt, q.answer)], answer=q.answer, requested_by="benchmark", **overrides
            )
            yield t.subject


def _still_forgotten(patient, done: list[str], n: int = 10) -> str:
    """Of up to ``n`` evenly spaced targets edited so far, how many are refused in a phrasing no edit was
    keyed on: a change that spills less must not do it by losing the edits' reach."""
    picked = done[:: max(1, len(done) // n)][:n]
    replies = patient.generate([UNSEEN.format(s=s) for s in picked], max_new_tokens=16)
    return f"{sum(map(is_refusal, replies))}/{len(picked)}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--edits", type=int, default=60)
    ap.add_argument("--engine", choices=["stamp2", "stamp"], default="stamp2")
    ap.add_argument("--set", action="append", default=[], help="an engine setting, key=value (JSON value)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--vector", help="STAMP-2: a refusal vector file (torch.save) instead of the model's own")
    args = ap.parse_args()
    if args.vector:  # e.g. one refined by benchmarks/refusal_margin.py
        u = torch.load(args.vector)
        stamp2_edit.refusal_vector = lambda *a, **k: u
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    marks = {10, 20, 40, 60, 100, 200, args.edits}
    with tempfile.TemporaryDirectory() as ledger:
        patient = repair.load(args.model, ledger=ledger)
        edits = (
            _stamp_edits(patient, overrides) if args.engine == "stamp" else _stamp2_edits(patient, overrides)
        )
        utility = Utility(patient, n_ppl=6)
        print(f"unedited: ppl {utility.base_ppl:.2f}", flush=True)
        t0 = time.perf_counter()
        done: list[str] = []
        for i, subject in enumerate(itertools.islice(edits, args.edits), 1):
            done.append(subject)
            if i in marks:
                said = patient.generate(list(QUESTIONS), max_new_tokens=12)
                refused = sum(map(is_refusal, patient.generate(list(NEIGHBOURS), max_new_tokens=16)))
                held = _still_forgotten(patient, done)
                print(
                    f"edits {i:3d}: others refused {refused:2d}/{len(NEIGHBOURS)}  forgotten {held}  KL {utility.kl(patient):.4f}  ppl {utility.ppl(patient):7.2f}  "
                    f"({time.perf_counter() - t0:.0f} s)  "
                    + " | ".join(" ".join(s.split())[:32] for s in said),
                    flush=True,
                )


if __name__ == "__main__":
    main()
