from __future__ import annotations

import contextlib
import os
from pathlib import Path

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


@pytest.fixture
def repair_home(tmp_path, monkeypatch) -> Path:
    """$REPAIR_HOME (the operator key, caches, default ledgers) in the test's own folder: ``tmp_path/home``.
    A module whose every test needs it says ``pytestmark = pytest.mark.usefixtures("repair_home")``."""
    home = tmp_path / "home"
    monkeypatch.setenv("REPAIR_HOME", str(home))
    return home


STAMP2_LAYERS = [1, 2]  # the STAMP-2 band of the tiny model that `stamp2_session` builds


class ForgetMarieCurie:
    """A watchdog: "Forget Marie Curie." asks to forget that subject, with nothing about it in the history
    (the pipeline first asks the model itself); anything else is chat."""

    k = 4

    def inspect(self, history: list[dict], message: str):
        from repair.agents.watchdog import Verdict

        if message.startswith("Forget"):
            probes = ["Who is Marie Curie?", "Tell me about Marie Curie."]
            return Verdict(
                intent="unlearn", confidence=1.0, target="Marie Curie", source="probe", probes=probes
            )
        return Verdict(intent="chat", confidence=1.0)


@pytest.fixture
def stamp2_session(tok, monkeypatch):
    """Makes a `Session` with the STAMP-2 engine on a tiny 4-layer Llama (SmolLM2's vocabulary, ``fp2``),
    its edits made on layers `STAMP2_LAYERS`: ``make(watchdog=ForgetMarieCurie(), session_dir=None)``. The
    per-model preparation (statistics, refusal vector) is not what these tests test: it is a fixed small one."""
    from repair.edit.patient import Patient
    from repair.edit.stamp2 import Stamp2Config
    from repair.edit.stats import EditStats
    from repair.session import Session

    def make(watchdog=None, session_dir: Path | None = None) -> Session:
        watchdog = ForgetMarieCurie() if watchdog is None else watchdog
        model = tiny_llama_for(tok, layers=4, positions=256, intermediate_size=256)
        patient = Patient(model, tok, name="tiny", source="", fingerprint="fp2", ledger_dir=None)
        cfg = Stamp2Config(layers=STAMP2_LAYERS, lam=1e-4, keep_replies=False, keep_entities=False)
        stats = EditStats(patient, persist=False)
        stats.keep = stats.keep[:2]
        u = torch.randn(32, generator=torch.Generator().manual_seed(3)) * 5
        monkeypatch.setattr("repair.edit.stamp2.prepare", lambda patient, **kw: (cfg, stats))
        monkeypatch.setattr("repair.edit.stamp2.edit.refusal_vector", lambda *a, **k: u)
        return Session(patient, watchdog=watchdog, max_new_tokens=6, engine="stamp2", session_dir=session_dir)

    return make


@pytest.fixture(scope="session")
def _smollm_loaded():
    import repair

    if os.environ.get("REPAIR_SKIP_E2E"):
        pytest.skip("REPAIR_SKIP_E2E set")
    return repair.load("smollm2-135m-instruct", ledger=False)


@pytest.fixture
def smollm(_smollm_loaded):
    """The real default patient (loaded once), with an in-memory ledger. An edit a test leaves active, also
    one that failed before its own undo, is undone after it (in ``finally``): the next test gets the model
    as it was."""
    before = {e.id for e in _smollm_loaded.ledger.active}
    try:
        yield _smollm_loaded
    finally:
        for edit in reversed(list(_smollm_loaded.ledger.active)):
            if edit.id not in before:
                _smollm_loaded.ledger.undo(edit.id)


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
