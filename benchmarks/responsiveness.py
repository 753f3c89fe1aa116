"""The timings the tests no longer assert (issue 24: tests check behaviour, benchmarks print timings).

    python benchmarks/responsiveness.py [--no-model]

help: `repair --help`, best of 3 runs (aim: under 1 s; lazy imports). busy: GET /health and /v1/models
while the server's one worker is held and its queue is full (a tiny random Llama; aim: under 1 s).
steal: the hypervisor's steal seconds `StealMeter` reads over a 50 ms sleep (at most the sleep).
turn: a chat turn's watchdog and generation seconds on the default model (aim: the watchdog under a
tenth of generation plus 0.5 s); --no-model leaves it out. The ledger's idle sync (aim: under 5 ms) is
printed by benchmarks/ledger_ops.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import threading
import time


def help_seconds(runs: int = 3) -> float:
    """The best wall time of `repair --help` in a fresh process."""
    exe = shutil.which("repair")
    cmd = [exe, "--help"] if exe else [sys.executable, "-c", "from repair.cli import app; app()", "--help"]
    took = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, env={**os.environ, "COLUMNS": "100"})
        took.append(time.perf_counter() - t)
    return min(took)


def busy_seconds() -> float:
    """Seconds for GET /health and GET /v1/models while the worker is held and two chats wait."""
    from fastapi.testclient import TestClient
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from repair.edit.patient import Patient
    from repair.models.loader import cache_bundled
    from repair.serve.app import create_app
    from repair.serve.hub import Limits
    from repair.serve.security import Keys, KeySpec
    from repair.serve.worker import Job
    from repair.session import Session

    tok = AutoTokenizer.from_pretrained(cache_bundled("smollm2-135m-instruct", progress=False))
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tok.pad_token_id,
    )
    patient = Patient(
        LlamaForCausalLM(cfg).eval(), tok, name="tiny", source="", fingerprint="fp", ledger_dir=None
    )
    key = "sk-bench-000000000000"
    app = create_app(
        Session(patient, max_new_tokens=16),
        Keys([KeySpec(name="bench", key=key)]),
        hosts={"testserver"},
        limits=Limits.for_model(patient, 16, max_queue=2),
    )
    headers = {"Authorization": f"Bearer {key}"}
    hub, gate, loop = app.state.hub, threading.Event(), asyncio.new_event_loop()
    with TestClient(app) as c:
        blocker = hub.worker.submit(Job(lambda j: gate.wait(10), scope="bench", timeout_s=30, loop=loop))
        while hub.worker.current is not blocker:
            time.sleep(0.01)
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
        chats = [
            threading.Thread(target=lambda: c.post("/v1/chat/completions", headers=headers, json=body))
            for _ in range(4)
        ]
        for t in chats:
            t.start()
        time.sleep(0.5)
        t0 = time.perf_counter()
        c.get("/health"), c.get("/v1/models", headers=headers)
        took = time.perf_counter() - t0
        gate.set()
        for t in chats:
            t.join(30)
    loop.close()
    return took


def steal_seconds_over_sleep(sleep_s: float = 0.05) -> float | None:
    """Steal seconds over a short sleep (None off Linux)."""
    from repair.eval.clock import StealMeter

    with StealMeter() as m:
        time.sleep(sleep_s)
    return m.seconds


def turn_seconds() -> dict[str, float]:
    """A chat turn's timings on the default model (after one warm-up turn)."""
    import repair
    from repair.session import Session

    session = Session(repair.load(ledger=False), max_new_tokens=24)
    session.send("Hello!")
    return session.send("What is the capital of France?").timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-model", action="store_true", help="leave out the default model's chat turn")
    args = ap.parse_args()
    print(f"help: repair --help {help_seconds():.2f} s (best of 3)")
    print(f"busy: /health and /v1/models {busy_seconds() * 1e3:.0f} ms while the worker is held")
    steal = steal_seconds_over_sleep()
    print("steal: not Linux" if steal is None else f"steal: {steal * 1e3:.1f} ms over a 50 ms sleep")
    if not args.no_model:
        t = turn_seconds()
        print(f"turn: watchdog {t['watchdog']:.3f} s, generate {t['generate']:.3f} s")


if __name__ == "__main__":
    main()
