"""The surgeons a session can plan with, by name: the deterministic rules (fast) or an LLM."""

from __future__ import annotations

from collections.abc import Callable

from repair.agents.surgeon import Surgeon


def llm_surgeon(
    model: str = "qwen2.5-coder-0.5b-instruct", max_new_tokens: int = 200, dtype: str | None = "auto"
) -> Surgeon:
    """The LLM surgeon over a bundled Qwen2.5-Coder (the paper's surgeon family); slower than the rules.
    ``dtype`` "auto": bfloat16 where native (its plan decodes about twice as fast on a CPU)."""
    import repair
    from repair.agents.watchdog import hf_generate_fn

    llm = repair.load(model, ledger=False, dtype=dtype)
    return Surgeon(generate_fn=hf_generate_fn(llm.model, llm.tokenizer, max_new_tokens=max_new_tokens))


SurgeonFactory = Callable[..., Surgeon]
SURGEONS: dict[str, SurgeonFactory] = {"rule": lambda dtype=None: Surgeon(), "llm": llm_surgeon}


def make_surgeon(name: str, dtype: str | None = "auto") -> Surgeon:
    """A surgeon by name ("rule" or "llm"); the LLM surgeon loads its model in ``dtype``, so that a
    run with ``--dtype float32`` keeps both models in float32."""
    if name not in SURGEONS:
        raise ValueError(f"unknown surgeon {name!r} ({' or '.join(SURGEONS)})")
    return SURGEONS[name](dtype=dtype)
