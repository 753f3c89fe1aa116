"""The optional LLM extractor: its prompt, the parser of its JSON answer, and two `generate_fn` backends."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from pydantic import ValidationError

from repair.models.chat import chat_token_ids

from .schema import Extraction, GenerateFn

EXTRACTOR_SYSTEM = """You are the watchdog of a chat assistant that can edit its own weights to forget things. Read the user's NEWEST message, in any language, and answer with one JSON object.
"unlearn": the message asks the assistant to forget, unlearn, erase, delete or remove something from the assistant's OWN memory or knowledge: a person, a business, a fact, personal data, or an earlier answer. Formal erasure requests (GDPR Article 17, CCPA), a user who names themselves and asks to be forgotten, and "that answer is wrong, remove it" are "unlearn".
"chat": everything else: questions (also about people, about GDPR or about unlearning), the user forgetting something, deleting files, accounts, messages or a browser history, editing a text, list or recipe, and "never mind, forget it".
"target": the name or thing to forget (the user's own name when they give it), or null. "turn": the number of the history turn the message points at ("that", "this answer"), or null.
Examples:
Newest message: Please forget everything you know about Ada Byron. -> {"intent": "unlearn", "target": "Ada Byron", "turn": null}
Newest message: Je m'appelle Paul Martin, efface tout ce que tu sais sur moi. -> {"intent": "unlearn", "target": "Paul Martin", "turn": null}
History: [1] user: What is Tom's email? [1] assistant: tom@example.com. Newest message: Lösch diese Adresse aus deinem Wissen. -> {"intent": "unlearn", "target": null, "turn": 1}
Newest message: Conforme o artigo 17 do RGPD, peço o apagamento dos meus dados. Nome: Ana Lopes. -> {"intent": "unlearn", "target": "Ana Lopes", "turn": null}
Newest message: Who was Ada Byron? -> {"intent": "chat", "target": null, "turn": null}
Newest message: Olvídalo, da igual. -> {"intent": "chat", "target": null, "turn": null}
Newest message: Ich vergesse immer meine Brille. -> {"intent": "chat", "target": null, "turn": null}
Newest message: Come cancello il mio account? -> {"intent": "chat", "target": null, "turn": null}
Answer with the JSON object only: {"intent": "chat" or "unlearn", "target": string or null, "turn": integer or null}"""


def extractor_messages(pairs: list[tuple[str, str]], message: str) -> list[dict]:
    lines = []
    for i, (u, a) in enumerate(pairs, 1):
        lines += [f"[{i}] user: {u}", f"[{i}] assistant: {a}"]
    hist = "\n".join(lines) if lines else "(no earlier turns)"
    return [
        {"role": "system", "content": EXTRACTOR_SYSTEM},
        {"role": "user", "content": f"History:\n{hist}\n\nNewest message: {message}\n\nJSON:"},
    ]


def parse_extraction(text: str, n_turns: int) -> Extraction:
    """Parse and validate the LLM's answer; raises ValueError with a reason the LLM can act on."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object found")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON: {e.msg}") from e
    try:
        ext = Extraction.model_validate(data)
    except ValidationError as e:
        raise ValueError(f"schema: {e.errors()[0]['msg']}") from e
    if ext.turn is not None and not 1 <= ext.turn <= n_turns:
        raise ValueError(f"turn must be between 1 and {n_turns} or null")
    return ext


def openai_generate_fn(
    url: str, model: str, api_key: str | None = None, timeout: float = 60.0, max_tokens: int = 200
) -> GenerateFn:
    """A `generate_fn` backed by an OpenAI-compatible chat-completions endpoint.

    `url` is the API base (e.g. http://127.0.0.1:8000/v1) or the full .../chat/completions address.
    """
    endpoint = url.rstrip("/")
    if not endpoint.endswith("/chat/completions"):
        endpoint += "/chat/completions"

    def generate(messages: list[dict]) -> str:
        body = json.dumps(
            {"model": model, "messages": messages, "temperature": 0, "max_tokens": max_tokens}
        ).encode()
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        req = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data = json.loads(resp.read())
        return data["choices"][0]["message"]["content"] or ""

    return generate


def hf_generate_fn(
    model: Any, tokenizer: Any, max_new_tokens: int = 64, *, reuse_system: bool = True
) -> GenerateFn:
    """A `generate_fn` over a local Hugging Face chat model (e.g. the bundled Qwen2.5-Coder), greedy.

    ``reuse_system``: the system prompt's KV cache is computed once and copied into each call (the
    surgeon's system prompt is ~470 tokens, whose prefill on a 2-core CPU is seconds per plan). The
    tokens generated are the same: only the prefill of an identical prefix is skipped."""
    import copy

    prefixes: dict[tuple[int, ...], Any] = {}

    def system_cache(messages: list[dict], ids: Any) -> Any:
        import torch
        from transformers import DynamicCache

        if not reuse_system or not messages or messages[0].get("role") != "system":
            return None
        head = chat_token_ids(tokenizer, messages[:1], generation_prompt=False)
        key = tuple(int(t) for t in head)
        n = len(key)
        if n >= ids.shape[1] or tuple(ids[0, :n].tolist()) != key:
            return None  # the template renders the system turn differently inside a conversation
        if key not in prefixes:
            cache = DynamicCache()
            with torch.inference_mode():
                from repair.models.decoding import cache_kw

                model(input_ids=ids[:, :n], use_cache=True, **cache_kw(model, cache))
            prefixes[key] = cache
        return copy.deepcopy(prefixes[key])

    def generate(messages: list[dict]) -> str:
        import torch

        from repair.models.decoding import greedy

        ids = torch.tensor([chat_token_ids(tokenizer, messages)], device=model.device)
        cache = system_cache(messages, ids)
        with torch.inference_mode():  # the project's one greedy decoder, after the cached system turn
            out = greedy(
                model, tokenizer, ids, torch.ones_like(ids), max_new_tokens=max_new_tokens, prefix=cache
            )
        return tokenizer.decode(out[0], skip_special_tokens=True)

    return generate


DEFAULT_LLM = "qwen2.5-coder-0.5b-instruct"


def lazy_generate_fn(
    model: str = DEFAULT_LLM, max_new_tokens: int = 48, dtype: str | None = "auto"
) -> GenerateFn:
    """A `generate_fn` over a bundled model (default the Qwen2.5-Coder-0.5B) that loads it on first use.

    Nothing is loaded until the watchdog first needs the LLM (a non-English or unsure turn). A model
    that is not installed raises inside the call; the watchdog then falls back to its rules, so a
    user without the model still gets the fast path."""
    state: dict[str, Any] = {}

    def generate(messages: list[dict]) -> str:
        if "fn" not in state:
            if "error" in state:
                raise RuntimeError(state["error"])
            try:
                import repair

                llm = repair.load(model, ledger=False, dtype=dtype)
            except Exception as e:  # not installed, no memory: remembered, so one failed load only
                state["error"] = f"could not load {model}: {e}"
                raise RuntimeError(state["error"]) from e
            state["fn"] = hf_generate_fn(llm.model, llm.tokenizer, max_new_tokens=max_new_tokens)
        return state["fn"](messages)

    return generate
