"""Validate the forget-quality labeller on the hand-labelled real replies (per-label precision and recall).

    python benchmarks/validate_fq_labeller.py [--file src/repair/data/forget_quality/labelled_replies.jsonl]

The replies were collected by ``benchmarks/collect_fq_replies.py`` and labelled by hand; the labeller's
head never saw them. Prints a confusion matrix and each label's precision and recall (target >= 0.9).
"""

from __future__ import annotations

import argparse
import json
from importlib import resources

from repair.eval.forget_quality.labels import LABELS, label_replies


def load(path: str | None) -> list[dict]:
    text = (
        open(path, encoding="utf-8").read()
        if path
        else resources.files("repair.data").joinpath("forget_quality/labelled_replies.jsonl").read_text()
    )
    return [json.loads(ln) for ln in text.splitlines() if ln.strip()]


def scores(rows: list[dict]) -> dict[str, dict[str, float]]:
    pred = label_replies([r["reply"] for r in rows], [r["keys"] for r in rows], [r["answer"] for r in rows])
    gold = [r["label"] for r in rows]
    out = {}
    for lab in LABELS:
        tp = sum(p == g == lab for p, g in zip(pred, gold, strict=True))
        npred, ngold = pred.count(lab), gold.count(lab)
        out[lab] = {
            "n": ngold,
            "precision": tp / npred if npred else float("nan"),
            "recall": tp / ngold if ngold else float("nan"),
        }
    out["_confusion"] = {
        g: {p: sum(1 for a, b in zip(gold, pred, strict=True) if a == g and b == p) for p in LABELS}
        for g in LABELS
    }
    out["_errors"] = [
        {"gold": g, "pred": p, "reply": r["reply"][:160]}
        for r, g, p in zip(rows, gold, pred, strict=True)
        if g != p
    ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file")
    a = ap.parse_args()
    s = scores(load(a.file))
    for lab in LABELS:
        print(
            f"{lab:14s} n={s[lab]['n']:4d}  precision {s[lab]['precision']:.3f}  recall {s[lab]['recall']:.3f}"
        )
    print("confusion (gold -> predicted):", json.dumps(s["_confusion"]))
    for e in s["_errors"]:
        print(f"  gold {e['gold']:13s} pred {e['pred']:13s} | {e['reply']!r}")


if __name__ == "__main__":
    main()
