"""One function renders chats (issue 24): `repair.models.chat`. On a tokenizer with a chat template every
caller gives the token ids it gave before (the old code is inlined here as the reference, on the default
model's tokenizer); without one, every caller uses the one plain fallback."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from repair.edit.capture import encode, template_prefix
from repair.edit.patient import Patient
from repair.edit.stamp2.subject import chat_ids
from repair.eval.baselines.common import encode_pair
from repair.eval.metrics import format_prompts
from repair.models.chat import chat_token_ids, render_chat

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "user", "content": "Who wrote Hamlet?"},
        {"role": "assistant", "content": "William Shakespeare wrote Hamlet."},
        {"role": "user", "content": "Forget that, please — and Ünïcode too."},
    ],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi!"}],
]


def _old_ids(tok, msgs, **kw) -> list[int]:
    out = tok.apply_chat_template(msgs, tokenize=True, **kw)
    return list(out["input_ids"] if isinstance(out, dict) or hasattr(out, "input_ids") else out)


@pytest.mark.parametrize("msgs", CONVERSATIONS)
def test_templated_ids_are_the_old_ones(tok, msgs):
    old_text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert Patient.chat_text(SimpleNamespace(tokenizer=tok), msgs) == old_text == render_chat(tok, msgs)
    # capture._template, verify.still_answers, the CLI's length check, the watchdog LLM's prompt
    assert chat_token_ids(tok, msgs) == _old_ids(tok, msgs, add_generation_prompt=True)
    assert chat_token_ids(tok, msgs) == tok(old_text, add_special_tokens=False)["input_ids"]
    # the watchdog LLM's cached system turn
    head = tok.apply_chat_template(msgs[:1], tokenize=True, return_dict=True)["input_ids"]
    assert chat_token_ids(tok, msgs[:1], generation_prompt=False) == list(head)


def test_templated_callers_are_unchanged(tok):
    prompt, response = "Who is Marie Curie?", "Marie Curie was a physicist."
    msgs = [{"role": "user", "content": prompt}]
    old_text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    old_full = tok.apply_chat_template([*msgs, {"role": "assistant", "content": response}], tokenize=False)
    # STAMP-2's subject rows
    ids, offsets, n_prompt, text = chat_ids(tok, prompt, response)
    old = tok(old_text + response, add_special_tokens=False, return_offsets_mapping=True)
    assert (ids, offsets, text) == (old["input_ids"], old["offset_mapping"], old_text)
    assert n_prompt == len(tok(old_text, add_special_tokens=False)["input_ids"])
    # STAMP's rows (with and without a system prompt)
    for system in (None, "You are terse."):
        sys_msgs = ([{"role": "system", "content": system}] if system else []) + msgs
        p = _old_ids(tok, sys_msgs, add_generation_prompt=True)
        r = tok(response, add_special_tokens=False)["input_ids"]
        assert encode(tok, prompt, response, system).ids == p + r
        assert template_prefix(tok, system) == p[: len(template_prefix(tok, system))]
    # the baselines' training pairs and the metrics' chat prompts
    enc = encode_pair(tok, prompt, response, max_length=128)
    want = tok(old_text, add_special_tokens=False)["input_ids"]
    want = want + tok(old_full[len(old_text) :], add_special_tokens=False)["input_ids"]
    assert enc.input_ids == want
    assert format_prompts(tok, [prompt], chat=True) == ([old_text], False)


def test_without_a_template_every_caller_uses_the_one_fallback(tok):
    plain = copy.deepcopy(tok)
    plain.chat_template = None
    prompt = "What colour is the sky?"
    msgs = [{"role": "user", "content": prompt}]
    text = "Question: What colour is the sky?\nAnswer:"
    assert Patient.chat_text(SimpleNamespace(tokenizer=plain), msgs) == text
    assert chat_ids(plain, prompt)[3] == text
    assert format_prompts(plain, [prompt], chat=True) == ([text], True)
    assert encode(plain, prompt).ids == plain(text)["input_ids"]
    assert render_chat(plain, [{"role": "system", "content": "Be brief."}, *msgs]) == "Be brief.\n\n" + text
    history = [*msgs, {"role": "assistant", "content": "Blue."}, {"role": "user", "content": "And at night?"}]
    assert (
        render_chat(plain, history) == f"Question: {prompt}\nAnswer: Blue.\nQuestion: And at night?\nAnswer:"
    )
