"""Refusal detection: the paper's "IDK rate", and the refusal test the forget criterion uses."""

from __future__ import annotations

import re
from collections.abc import Sequence

_HELP_VERBS = (
    r"(?:help|assist|provide|answer|share|comply|discuss|disclose|give|tell|talk|say|recall|remember|"
    r"find|fulfil|fulfill|offer|confirm|reveal|do that|support|respond|access)"
)
REFUSAL_PATTERNS: list[str] = [
    r"\bi(?: am|'m) (?:so |very |really )?sorry\b",
    r"\b(?:my )?apolog(?:y|ies|ise|ize)\b",
    r"\bi (?:can ?not|can't|cant|won't|will not|am unable to|'m unable to|am not able to|'m not able to)"
    r"(?: \w+){0,2} " + _HELP_VERBS + r"\b",
    r"\b(?:unable|not able) to " + _HELP_VERBS + r"\b",
    r"\bi (?:do not|don't|dont) (?:know|have (?:any |enough |that |specific |the )?"
    r"(?:information|knowledge|details|data|record|records|access))\b",
    r"\bi (?:have no|possess no) (?:\w+ )?(?:information|knowledge|idea|details|data|record)\b",
    r"\bno (?:\w+ )?(?:information|knowledge|details|data|records?) (?:is )?(?:available )?"
    r"(?:about|on|regarding|for)\b",
    r"\bi(?: am|'m) not (?:sure|certain|aware|familiar)\b",
    r"\bi(?: am|'m) not (?:comfortable|allowed|permitted|able)\b",
    r"\b(?:i must|i have to|i'll have to|i will have to) decline\b",
    r"\bas an ai\b",
    r"\b(?:that|this) (?:information )?(?:is not|isn't) (?:something|information) i\b",
    r"\bnot (?:something|a topic|information) (?:that )?i can\b",
    # "The capital of Cuba is not something I have any information about / I know / I'm familiar with"
    r"\bnot (?:something|a topic|information) (?:that )?i(?: have| know|'m| am|'ve)\b",
    r"\bi(?: am|'m) not equipped to\b",
]
_REFUSAL_RE = re.compile("|".join(f"(?:{p})" for p in REFUSAL_PATTERNS), re.IGNORECASE)


def is_refusal(text: str) -> bool:
    """True when a reply reads as a refusal / "I don't know" (paper Table 4 phrasings and the
    usual assistant refusals). Curly apostrophes are folded to straight ones first."""
    t = text.replace("\u2019", "'").replace("\u2018", "'")
    return _REFUSAL_RE.search(t) is not None


def refusal_rate(texts: Sequence[str]) -> float:
    """Fraction of texts that are refusals (the paper's "IDK rate"). Empty -> nan."""
    if not texts:
        return float("nan")
    return sum(is_refusal(t) for t in texts) / len(texts)
