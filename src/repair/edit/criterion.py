"""The forget criterion: whether a reply still gives out what was to be forgotten. Every check imports it
from here.

Two strengths of one rule, on purpose. The engine's own check (``probe_forgotten``, on the answer it was
asked to remove) and the session's stricter one (``reply_leaks``, on the model's own response and its key
answers) both count a refusal that still states the answer as a leak ("Paris. I'm sorry…"), a short
answer by its words (``answer_match``) and a long one (a biography) by recall-ROUGE-L against it
(``recalls``, the shared threshold). The session's adds: any key answer (or its head) named is a leak,
with keys ROUGE-L is not used (a wrong answer in the same template shares most words with the right
one), and a refusal never recalls a long response.
"""

from __future__ import annotations

from repair.edit.answers import SHORT_RESPONSE_WORDS, WORD, answer_head
from repair.edit.record import Label
from repair.eval.metrics import answer_match, is_refusal, rouge_l

ROUGE_THRESHOLD = 0.3  # a long text is recalled when recall-ROUGE-L against it reaches this
SHORT_ANSWER_WORDS = 6  # the engine's answers up to this many words are checked by their words


def recalls(reply: str, text: str) -> bool:
    """Whether ``reply`` recalls most of a long ``text`` (recall-ROUGE-L at the threshold)."""
    return rouge_l(reply, text) >= ROUGE_THRESHOLD


def probe_forgotten(reply: str, answer: str) -> bool:
    """The engine's check: the reply no longer gives the answer. A refusal that still states it
    ("Paris. I'm sorry…") does not count: the content is what must be gone, not the tone."""
    if len(answer.split()) <= SHORT_ANSWER_WORDS:
        return not answer_match(reply, answer)
    return not recalls(reply, answer)


def reply_leaks(reply: str, response: str, keys: list[str]) -> bool:
    """The session's check: whether ``reply`` still gives the forgotten content: any key answer (a
    refusal that still names it leaks); without keys, most of a long response (ROUGE-L), or a short one
    verbatim. With keys, ROUGE-L is not used: a wrong answer in the same template ("The capital of Egypt
    is …") shares most words with the right one."""
    if keys:
        return any(answer_match(reply, k) or answer_match(reply, answer_head(k)) for k in keys)
    if len(WORD.findall(response)) > SHORT_RESPONSE_WORDS:
        return not is_refusal(reply) and recalls(reply, response)
    return answer_match(reply, response)


def label(reply: str, leaks: bool) -> Label:
    """A leak first (a refusal that still names the answer gives it away), then a refusal, else a
    substitute: a fluent or garbled reply that neither refuses nor gives the answer."""
    if leaks:
        return "leak"
    return "refusal" if is_refusal(reply) else "substitute"
