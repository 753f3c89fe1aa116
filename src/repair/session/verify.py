"""The session's forget criterion, stricter than the engine's own check: a probe reply counts as
forgotten only if the answer's key content is absent (a refusal that still names "Paris" does not count)."""

from __future__ import annotations

from repair.edit.answers import SHORT_RESPONSE_WORDS, WORD, answer_head
from repair.edit.record import ProbeCheck, Verification
from repair.edit.verify import label
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


def score_replies(replies: list[tuple[str, str]], response: str, keys: list[str]) -> Verification:
    """Score the (prompt, reply) pairs of a check with the session's stricter criterion."""
    return Verification.of(
        [ProbeCheck(prompt=p, reply=r, label=label(r, reply_leaks(r, response, keys))) for p, r in replies],
        keys=keys,
    )
