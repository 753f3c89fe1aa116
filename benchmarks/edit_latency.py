"""Median wall time of one single-sample edit on SmolLM2-135M, split into capture, solve and write.

    python benchmarks/edit_latency.py [--repeats 5] [--threads 1]

"cached": the per-layer keep statistics are in memory (the request path of a running server).
"new process": the first edit after a restart, loading the Cholesky factors (and, for STAMP-LR, the
eigendecompositions) of C_K from the statistics cache on disk. "first ever": the first edit after the
model's C_K has been computed, factorising it (C_K itself takes minutes, once per model, and is not
counted). The fixed-alpha path is timed (no verification
generations), since verification is generation time, not edit time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

import repair
from repair.edit.stats import stats_for

PROMPT, RESPONSE = "What is the capital of France?", "The capital of France is Paris."


def time_edit(patient, **kw) -> dict[str, float]:
    t = time.perf_counter()
    edit = repair.stamp(patient, [(PROMPT, RESPONSE)], alpha=16.0, verify=False, **kw)
    total = time.perf_counter() - t
    patient.ledger.undo(edit.id)
    return {**{k: edit.timings.get(k, 0.0) for k in ("capture", "solve", "write")}, "total": total}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:  # on a shared machine, oversubscribed threads make small forwards 10x slower
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as ledger:
        patient = repair.load(args.model, ledger=ledger)
        for label, kw in [("STAMP", {}), ("STAMP-LR r=256", {"method": "stamp-lr", "rank": 256})]:
            stats = stats_for(patient)
            stats._factors.clear()
            for kind in ("chol", "eig"):  # "first ever": factorise again from the cached C_K
                for f in stats.dir.glob(f"{kind}-{stats._keep_tag}-*.pt"):
                    f.unlink()
            first = time_edit(patient, **kw)
            stats._factors.clear()
            fresh = time_edit(patient, **kw)
            runs = [time_edit(patient, **kw) for _ in range(args.repeats)]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(
                f"{label:16s} first ever {first['total']:.3f} s | new process {fresh['total']:.3f} s | cached "
                "median: " + " ".join(f"{k} {v:.3f} s" for k, v in med.items())
            )
        print(
            f"{'STAMP-2':16s} cached median: total {stamp2_time(patient, args.repeats):.3f} s (Toyota, 5 layers)"
        )


def stamp2_time(patient, repeats: int) -> float:
    """STAMP-2's weight update (keys, solves, MEMIT spread; not applied), refusal vector and factors cached."""
    from repair.edit.stamp2 import forget_subject, prepare

    cfg, stats = prepare(patient)
    forget_subject(patient, "Toyota", cfg, stats)  # warms the caches
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        forget_subject(patient, "Toyota", cfg, stats)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


if __name__ == "__main__":
    main()
