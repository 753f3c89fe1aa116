"""The watchdog's learned pieces together, leave-one-dev-set-out: on each dev set, the rules that had not seen
it (before), and the same rules with the character n-gram intent model and the target ranker, both trained
on the other dev sets (after).

    python benchmarks/watchdog_snapshots.py     # the rules' answers before each set was tuned on (once)
    python benchmarks/watchdog_loo.py [--json results/watchdog/loo.json]

After: a message is a request when the old rules said so or the n-gram model is confident (P >= its
threshold, not a question; the current tree's `plain_question` is left out, as it was tuned on every dev
set); its target is the ranker's pick among the old rules' answer (their resolution even where they said
chat), each history turn and each name in the message. Right target is exact (`target_right`) among all
gold requests, a missed request counting wrong.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import train_watchdog_chargram as cg
import train_watchdog_ranker as rk

from repair.agents.watchdog.ranker import Candidate, TargetRanker
from repair.agents.watchdog_sets import load_set, target_right

ROOT = Path(__file__).resolve().parents[1]
SPLITS = rk.SPLITS


def held_out(split: str, snaps: Path, w_rank: np.ndarray, chargram: tuple[np.ndarray, float], args) -> dict:
    recs = {r["id"]: r for r in json.loads((snaps / f"{split}-before.json").read_text())["records"]}
    ds = load_set(split)  # type: ignore[arg-type]
    p = cg.probs(*chargram, [d.message for d in ds])
    before = {"tp": 0, "fp": 0, "right": 0}
    after = {"tp": 0, "fp": 0, "right": 0}
    for d, pi in zip(ds, p, strict=True):
        r = recs[d.id]
        old = r["pred"] == "unlearn"
        new = old or (pi >= args.threshold and not d.message.rstrip().endswith("?"))
        if d.intent == "chat":
            before["fp"] += old
            after["fp"] += new
            continue
        pairs = rk.pairs_of(d)
        offset = len(d.user_turns) - len(pairs)
        before["tp"] += old
        before["right"] += old and target_right(d, r["target"], [pairs[i - offset] for i in r["turns"]])
        after["tp"] += new
        if new:
            target, turns = (r["target"], r["turns"]) if old else (r["rule_target"], r["rule_turns"])
            rule = Candidate("rule", target, tuple(i - offset for i in turns))
            pick = TargetRanker.from_weights(w_rank, args.margin).choose(d.message, pairs, rule)
            after["right"] += target_right(d, pick.target, [pairs[i] for i in pick.turns])
    n_req = sum(d.intent == "unlearn" for d in ds)
    n_chat = len(ds) - n_req

    def rates(c: dict) -> dict:
        return {"recall": c["tp"] / n_req, "fpr": c["fp"] / n_chat, "target": c["right"] / n_req}

    return {"split": split, "requests": n_req, "chat": n_chat, "before": rates(before), "after": rates(after)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapshots", default=str(ROOT / "results/watchdog/snapshots"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--threshold", type=float, default=0.9, help="the n-gram model's (as shipped)")
    ap.add_argument("--margin", type=float, default=1.0, help="the ranker's (as shipped)")
    args = ap.parse_args()
    snaps = Path(args.snapshots)
    before = {s: rk.examples(s, snaps, "before") for s in SPLITS}
    now = {s: rk.examples(s, snaps, "now") for s in SPLITS}
    gen = rk.generator_examples("watchdog_train.jsonl", 4)
    gen_rows = [
        json.loads(x) for x in (ROOT / "src/repair/data/watchdog_train.jsonl").read_text().splitlines()
    ]
    gen_rows = gen_rows[::3]
    sets = {s: load_set(s) for s in SPLITS}  # type: ignore[arg-type]
    out = []
    print(
        f"{'held out':<8} {'req':>4} {'chat':>4}   recall before -> after   FPR before -> after   target before -> after"
    )
    for s in SPLITS:
        w_rank = rk.fit([e for t in SPLITS if t != s for e in before[t] + now[t]] + gen, 0.01)
        train = [d for t in SPLITS if t != s for d in sets[t]]
        y = np.array(
            [d.intent == "unlearn" for d in train] + [g["label"] == "unlearn" for g in gen_rows], dtype=float
        )
        chargram = cg.fit([d.message for d in train] + [g["message"] for g in gen_rows], y, 16.0)
        m = held_out(s, snaps, w_rank, chargram, args)
        b, a = m["before"], m["after"]
        print(f"{s:<8} {m['requests']:>4} {m['chat']:>4}   {b['recall']:.3f} -> {a['recall']:.3f}"
              f"          {b['fpr']:.3f} -> {a['fpr']:.3f}        {b['target']:.3f} -> {a['target']:.3f}")  # fmt: skip
        out.append(m)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps({"command": "python benchmarks/watchdog_loo.py", "folds": out}, indent=1)
        )


if __name__ == "__main__":
    main()
