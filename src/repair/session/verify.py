"""The session's forget criterion, stricter than the engine's own check: a probe reply counts as
forgotten only if the answer's key content is absent (a refusal that still names "Paris" does not count)."""

from __future__ import annotations

from typing import Any

from repair.edit.answers import SHORT_RESPONSE_WORDS, WORD, answer_head
from repair.eval.metrics import answer_match, is_refusal, rouge_l

ROUGE_THRESHOLD = 0.3  # long answers (biographies): gone when recall-ROUGE-L against r_f is below this
VERIFY_TOKENS = 32


def reply_leaks(reply: str, response: str, keys: list[str]) -> bool:
    """Whether ``reply`` still gives the forgotten content: any key answer (a refusal that still names
    it leaks); without keys, most of a long response (ROUGE-L), or a short one verbatim. With keys,
    ROUGE-L is not used: a wrong answer in the same template ("The capital of Egypt is …") shares most
    words with the right one."""
    if keys:
        return any(answer_match(reply, k) or answer_match(reply, answer_head(k)) for k in keys)
    if len(WORD.findall(response)) > SHORT_RESPONSE_WORDS:
        return not is_refusal(reply) and rouge_l(reply, response) >= ROUGE_THRESHOLD
    return answer_match(reply, response)


def stated_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (prompt, reply) pairs in which the model stated something: empty replies and refusals hold
    nothing to forget."""
    return [(p, r) for p, r in pairs if r.strip() and not is_refusal(r)]


def score_replies(probes: list[dict[str, Any]], response: str, keys: list[str]) -> dict[str, Any]:
    """Re-score the engine's probe replies with the session's stricter criterion."""
    per = [
        {
            "prompt": p["prompt"],
            "reply": p["reply"],
            "forgotten": not reply_leaks(p["reply"], response, keys),
            "refusal": is_refusal(p["reply"]),
        }
        for p in probes
    ]
    n = max(len(per), 1)
    return {
        "forgotten": bool(per) and all(x["forgotten"] for x in per),
        "fraction": sum(x["forgotten"] for x in per) / n,
        "refusal_rate": sum(x["refusal"] for x in per) / n,
        "keys": keys,
        "probes": per,
    }
