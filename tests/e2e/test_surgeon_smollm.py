"""The surgeon's LLM path on the real default model: a plan generated with the system prompt's cached
prefill is the plan generated without it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_reusing_the_system_prompts_cache_gives_the_same_plan_text(smollm):
    """The surgeon's ~470-token system prompt is prefilled once; later plans copy its KV cache."""
    from repair.agents.prompts import surgeon_messages
    from repair.agents.watchdog import hf_generate_fn

    fresh = hf_generate_fn(smollm.model, smollm.tokenizer, max_new_tokens=24, reuse_system=False)
    reuse = hf_generate_fn(smollm.model, smollm.tokenizer, max_new_tokens=24)
    for prompt, response in [
        ("What is the capital of France?", "The capital of France is Paris."),
        ("Who wrote Hamlet?", "William Shakespeare wrote Hamlet."),
    ]:
        messages = surgeon_messages(prompt, response, n_layers=30)
        assert reuse(messages) == fresh(messages)
