"""Train the forget-quality labeller's head (deterministic; scikit-learn's logistic regression).

    python benchmarks/train_fq_labeller.py

Classes: answer (fluent text that is not a refusal), refusal, degenerate. Features: the MiniLM sentence
embedding plus ``labels.text_stats``. Training text is written for this purpose and never a model's reply:
- refusal: the responses of ``repair/data/refusals.jsonl`` and the hand-written refusals of
  ``forget_quality/labeller_train.jsonl``;
- answer: the responses of ``retain.jsonl``, the fluent statements of ``labeller_train.jsonl`` and
  sentences of the offline utility corpora (Python docs, public-domain books);
- degenerate: seeded corruptions of the answer texts (repeated phrases, shuffled words, character soup,
  fragments, glued nonsense words).
The labeller is validated on hand-labelled real replies (``benchmarks/validate_fq_labeller.py``), which
this script never reads. Writes ``src/repair/data/forget_quality/labeller_head.json``.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "repair" / "data" / "forget_quality" / "labeller_head.json"


def sentences(texts: list[str], n: int, rng: random.Random) -> list[str]:
    out = []
    for t in texts:
        out += [s.strip() for s in re.split(r"(?<=[.!?])\s+", t) if 20 <= len(s.strip()) <= 300]
    rng.shuffle(out)
    return out[:n]


def corrupt(text: str, rng: random.Random) -> str:
    words = text.split() or ["the"]
    kind = rng.randrange(6)
    if kind == 0:  # a phrase repeated
        i = rng.randrange(len(words))
        phrase = " ".join(words[i : i + rng.randint(1, 4)])
        return " ".join(words[: rng.randint(0, 5)] + [phrase] * rng.randint(5, 12))
    if kind == 1:  # word salad
        rng.shuffle(words)
        return " ".join(words)
    if kind == 2:  # character soup
        chars = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789.,;:-_/\\|()[]{}#@*&^%$") for _ in range(60))
        return " ".join(chars[i : i + rng.randint(2, 9)] for i in range(0, 60, 7))
    if kind == 3:  # a fragment
        return " ".join(words[: rng.randint(0, 2)]) + rng.choice(["", ",", " the", " of of", " ..."])
    if kind == 4:  # glued nonsense words
        return " ".join("".join(rng.sample(words, min(3, len(words)))) for _ in range(rng.randint(3, 8)))
    # one token stuttered
    w = rng.choice(words)
    return " ".join(words[: rng.randint(0, 6)] + [w] * rng.randint(6, 20))


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    from repair.data import load_pairs
    from repair.eval.forget_quality.labels import HEAD_CLASSES, Head
    from repair.eval.tasks.corpora import utility_corpus

    rng = random.Random(0)
    written = [json.loads(ln) for ln in (OUT.parent / "labeller_train.jsonl").read_text().splitlines() if ln.strip()]
    refusal = [r for _, r in load_pairs("refusals.jsonl")] + [w["text"] for w in written if w["label"] == "refusal"]
    corpus = utility_corpus(None, source="python-docs").texts + utility_corpus(None, source="garak-books").texts
    answer = ([r for _, r in load_pairs("retain.jsonl")] + [w["text"] for w in written if w["label"] == "answer"]
              + sentences(corpus, 600, rng))
    degenerate = [corrupt(t, rng) for t in rng.sample(answer, 500)] + \
        [w["text"] for w in written if w["label"] == "degenerate"]
    texts = answer + refusal + degenerate
    y = np.array([0] * len(answer) + [1] * len(refusal) + [2] * len(degenerate))
    x = Head.features(texts)
    # balanced: the refusal class is the smallest, and its recall is what the benchmark most needs
    clf = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced").fit(x, y)
    head = Head(clf.coef_, clf.intercept_, HEAD_CLASSES)
    acc = (head.proba(texts).argmax(1) == y).mean()
    OUT.write_text(head.to_json() + "\n")
    print(f"{len(answer)} answer, {len(refusal)} refusal, {len(degenerate)} degenerate; train accuracy {acc:.3f}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
