"""Where a subject is named in a chat-templated prompt: the token that ends each mention."""

from __future__ import annotations

import re
from collections.abc import Sequence

from transformers import PreTrainedTokenizerBase

from repair.models.chat import adds_special_tokens, render_chat

_ARTICLE = re.compile(r"^(the|a|an)\s+", re.I)
_PARTICLES = {"van", "von", "de", "da", "der", "del", "la", "le", "di", "du", "bin", "al"}


def bare(subject: str) -> str:
    """The subject without a leading article ("the Taj Mahal" -> "Taj Mahal")."""
    return _ARTICLE.sub("", subject.strip())


def mentions(subject: str) -> list[str]:
    """Names of the subject, longest first: the name itself and, for a person-like name (two to four
    capitalised words, no article), the surname that questions often use alone ("Beethoven")."""
    name = subject.strip()
    out = [name, _ARTICLE.sub("", name)] if _ARTICLE.match(name) else [name]
    words = name.split()
    person = (
        not _ARTICLE.match(name)
        and 2 <= len(words) <= 4
        and all(w[:1].isupper() or w.lower() in _PARTICLES for w in words)
        and words[-1][:1].isupper()
    )
    if person:
        out.append(words[-1])
    return list(dict.fromkeys(out))


def chat_ids(
    tok: PreTrainedTokenizerBase, prompt: str, response: str = "", history: Sequence[dict] = ()
) -> tuple[list[int], list[tuple[int, int]], int, str]:
    """Token ids of the templated prompt (+ response), their character offsets, the prompt length in
    tokens, and the templated prompt text."""
    text = render_chat(tok, [*history, {"role": "user", "content": prompt}])
    special = adds_special_tokens(tok)
    enc = tok(text + response, add_special_tokens=special, return_offsets_mapping=True)
    n_prompt = len(tok(text, add_special_tokens=special)["input_ids"])
    return list(enc["input_ids"]), list(enc["offset_mapping"]), n_prompt, text


def subject_positions(
    tok: PreTrainedTokenizerBase, prompt: str, subject: str, history: Sequence[dict] = ()
) -> list[int]:
    """Positions of the last token of every mention of the subject in the user's prompt (the longest
    name that occurs is used; case-insensitive). Empty when the prompt does not name it."""
    _, offsets, n_prompt, text = chat_ids(tok, prompt, history=history)
    start = text.rfind(prompt)  # only the user's own words, never the history or the template
    ends: list[int] = []
    for name in mentions(subject):
        ends = [start + m.end() for m in re.finditer(rf"\b{re.escape(name)}", prompt, re.I)]
        if ends:
            break
    return sorted({i for e in ends for i, (a, b) in enumerate(offsets[:n_prompt]) if a < e <= b})
