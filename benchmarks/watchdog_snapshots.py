"""The watchdog's answers on each hand-written dev set from the rule state *before* that set was used for
tuning (its honest, out-of-sample answers), and from the current tree; training data for the target ranker.

    python benchmarks/watchdog_snapshots.py [--out results/watchdog/snapshots] [--only dev6] [--now-only]

Each dev set was written once the rules read 1.000 on the earlier ones, committed, scored, then used to tune
the rules. The commit that registered a set (or the one before the first rule change it caused) is the rule
state that had not seen it; `STATES` lists them. For each, a detached `git worktree` of that commit is made in
a temporary folder and its `Watchdog(k=4)` (fast path, no LLM) reads the set (loaded from this tree); the
current tree's answers are written too (`<split>-now.json`). One JSON per (split, state): the records
(id, gold and predicted intent, target, history turns taken, and the rules' target and turns even where the
watchdog said chat, for requests another detector finds). ~1 minute per state.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# split -> the commit whose rules had not yet been tuned on it (see the git log of src/repair/agents/watchdog)
STATES = {
    "dev": "a3f0bda",  # the v2 sets committed, before any issue-21 rule
    "dev2": "b1add94",  # dev2 committed, rules tuned on dev only
    "dev3": "cba7c08",
    "dev4": "48c287b",
    "dev5": "5b570f5",
    "dev6": "533abb1",  # dev6 registered and scored before any change for it
    "dev7": "89f10e9",  # dev7 scored once (session 25), nothing tuned on it yet
}

_RUNNER = r"""
import json, sys
src, here, splits, outdir, label = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4], sys.argv[5]
sys.path.insert(0, here)
from repair.agents.watchdog_sets import load_set, predicted_turns
sets = {s: load_set(s) for s in splits}
for k in [m for m in sys.modules if m == "repair" or m.startswith("repair.")]:
    del sys.modules[k]
sys.path.insert(0, src)
import torch
torch.set_num_threads(1)
import repair
assert repair.__file__.startswith(src), repair.__file__
from repair.agents.watchdog import Watchdog, turn_pairs
try:
    wd = Watchdog(k=4, rerank=False)  # the rules' own answer, not the target ranker's (trained on these)
except TypeError:  # a rule state from before the ranker
    wd = Watchdog(k=4)
for split, ds in sets.items():
    recs = []
    for d in ds:
        history = [m.model_dump() for m in d.history]
        v = wd.inspect(history, d.message)
        res = wd.rules.resolve(d.message, turn_pairs(history, 4))  # what the rules would take, even for chat
        recs.append({"id": d.id, "gold": d.intent, "pred": v.intent, "target": v.target,
                     "turns": sorted(predicted_turns(d, v.pairs)), "rule_target": res.target,
                     "rule_turns": sorted(predicted_turns(d, res.pairs))})
    with open(f"{outdir}/{split}-{label}.json", "w") as f:
        json.dump({"split": split, "state": label, "records": recs}, f, indent=1, ensure_ascii=False)
    print(split, label, len(recs), flush=True)
"""


def run_state(src: Path, splits: list[str], out: Path, label: str) -> None:
    here = str(ROOT / "src")
    subprocess.run(
        [sys.executable, "-c", _RUNNER, str(src), here, ",".join(splits), str(out), label],
        check=True,
        cwd=ROOT,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "results/watchdog/snapshots"))
    ap.add_argument("--only", default=None, help="one split (default: all, and the current tree on each)")
    ap.add_argument(
        "--now-only",
        action="store_true",
        help="only the current tree's answers (<split>-now.json), the old states' files left as they are",
    )
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = [args.only] if args.only else list(STATES)
    with tempfile.TemporaryDirectory() as tmp:
        for split in [] if args.now_only else splits:
            wt = Path(tmp) / split
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(wt), STATES[split]], cwd=ROOT, check=True
            )
            try:
                run_state(wt / "src", [split], out, "before")
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(wt)], cwd=ROOT, check=True)
    run_state(ROOT / "src", splits, out, "now")


if __name__ == "__main__":
    main()
