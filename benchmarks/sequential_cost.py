"""STAMP-2's weight update as edits pile up: each request keeps every earlier edit's keys in place.

    python benchmarks/sequential_cost.py [--edits 150] [--threads 2] [--dense-rows 512] [--fillers]

Forgets the stress set's subjects one after another on SmolLM2 (each edit committed, none scored) and
prints the median weight-update time per stretch of edits (with ``--fillers``, then the model's filler
facts, as a 1,000-edit forget-quality run makes them), with the prior rows each request keeps. Past
``--dense-rows`` prior rows a layer's prior edits are summed into one factorised matrix instead of
entering the solve through Woodbury (``repair.edit.stamp2.keep.DENSE_PRIOR_ROWS``); ``--dense-rows 0``
and a large value time the two forms alone.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

import repair
from repair.edit.stamp2 import forget_subject, keep, prepare
from repair.eval.forget_quality.data import load_targets
from repair.eval.forget_quality.fillers import load_fillers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--edits", type=int, default=150)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--dense-rows", type=int, default=keep.DENSE_PRIOR_ROWS)
    ap.add_argument("--fillers", action="store_true", help="then the filler facts (up to 1,000 edits)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    keep.DENSE_PRIOR_ROWS = args.dense_rows
    subjects = list(dict.fromkeys(t.subject for t in load_targets("stress")))
    questions = {s: f"Who is {s}?" for s in subjects}
    if args.fillers:  # a long run of single facts: the model's filler facts after the stress subjects
        fillers = load_fillers("smollm2-135m-instruct")
        if fillers is None:
            raise SystemExit("no filler facts yet: run benchmarks/make_fq_fillers.py first")
        facts = fillers.facts
        subjects += [f.subject for f in facts]
        questions |= {f.subject: f.prompt for f in facts}
    subjects = (subjects * (args.edits // len(subjects) + 1))[: args.edits]
    with tempfile.TemporaryDirectory() as ledger:
        patient = repair.load("smollm2-135m-instruct", ledger=ledger)
        cfg, stats = prepare(patient)
        times: list[float] = []
        rows: list[int] = []
        for i, subject in enumerate(subjects, 1):
            prior = patient.ledger.active
            rows.append(sum(len(d.keys) for e in prior for d in e.deltas if d.layer == cfg.layers[0]))
            t = time.perf_counter()
            edit = forget_subject(patient, subject, cfg, stats, [questions[subject]], prior)
            times.append(time.perf_counter() - t)
            patient.ledger.commit(edit, requested_by="benchmark", subject=subject)
            if i in (1, 10, 30, 100, 300, 1000) or i == len(subjects):
                lo = max(1, i // 3)
                print(
                    f"edits {lo:4d}-{i:4d}: median weight update {statistics.median(times[lo - 1 : i]):.3f} s, "
                    f"prior rows per layer {rows[lo - 1]}-{rows[i - 1]}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
