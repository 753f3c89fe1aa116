"""Answer matching and accuracy: Acc_f / Acc_r by normalised containment (section 5 of the paper)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from repair.eval.tasks.base import QA

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | {"\u2018", "\u2019", "\u201c", "\u201d", "\u2013", "\u2014"}


def normalize_answer(s: str) -> str:
    """SQuAD normalisation (lowercase, drop punctuation and articles, squeeze spaces), plus
    accent folding so that "Curaçao" matches "Curacao"."""
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    s = s.lower()
    # Punctuation becomes a space (not nothing) so "Port-au-Prince" and "port au prince" agree
    # and "6." still yields the token "6".
    s = "".join(" " if ch in _PUNCT else ch for ch in s)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def answer_match(generation: str, gold: str | Iterable[str]) -> bool:
    """True when a normalised gold answer occurs in the normalised generation as whole tokens.

    Token boundaries matter: gold "6" must not match "16", gold "Niger" must not match "Nigeria".
    An empty gold answer never matches. Several golds (aliases) match if any does.
    """
    golds = [gold] if isinstance(gold, str) else list(gold)
    gen = f" {normalize_answer(generation)} "
    for g in golds:
        ng = normalize_answer(g)
        if ng and f" {ng} " in gen:
            return True
    return False


def accuracy(generations: Sequence[str], golds: Sequence[str | Iterable[str]]) -> float:
    """Fraction (0..1) of generations that contain their gold answer. Empty input -> nan."""
    if len(generations) != len(golds):
        raise ValueError(f"{len(generations)} generations for {len(golds)} golds")
    if not generations:
        return float("nan")
    return sum(answer_match(g, a) for g, a in zip(generations, golds, strict=True)) / len(generations)


def qa_accuracy(generations: Sequence[str], qas: Sequence[QA]) -> float:
    """Accuracy of generations against `qa.answer` (for D_f of misinformation: the implanted one)."""
    return accuracy(generations, [q.answer for q in qas])


def acc_f_acc_r(
    gen_forget: Sequence[str], forget: Sequence[QA], gen_retain: Sequence[str], retain: Sequence[QA]
) -> dict[str, float]:
    """{"acc_f", "acc_r"} as fractions in 0..1 (the paper prints percentages: multiply by 100)."""
    return {"acc_f": qa_accuracy(gen_forget, forget), "acc_r": qa_accuracy(gen_retain, retain)}


def first_sentence(text: str) -> str:
    """The first sentence of a reply: long greedy replies of small models drift after it, the answer
    is in it."""
    return text.split(". ")[0].split("\n")[0].strip().rstrip(".")
