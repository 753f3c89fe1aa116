"""Pipeline benchmark: a scripted user plays N seeded scenarios against a `repair.Session`.

    python3 -u benchmarks/pipeline.py --n 100 --seed 0 --out results/pipeline > /tmp/pipeline.log 2>&1
    python3 -u benchmarks/pipeline.py --n 100 --seed 0 --out results/pipeline --resume   # after a stop
    python3 -u benchmarks/pipeline.py --n 30 --n-chat 0 --out /tmp/m15 --set alpha_margin=1.5   # any StampConfig field

Prints the paper's Table 3 metrics (valid plan, request detected, request satisfied, IDK rate,
turnaround) plus false positives on chat-only scenarios and retain accuracy; writes
OUT/pipeline.json and OUT/pipeline_scenarios.jsonl. Same as `repair eval pipeline`.
"""

from __future__ import annotations

import argparse
import json

import torch

from repair.edit.stamp import parse_overrides
from repair.eval.pipeline import print_table, run_pipeline
from repair.session.surgeons import SURGEONS


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--n", type=int, default=100, help="unlearning scenarios")
    ap.add_argument("--n-chat", type=int, default=None, help="chat-only scenarios (default n/2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--surgeon", choices=list(SURGEONS), default="rule")
    ap.add_argument("--out", default="results/pipeline")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machine is shared)")
    ap.add_argument(
        "--resume", action="store_true", help="keep the scenarios OUT already holds, play the rest"
    )
    ap.add_argument("--set", nargs="*", default=[], help="StampConfig overrides for every edit, key=value")
    ap.add_argument(
        "--dtype", default="auto", help="patient weights: auto (bfloat16 where native), float32, bfloat16"
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    summary = run_pipeline(
        args.model,
        n=args.n,
        n_chat=args.n_chat,
        seed=args.seed,
        surgeon=args.surgeon,
        out=args.out,
        resume=args.resume,
        stamp_overrides=parse_overrides(args.set) or None,
        dtype=args.dtype,
    )
    print_table(summary)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
