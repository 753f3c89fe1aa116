from __future__ import annotations

import contextlib
import os

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _keep_thread_count():
    """Code under test may change torch's thread count (``--threads`` options); a later test must not
    inherit it (the real-model tests ran 2x slower on one thread)."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def tiny_llama_model(**overrides):
    """The tests' tiny random Llama (seeded), also for child processes (tests/ledger_child.py)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    sizes = dict(
        vocab_size=101,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(LlamaConfig(**{**sizes, **overrides})).eval()


@pytest.fixture(scope="module")
def tok():
    """The default model's tokenizer (tiny models built in tests use its vocabulary)."""
    from transformers import AutoTokenizer

    from repair.models.loader import cache_bundled

    return AutoTokenizer.from_pretrained(cache_bundled("smollm2-135m-instruct", progress=False))


def pytest_collection_modifyitems(config, items):
    """tests/unit: no model; tests/integration: tiny models built in the test; tests/e2e: the real default
    model. Everything under tests/e2e is marked e2e, and REPAIR_SKIP_E2E skips every e2e-marked test."""
    skip = pytest.mark.skip(reason="REPAIR_SKIP_E2E set") if os.environ.get("REPAIR_SKIP_E2E") else None
    for item in items:
        if "e2e" in item.path.parent.parts[-1:]:
            item.add_marker(pytest.mark.e2e)
        if skip is not None and item.get_closest_marker("e2e") is not None:
            item.add_marker(skip)


@pytest.fixture
def tiny_llama():
    return tiny_llama_model()


def tiny_llama_for(tok, *, layers: int = 2, positions: int = 128, intermediate_size: int = 64, **extra):
    """A tiny random Llama sized to a tokenizer's vocabulary (seeded: the same weights every time)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=intermediate_size,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=positions,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
        **extra,
    )
    return LlamaForCausalLM(cfg).eval()


@pytest.fixture(scope="session")
def smollm():
    """The real default patient, with an in-memory ledger."""
    import repair

    if os.environ.get("REPAIR_SKIP_E2E"):
        pytest.skip("REPAIR_SKIP_E2E set")
    return repair.load("smollm2-135m-instruct", ledger=False)


@contextlib.contextmanager
def uvicorn_thread(app, timeout: float = 60):
    """``app`` served by uvicorn on a free loopback port in a thread; yields the port."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout)
