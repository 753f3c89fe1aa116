"""The one chat renderer: the text (and token ids) a chat model reads for a conversation.

With a chat template, the tokenizer's own (``apply_chat_template``, the generation header after the last
turn when ``generation_prompt``); its text already holds the special tokens, so it is tokenized without
adding any. Without one (a base model, a tiny test model) the one fallback is a plain question-and-answer
layout, tokenized with the tokenizer's own special tokens (a BOS, where it adds one)::

    {system}\\n\\n            a system turn
    Question: {user}\\n       a user turn
    Answer: {assistant}\\n    an assistant turn
    Answer:                  the generation header

so one user prompt reads ``Question: {prompt}\\nAnswer:``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_PLAIN = {"system": "{}\n\n", "user": "Question: {}\n", "assistant": "Answer: {}\n"}
PLAIN_HEADER = "Answer:"


def has_template(tok: Any) -> bool:
    return bool(getattr(tok, "chat_template", None))


def render_chat(tok: Any, messages: Sequence[dict[str, str]], *, generation_prompt: bool = True) -> str:
    """The conversation as the model reads it (see the module's docstring for the fallback)."""
    if has_template(tok):
        return tok.apply_chat_template(
            list(messages), add_generation_prompt=generation_prompt, tokenize=False
        )
    text = "".join(_PLAIN.get(m["role"], _PLAIN["user"]).format(m["content"]) for m in messages)
    return text + (PLAIN_HEADER if generation_prompt else "")


def adds_special_tokens(tok: Any) -> bool:
    """Whether rendered text is tokenized with the tokenizer's special tokens: only the plain fallback."""
    return not has_template(tok)


def chat_token_ids(
    tok: Any, messages: Sequence[dict[str, str]], *, generation_prompt: bool = True
) -> list[int]:
    """The token ids of ``render_chat``'s text."""
    text = render_chat(tok, messages, generation_prompt=generation_prompt)
    return list(tok(text, add_special_tokens=adds_special_tokens(tok))["input_ids"])
