"""Tune the training baselines for single requests on the forget-quality dev split, with one budget.

    python benchmarks/tune_baselines.py [--methods ga,npo,wga,asu,flat,rmu] [--lrs 1e-5,3e-5,1e-4]
        [--entities 3 --facts 3] [--threads 2] [--write]

Each baseline gets the same budget: three learning rates, the same dev targets (the first
``--entities`` entity and ``--facts`` fact targets SmolLM2 knows, in file order), its own config's
defaults for everything else (two epochs over the request's pairs; RMU its 150 steps). The grid is
1e-5, 3e-5, 1e-4 (AdamW moves every weight by about lr a step, and two steps at 1e-4 already break
GA's neighbours on SmolLM2); RMU, which trains three down maps only, moves nothing below 1e-4 in its
150 steps (``RmuConfig``'s docstring), so its grid is 1e-4, 3e-4, 1e-3. A run is the
benchmark itself (``run_method``: the request the chat would make, greedy 48-token replies, the same
labeller), without the utility columns. The score, fixed before any run:

    score = (1 - leak - degenerate) x neighbours kept

the share of probes whose reply no longer gives the answer and is still text, times the share of
neighbours still answered right and fluently. Ties go to the smaller learning rate. ``--write`` freezes
each method's best value in ``src/repair/eval/forget_quality/hparams/<method>/<model>.yaml``, which
``repair eval forget-quality`` reads under ``--set``. The test split is never read here.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import repair
from repair.eval.forget_quality.bench import BenchConfig, run_method, selected
from repair.eval.forget_quality.run import read_records, summarize
from repair.eval.forget_quality.tuned import HPARAMS
from repair.eval.unlearners import make_unlearner

GRIDS = {"*": [1e-5, 3e-5, 1e-4], "rmu": [1e-4, 3e-4, 1e-3]}


def run_one(patient, method: str, lr: float, args) -> dict:
    """One (method, lr) on the dev sample: its summary over both kinds."""
    records = []
    for kind, n in (("entity", args.entities), ("fact", args.facts)):
        if not n:
            continue
        cfg = BenchConfig(
            model=args.model,
            method=method,
            split="dev",
            kinds=(kind,),
            limit=n,
            out=str(Path(args.out) / kind),
            utility=False,
            settings={"lr": lr},
        )
        run_method(patient, cfg, make_unlearner(method, lr=lr))
        records += read_records(cfg.run_dir() / "records.jsonl")
    s = summarize(records)
    o = s["overall"]
    score = (1 - o["leak"] - o["degenerate"]) * (o["neighbours_kept"] or 0.0)
    return {"lr": lr, "score": round(score, 4), "targets": s["targets"], **o}


def write_yaml(method: str, model: str, best: dict, rows: list[dict], lrs: list[float]) -> Path:
    path = HPARAMS / method / f"{model}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    tried = ", ".join(f"{r['lr']:g}: {r['score']:.3f}" for r in rows)
    path.write_text(
        f"# {method} on {model}, for single requests (the forget-quality benchmark). Tuned on the dev\n"
        f"# split only by benchmarks/tune_baselines.py: lr grid {', '.join(f'{x:g}' for x in lrs)}, "
        f"{best['targets']} dev targets,\n"
        "# score (1 - leak - degenerate) x neighbours kept. Scores per lr: "
        f"{tried}.\nlr: {best['lr']:g}\n",
        encoding="utf-8",
    )
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--methods", default="ga,npo,wga,asu,flat,rmu")
    ap.add_argument("--lrs", default=None, help="one grid for every method (default: GRIDS)")
    ap.add_argument("--entities", type=int, default=3)
    ap.add_argument("--facts", type=int, default=3)
    ap.add_argument("--out", default="results/tune-baselines")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--write", action="store_true", help="freeze each method's best lr in its hparams file")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    patient = repair.load(args.model, dtype="float32", ledger=False)
    probe = BenchConfig(model=args.model, split="dev", kinds=("entity",), limit=args.entities)
    print(f"dev targets: {[t.id for t in selected(probe)[0]]} + the first {args.facts} facts")
    table = {}
    for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
        rows = []
        lrs = [float(x) for x in args.lrs.split(",")] if args.lrs else GRIDS.get(method, GRIDS["*"])
        for lr in lrs:
            t = time.perf_counter()
            rows.append(run_one(patient, method, lr, args))
            r = rows[-1]
            print(
                f"{method:5s} lr {lr:<7g} score {r['score']:.3f}  leak {r['leak']:.3f}  refusal "
                f"{r['refusal']:.3f}  confab {r['confabulation']:.3f}  degenerate {r['degenerate']:.3f}  "
                f"kept {r['neighbours_kept']}  ({time.perf_counter() - t:.0f} s)",
                flush=True,
            )
        best = max(rows, key=lambda r: (r["score"], -r["lr"]))
        table[method] = {"best_lr": best["lr"], "rows": rows}
        if args.write:
            print(f"  -> {write_yaml(method, args.model, best, rows, lrs)}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "tuning.json").write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
