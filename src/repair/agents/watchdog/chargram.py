"""A character n-gram intent model beside the MiniLM classifier (issue 21): reads every language the dev sets
hold, because it needs no tokenizer or vocabulary of one language.

MiniLM is English-only; the rules catch requests in other languages only in the forms written down so far,
and each new dev set showed new ones missed ("Radera allt du vet om X", "Ta bort det felaktiga svaret").
`CharGramModel` scores a message from hashed character 2-5-grams of its words (as scikit-learn's `char_wb`
analyzer cuts them, hashed with CRC-32 into `N_FEATURES` buckets, L2-normalised) with a logistic-regression
head (`repair/data/watchdog_chargram.json`, trained by `benchmarks/train_watchdog_chargram.py` on the dev
sets and generator requests). The cascade counts a message as a request when this model is confident
(P >= `threshold`) and the message is not a question; the rules and the classifier decide the rest.
"""

from __future__ import annotations

import base64
import re
import zlib
from pathlib import Path

import numpy as np

from .weights import data_path, load_head

CHARGRAM_FILE = "watchdog_chargram.json"
N_FEATURES = 2**15
NGRAMS = (2, 5)


def ngram_ids(text: str) -> dict[int, float]:
    """Bucket -> count of the character n-grams of each word, padded with one space on both sides."""
    counts: dict[int, float] = {}
    lo, hi = NGRAMS
    for word in re.split(r"\s+", text.casefold()):
        if not word:
            continue
        w = f" {word} "
        for n in range(lo, hi + 1):
            if n > len(w):
                break
            for i in range(len(w) - n + 1):
                b = zlib.crc32(w[i : i + n].encode("utf-8")) % N_FEATURES
                counts[b] = counts.get(b, 0.0) + 1.0
            if n == len(w):
                break
    return counts


def normalised(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(bucket indices, L2-normalised counts) of a message."""
    counts = ngram_ids(text)
    idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    val = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    norm = np.linalg.norm(val)
    return idx, (val / norm if norm else val)


def encode_weights(w: np.ndarray) -> str:
    return base64.b64encode(w.astype("<f2").tobytes()).decode("ascii")


def decode_weights(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f2").astype(np.float64)


class CharGramModel:
    """P(unlearn | message) from character n-grams; `confident` says whether it alone makes a request."""

    def __init__(self, path: str | Path | None = None) -> None:
        p = Path(path) if path else data_path(CHARGRAM_FILE)
        self.available = p.exists()
        head = load_head(str(p)) if self.available else {}
        if self.available and (
            head.get("n_features") != N_FEATURES or tuple(head.get("ngrams", ())) != NGRAMS
        ):
            raise ValueError(f"{p}: its n-gram hashing does not match this version; retrain it")
        self.w = decode_weights(head["w"]) if self.available else np.zeros(N_FEATURES)
        self.b = float(head.get("b", 0.0))
        self.threshold = float(head.get("threshold", 1.0))

    def prob(self, text: str) -> float:
        idx, val = normalised(text)
        z = float(val @ self.w[idx]) + self.b
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))))

    def confident(self, text: str) -> bool:
        """A request by this model alone: P >= threshold, and not a question ("Can a model forget ...?")."""
        if not self.available or text.rstrip().endswith("?"):
            return False
        return self.prob(text) >= self.threshold
