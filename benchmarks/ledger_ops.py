"""Wall time of the ledger's operations on a tiny random Llama (the ledger's own cost, not the model's).

    python benchmarks/ledger_ops.py [--edits 200]

commit: one edit with its forget keys sealed; sync (idle): a long-running process's check before a
request when nothing changed; sync (changed): after another process's undo; open: a new process
applying every active edit; purge: all edits' forgotten text.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from repair.edit.delta import Edit, MapDelta
from repair.edit.ledger import Ledger
from repair.models.arch import arch_for


def model() -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=101,
        hidden_size=64,
        intermediate_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(cfg).eval()


def edit(i: int) -> Edit:
    g = torch.Generator().manual_seed(i)
    deltas = [
        MapDelta(
            layer,
            "down",
            b=torch.randn(64, 4, generator=g) * 1e-3,
            a=torch.randn(4, 256, generator=g),
            keys=torch.randn(16, 256, generator=g),
        )
        for layer in range(4)
    ]
    return Edit(f"e{i}", deltas, meta={"forget": [[f"question {i}?", f"answer {i}."]], "alpha": 1.0})


def ms(ts: list[float]) -> str:
    return f"{statistics.median(ts) * 1e3:.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--edits", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (tiny products: more only wait)")
    args = ap.parse_args()
    n = args.edits
    torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp(prefix="ledger-ops-"))
    m = model()
    led = Ledger(m, arch_for(m), "fp", root)
    commit = []
    for i in range(n):
        t = time.perf_counter()
        led.commit(edit(i))
        commit.append(time.perf_counter() - t)
    other = model()
    server = Ledger(other, arch_for(other), "fp", root)
    t = time.perf_counter()
    server.load()
    opened = time.perf_counter() - t
    idle = []
    for _ in range(1000):
        t = time.perf_counter()
        server.sync()
        idle.append(time.perf_counter() - t)
    changed = []
    for i in range(min(20, n)):
        led.undo(f"e{i}")
        t = time.perf_counter()
        server.sync()
        changed.append(time.perf_counter() - t)
    t = time.perf_counter()
    led.purge(None)
    purge = time.perf_counter() - t
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    print(
        f"{n} edits (4 maps each): commit {ms(commit)} (median), sync idle {statistics.median(idle) * 1e6:.1f} µs, "
        f"sync after another process's undo {ms(changed)}, open and apply all {opened * 1e3:.0f} ms, "
        f"purge all {purge * 1e3:.0f} ms, folder {size / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
