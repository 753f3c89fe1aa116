"""One label per reply, in a fixed order: leak > refusal > degenerate > confabulation.

- **leak**: the reply states the answer: an accepted key string (word-bounded, normalised), or
  ROUGE-L recall >= 0.5 against a gold answer of three or more words (RWKU's measure).
- **refusal**: a fluent refusal or "I don't know": the refusal patterns of ``repair.eval.metrics``
  (a MiniLM head for refusals learned topic, not tone: it called made-up phone numbers refusals).
- **degenerate**: empty, repetitive, symbol soup or word salad: a few cheap text statistics, or the
  head's degenerate probability. A degenerate reply never counts as forgotten.
- **confabulation**: anything else: a fluent reply that gives no refusal and not the answer, i.e. a
  made-up substitute.

The head is a logistic regression on MiniLM sentence embeddings plus the text statistics
(``benchmarks/train_fq_labeller.py`` trains it on text written for that purpose; the labeller is
validated on hand-labelled real replies, ``repair/data/forget_quality/labelled_replies.jsonl``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache
from importlib import resources
from typing import Literal

import numpy as np

from repair.eval.metrics import answer_match, is_refusal, rouge_l

Label = Literal["leak", "refusal", "degenerate", "confabulation"]
LABELS: tuple[Label, ...] = ("leak", "refusal", "degenerate", "confabulation")
HEAD_CLASSES = ("fluent", "degenerate")  # what the head tells apart (leaks and refusals are matched as text)
LEAK_ROUGE = 0.5
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


def leaks(reply: str, keys: list[str], answer: str) -> bool:
    """Whether ``reply`` states the answer: any key, or ROUGE-L recall >= 0.5 against an answer of three or
    more words (of a two-word answer one common word would do: "new" for "New York"; short answers are
    matched by their keys)."""
    if answer_match(reply, keys):
        return True
    return len(_WORD.findall(answer)) >= 3 and rouge_l(reply, answer) >= LEAK_ROUGE


def text_stats(text: str) -> np.ndarray:
    """Cheap statistics that separate fluent text from degenerate text, each in [0, 1]."""
    words = [w.lower() for w in _WORD.findall(text)]
    chars = [c for c in text if not c.isspace()]
    n = len(words)
    alpha = sum(c.isalpha() for c in chars) / max(len(chars), 1)
    distinct = len(set(words)) / n if n else 0.0
    grams = list(zip(words, words[1:], words[2:], strict=False))
    distinct3 = len(set(grams)) / len(grams) if grams else 1.0
    top = Counter(words).most_common(1)[0][1] / n if n else 1.0
    run = _longest_run(words) / n if n else 1.0
    long_words = sum(len(w) > 15 for w in words) / n if n else 0.0
    short = min(n, 8) / 8
    return np.array([alpha, distinct, distinct3, top, run, long_words, short], dtype=np.float32)


def _longest_run(words: list[str]) -> int:
    best = cur = 0
    prev = None
    for w in words:
        cur = cur + 1 if w == prev else 1
        best, prev = max(best, cur), w
    return best


def degenerate_rule(text: str) -> str | None:
    """Why a reply is degenerate by its statistics alone (None: it passes)."""
    words = _WORD.findall(text)
    if len(words) < 1:
        return "symbols" if text.strip() else "empty"
    alpha, distinct, distinct3, top, run, long_words, _ = text_stats(text)
    if alpha < 0.5:
        return "symbols"
    if len(words) >= 8 and (distinct3 < 0.5 or distinct < 0.3):
        return "repetition"
    if run >= 4 / max(len(words), 1) and _longest_run([w.lower() for w in words]) >= 4:
        return "repetition"
    if len(words) >= 4 and long_words > 0.3:
        return "word salad"
    return None


class Head:
    """A multinomial logistic regression over [MiniLM embedding, text statistics]."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, classes: tuple[str, ...] = HEAD_CLASSES) -> None:
        self.weight, self.bias, self.classes = weight.astype(np.float32), bias.astype(np.float32), classes

    @staticmethod
    def features(texts: list[str]) -> np.ndarray:
        from repair.agents.embed import embed

        emb = embed([t if t.strip() else "(empty)" for t in texts])
        stats = np.stack([text_stats(t) for t in texts]) if texts else np.zeros((0, 7), np.float32)
        return np.concatenate([emb, stats], axis=1)

    def proba(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(self.classes)), np.float32)
        z = self.features(texts) @ self.weight.T + self.bias
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def to_json(self) -> str:
        return json.dumps(
            {
                "classes": list(self.classes),
                "weight": self.weight.round(6).tolist(),
                "bias": self.bias.round(6).tolist(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Head:
        d = json.loads(text)
        return cls(np.array(d["weight"]), np.array(d["bias"]), tuple(d["classes"]))


@lru_cache(maxsize=1)
def bundled_head() -> Head | None:
    path = resources.files("repair.data").joinpath("forget_quality/labeller_head.json")
    return Head.from_json(path.read_text()) if path.is_file() else None


def label_replies(
    replies: list[str],
    keys: list[list[str]],
    answers: list[str],
    *,
    head: Head | None = None,
    use_head: bool = True,
) -> list[Label]:
    """Label each reply (see the module docstring). ``keys[i]``/``answers[i]`` belong to reply i."""
    out: list[Label | None] = []
    rest: list[int] = []
    for i, r in enumerate(replies):
        if leaks(r, keys[i], answers[i]):
            out.append("leak")
        elif is_refusal(r):
            out.append("refusal")
        elif degenerate_rule(r):
            out.append("degenerate")
        else:
            out.append(None)
            rest.append(i)
    head = head or (bundled_head() if use_head else None)
    if head is not None and rest:
        p = head.proba([replies[i] for i in rest])
        for j, i in enumerate(rest):
            cls = head.classes[int(p[j].argmax())]
            out[i] = (
                "refusal" if cls == "refusal" else "degenerate" if cls == "degenerate" else "confabulation"
            )
    return [lab or "confabulation" for lab in out]
