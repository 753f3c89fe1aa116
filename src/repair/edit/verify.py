"""Check that an edited patient no longer gives out the forgotten content."""

from __future__ import annotations

from typing import Any

from repair.eval.metrics import answer_match, is_refusal, rouge_l

# A long response (a biography, say) counts as gone when little of it is recalled.
ROUGE_THRESHOLD = 0.3
SHORT_ANSWER_WORDS = 6


def probe_forgotten(reply: str, answer: str) -> bool:
    """The reply no longer gives the answer. A refusal that still states it ("Paris. I'm sorry…")
    does not count: the content is what must be gone, not the tone."""
    if len(answer.split()) <= SHORT_ANSWER_WORDS:
        return not answer_match(reply, answer)
    return rouge_l(reply, answer) < ROUGE_THRESHOLD


def forgot(patient, probes: list[str], answer: str, max_new_tokens: int = 32) -> dict[str, Any]:
    replies = patient.generate(probes, max_new_tokens=max_new_tokens)
    per = [
        {"prompt": p, "reply": r, "forgotten": probe_forgotten(r, answer), "refusal": is_refusal(r)}
        for p, r in zip(probes, replies, strict=True)
    ]
    return {
        "forgotten": all(x["forgotten"] for x in per),
        "fraction": sum(x["forgotten"] for x in per) / max(len(per), 1),
        "refusal_rate": sum(x["refusal"] for x in per) / max(len(per), 1),
        "probes": per,
    }
