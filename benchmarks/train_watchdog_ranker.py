"""Train the watchdog's target ranker (`repair.agents.watchdog.ranker`) and report it leave-one-dev-set-out.

    python benchmarks/watchdog_snapshots.py          # the rules' answers before each set was tuned on (once)
    python benchmarks/train_watchdog_ranker.py [--snapshots results/watchdog/snapshots] [--write]

Training data: the current rules' answers on the other sets (so the ranker learns when they are right), and every request of dev..dev7 that the rule state *before* that set's tuning detected, with that
state's answer as the rules' candidate (so the rules' real mistakes on unseen text are in the data; the
current rules read 1.000 on every dev set and would teach the ranker nothing). The model is a linear
conditional logit over the candidates of a request, fitted by L-BFGS (L2 `--l2`, deterministic: no sampling,
zero start), maximising the log of the summed probability of the right candidates.

Reported, each held-out set in turn: the right-target rate of the rules that had not seen it, alone and with
a ranker trained on the other dev sets; then the ranker trained on all of them on top of the current rules
(in-sample for the rules). `--write` saves the all-sets weights to `src/repair/data/watchdog_ranker.json`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from repair.agents.watchdog import RuleExtractor, content_tokens, turn_pairs
from repair.agents.watchdog.ranker import (
    FEATURES,
    RANKER_FILE,
    Candidate,
    candidates,
    choosable,
    features,
    same_answer,
)
from repair.agents.watchdog_sets import Dialogue, load_set, norm_name, target_right

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ["dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7"]


def pairs_of(d: Dialogue) -> list[tuple[str, str]]:
    h = d.history
    return [(h[i].content, h[i + 1].content) for i in range(0, len(h) - 1, 2)][-4:]


def right(d: Dialogue, c: Candidate) -> bool:
    pairs = pairs_of(d)
    return target_right(d, c.target, [pairs[i] for i in c.turns])


def examples(split: str, snapshots: Path, state: str) -> list[dict]:
    """One example per gold request: its candidates' features and labels (none when the rules missed it)."""
    recs = {r["id"]: r for r in json.loads((snapshots / f"{split}-{state}.json").read_text())["records"]}
    out = []
    for d in load_set(split):  # type: ignore[arg-type]
        if d.intent != "unlearn":
            continue
        r = recs[d.id]
        if r["pred"] != "unlearn":
            out.append({"id": d.id, "detected": False})
            continue
        pairs = pairs_of(d)
        offset = len(d.user_turns) - len(pairs)
        rule = Candidate("rule", r["target"], tuple(i - offset for i in r["turns"]))
        cands = candidates(d.message, pairs, rule)
        y = np.array([right(d, c) for c in cands], dtype=float)
        same = [same_answer(c, rule) for c in cands]
        out.append(
            {
                "id": d.id,
                "detected": True,
                "x": features(d.message, pairs, cands),
                "y": y,
                "same": same,
                "choosable": [choosable(c) for c in cands],
            }  # fmt: skip
        )
    return out


def generator_examples(name: str, every: int) -> list[dict]:
    """Requests of the generator's files (`make_watchdog_data.py`), resolved by the current rules: there the
    rules are right nearly always, and a history turn that does not name the subject is not the target."""
    rules = RuleExtractor()
    rows = [json.loads(x) for x in (ROOT / "src/repair/data" / name).read_text().splitlines() if x.strip()]
    out = []
    for r in [r for r in rows if r["label"] == "unlearn"][::every]:
        pairs = turn_pairs(r["history"], 4)
        res = rules.resolve(r["message"], pairs)
        rule = Candidate("rule", res.target, tuple(i for i, p in enumerate(pairs) if p in res.pairs))
        want = content_tokens(r["target"])
        gold = {i for i, (u, a) in enumerate(pairs) if want and want <= content_tokens(u + " " + a)}
        gold = gold if r["source"] == "history" else set()
        cands = candidates(r["message"], pairs, rule)
        y = [
            (bool(gold) and set(c.turns) == gold)
            or (set(c.turns) <= gold and norm_name(c.target) == norm_name(r["target"]))
            for c in cands
        ]
        x = features(r["message"], pairs, cands)
        out.append(
            {
                "id": r["id"],
                "detected": True,
                "x": x,
                "y": np.array(y, dtype=float),
                "same": [same_answer(c, rule) for c in cands],
                "choosable": [choosable(c) for c in cands],
            }
        )
    return out


