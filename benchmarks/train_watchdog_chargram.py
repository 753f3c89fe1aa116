"""Train the watchdog's character n-gram intent model (`repair.agents.watchdog.chargram`) and report it
leave-one-dev-set-out.

    python benchmarks/watchdog_snapshots.py            # the rules' answers before each set was tuned on (once)
    python benchmarks/train_watchdog_chargram.py [--c 16] [--threshold 0.85] [--write]

Data: the messages of the dev sets (requests and chat, every language) and one in `--every` messages of the
generator's training file (`watchdog_train.jsonl`). Logistic regression on the hashed, L2-normalised
character 2-5-grams, fitted by L-BFGS from zero (deterministic), with scikit-learn's objective: the summed
log-loss plus ||w||^2 / (2C), the bias not penalised.

Reported, each dev set held out in turn (model trained on the other five): recall of the rules that had not
seen that set, alone and OR'ed with the model's confident non-question verdicts, and the chat the model adds
as requests on top of the current rules (their false positives stay theirs). `--write` saves the all-sets
model to `src/repair/data/watchdog_chargram.json`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.sparse import csr_matrix

from repair.agents.watchdog.chargram import CHARGRAM_FILE, N_FEATURES, NGRAMS, encode_weights, normalised
from repair.agents.watchdog_sets import load_set

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ["dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7"]


def matrix(texts: list[str]) -> csr_matrix:
    rows, cols, vals = [], [], []
    for r, t in enumerate(texts):
        idx, val = normalised(t)
        rows += [r] * len(idx)
        cols += idx.tolist()
        vals += val.tolist()
    return csr_matrix((vals, (rows, cols)), shape=(len(texts), N_FEATURES))


def fit(texts: list[str], y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    x = matrix(texts)

    def loss(wb: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = wb[:-1], wb[-1]
        z = x @ w + b
        p = 1 / (1 + np.exp(-np.clip(z, -50, 50)))
        ll = np.sum(np.logaddexp(0, z) - y * z)
        g = p - y
        return ll + w @ w / (2 * c), np.append(x.T @ g + w / c, g.sum())

    wb = minimize(loss, np.zeros(N_FEATURES + 1), jac=True, method="L-BFGS-B", options={"maxiter": 2000}).x
    return wb[:-1], float(wb[-1])


def probs(w: np.ndarray, b: float, texts: list[str]) -> np.ndarray:
    return 1 / (1 + np.exp(-(matrix(texts) @ w + b)))


def snapshot(split: str, state: str, snaps: Path) -> dict[str, str]:
    recs = json.loads((snaps / f"{split}-{state}.json").read_text())["records"]
    return {r["id"]: r["pred"] for r in recs}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapshots", default=str(ROOT / "results/watchdog/snapshots"))
    ap.add_argument("--c", type=float, default=16.0)
    ap.add_argument("--threshold", type=float, default=0.85)
    ap.add_argument("--every", type=int, default=3, help="one generator message in this many")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    snaps = Path(args.snapshots)
    sets = {s: load_set(s) for s in SPLITS}  # type: ignore[arg-type]
    gen = [json.loads(x) for x in (ROOT / "src/repair/data/watchdog_train.jsonl").read_text().splitlines()]
    gen = gen[:: args.every]
    gen_x, gen_y = [g["message"] for g in gen], [g["label"] == "unlearn" for g in gen]

    def train(held: str | None) -> tuple[np.ndarray, float]:
        ds = [d for s in SPLITS if s != held for d in sets[s]]
        y = np.array([d.intent == "unlearn" for d in ds] + gen_y, dtype=float)
        return fit([d.message for d in ds] + gen_x, y, args.c)

    print(f"leave-one-dev-set-out (C {args.c}, threshold {args.threshold}, no question)")
    print(
        f"{'held out':<8} {'req':>4} {'chat':>4}  recall before -> +model   chat added to the current rules"
    )
    for s in SPLITS:
        w, b = train(s)
        p = probs(w, b, [d.message for d in sets[s]])
        rescue = {
            d.id
            for d, pi in zip(sets[s], p, strict=True)
            if pi >= args.threshold and not d.message.rstrip().endswith("?")
        }
        before, now = snapshot(s, "before", snaps), snapshot(s, "now", snaps)
        req = [d for d in sets[s] if d.intent == "unlearn"]
        chat = [d for d in sets[s] if d.intent == "chat"]
        r0 = sum(before[d.id] == "unlearn" for d in req) / len(req)
        r1 = sum(before[d.id] == "unlearn" or d.id in rescue for d in req) / len(req)
        added = [d.id for d in chat if now[d.id] == "chat" and d.id in rescue]
        print(
            f"{s:<8} {len(req):>4} {len(chat):>4}  {r0:.3f} -> {r1:.3f}          {len(added)} {' '.join(added)}"
        )
    if args.write:
        w, b = train(None)
        head = {"n_features": N_FEATURES, "ngrams": list(NGRAMS), "b": round(b, 6), "threshold": args.threshold,
                "c": args.c, "every": args.every, "command": "python benchmarks/train_watchdog_chargram.py --write",
                "w": encode_weights(w)}  # fmt: skip
        path = ROOT / "src/repair/data" / CHARGRAM_FILE
        path.write_text(json.dumps(head) + "\n")
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
