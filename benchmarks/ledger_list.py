"""Wall time of `repair edits list` and `repair edits show` on a ledger folder (no model is loaded; the
process start and imports are most of it).

    python benchmarks/ledger_list.py [--edits 50] [--runs 5]

Writes a ledger of --edits edits (forget keys and text sealed) in a temporary folder, then runs each
command --runs times as a fresh process and prints the median and the slowest run, and whether torch was
imported on the way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from repair.edit.delta import Edit, MapDelta
from repair.edit.ledger.ops import open_store
from repair.edit.ledger.tensors import stage

PROBE = "import sys, runpy; sys.argv = ['repair', *sys.argv[1:]]\ntry:\n    runpy.run_module('repair.cli', run_name='__main__')\nfinally:\n    print('torch imported:', 'torch' in sys.modules, file=sys.stderr)"


def edit(i: int) -> Edit:
    g = torch.Generator().manual_seed(i)
    deltas = [
        MapDelta(layer, "down", b=torch.randn(64, 4, generator=g), a=torch.randn(4, 256, generator=g))
        for layer in range(4)
    ]
    for d in deltas:
        d.keys = torch.randn(16, 256, generator=g)
    return Edit(f"e{i}", deltas, meta={"forget": [[f"question {i}?", f"answer {i}."]], "alpha": 1.0})


def timed(args: list[str], runs: int, env: dict[str, str]) -> tuple[list[float], str]:
    ts, note = [], ""
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env)
        ts.append(time.perf_counter() - t)
        if out.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {out.stderr}")
        note = out.stderr.strip().splitlines()[-1]
    return ts, note


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--edits", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ledger-list-"))
    env = {**os.environ, "REPAIR_HOME": str(tmp / "home"), "COLUMNS": "200"}
    os.environ["REPAIR_HOME"] = env["REPAIR_HOME"]  # the operator key the edits' HMACs use
    store, _ = open_store(tmp / "ledger", "fp")
    with store.write() as conn:
        for i in range(args.edits):
            stage(store, conn, edit(i), fingerprint="fp")
    ledger = ["--ledger", str(tmp / "ledger")]
    for cmd in (["edits", "list"], ["edits", "list", "--reveal"], ["edits", "show", "e0", "--reveal"]):
        ts, note = timed([*cmd, *ledger], args.runs, env)
        print(
            f"repair {' '.join(cmd)} ({args.edits} edits): median {statistics.median(ts):.2f} s, "
            f"max {max(ts):.2f} s over {args.runs} runs; {note}"
        )


if __name__ == "__main__":
    main()