def fit(data: list[dict], l2: float) -> np.ndarray:
    train = [e for e in data if e["detected"] and e["y"].any()]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = l2 * w @ w, 2 * l2 * w
        for e in train:
            s = e["x"] @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            pos = p * e["y"]
            total -= np.log(pos.sum())
            q = pos / pos.sum()  # d(-log sum_pos p)/ds = p - q
            grad += e["x"].T @ (p - q)
        return total / len(train), grad / len(train)

    w0 = np.zeros(len(FEATURES))
    return minimize(loss, w0, jac=True, method="L-BFGS-B", options={"maxiter": 500}).x


def rate(data: list[dict], w: np.ndarray | None, margin: float = 0.0) -> tuple[float, int]:
    """Right targets among all gold requests (a miss counts wrong), and how many answers the ranker changed
    (another subject, or other turns)."""
    ok, changed = 0, 0
    for e in data:
        if not e["detected"]:
            continue
        pick = 0
        if w is not None:
            s = np.where(e["choosable"], e["x"] @ w, -np.inf)
            best = int(np.argmax(s))
            pick = best if s[best] > s[0] + margin else 0
        pick = 0 if e["same"][pick] else pick  # the rules' own answer, found again
        changed += pick != 0
        ok += bool(e["y"][pick])
    return ok / len(data), changed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapshots", default=str(ROOT / "results/watchdog/snapshots"))
    ap.add_argument("--l2", type=float, default=0.01)
    ap.add_argument(
        "--margin", type=float, default=1.0, help="how far another candidate must outscore the rules"
    )
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--every", type=int, default=4, help="one generator request in this many (0: none)")
    ap.add_argument(
        "--before-only",
        action="store_true",
        help="train on the old rule states only, not the current rules too",
    )
    args = ap.parse_args()
    snaps = Path(args.snapshots)
    before = {s: examples(s, snaps, "before") for s in SPLITS}
    now = {s: examples(s, snaps, "now") for s in SPLITS}
    extra = {s: [] for s in SPLITS} if args.before_only else now
    gen = generator_examples("watchdog_train.jsonl", args.every) if args.every else []
    held = generator_examples("watchdog_heldout.jsonl", 1)
    print(
        f"leave-one-dev-set-out, rules that had not seen the held-out set (l2 {args.l2}, margin {args.margin})"
    )
    print(f"{'held out':<8} {'requests':>8}  rules  +ranker  changed")
    for s in SPLITS:
        w = fit([e for t in SPLITS if t != s for e in before[t] + extra[t]] + gen, args.l2)
        r0, _ = rate(before[s], None)
        r1, n = rate(before[s], w, args.margin)
        print(f"{s:<8} {len(before[s]):>8}  {r0:.3f}  {r1:.3f}   {n:>5}")
    print(
        "\nleave-one-dev-set-out, current rules (in-sample for the rules: what the ranker breaks where they are right)"
    )
    for s in SPLITS:
        w = fit([e for t in SPLITS if t != s for e in before[t] + extra[t]] + gen, args.l2)
        r0, _ = rate(now[s], None)
        r1, n = rate(now[s], w, args.margin)
        print(f"{s:<8} {len(now[s]):>8}  {r0:.3f}  {r1:.3f}   {n:>5}")
    w = fit([e for t in SPLITS for e in before[t] + extra[t]] + gen, args.l2)
    print("\nall dev sets, current rules (in-sample for the rules), ranker trained on all of them")
    for s in SPLITS:
        r0, _ = rate(now[s], None)
        r1, n = rate(now[s], w, args.margin)
        print(f"{s:<8} {len(now[s]):>8}  {r0:.3f}  {r1:.3f}   {n:>5}")
    r0, _ = rate(held, None)
    r1, n = rate(held, w, args.margin)
    print(f"{'generator held-out (watchdog_heldout.jsonl)':<8} {len(held):>8}  {r0:.3f}  {r1:.3f}   {n:>5}")
    if args.write:
        path = ROOT / "src/repair/data" / RANKER_FILE
        head = {"features": FEATURES, "w": [round(float(v), 6) for v in w], "margin": args.margin,
                "l2": args.l2, "command": "python benchmarks/train_watchdog_ranker.py --write"}  # fmt: skip
        path.write_text(json.dumps(head, indent=1) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
