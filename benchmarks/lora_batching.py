"""Per-scope adapters on the default model: the server's forward hook against peft's mixed-adapter batches.

    OMP_NUM_THREADS=1 python benchmarks/lora_batching.py [--tokens 32] [--repeats 3] [--rank 8]

Two scopes' edits (low-rank deltas of the down maps of five layers, as a scope's edits are) are written
by `export_lora` (what `repair edits export --scope S` writes) and loaded into one `PeftModel` as adapters
"alice" and "bob". Printed: whether peft loads our export as it is; the largest logit difference between
peft (``adapter_names=`` with the two scopes in one batch) and the hook (`serve.scopes.Adapters`, one
scope at a time); and the median wall time of greedy replies with Hugging Face's ``generate``: one
request on the base model, with the hook and with peft; two requests of different scopes one after
another with the hook (what the server does) against one mixed batch with peft, and the base model's
batch of two (no adapters: the most batching can give here).
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import repair
from repair.edit.delta import Edit, MapDelta
from repair.edit.export import export_lora
from repair.models.chat import render_chat
from repair.serve.scopes import Adapters

PROMPTS = ["What is the capital of Australia?", "Who wrote the novel Pride and Prejudice?"]
LAYERS = [10, 11, 12, 13, 14]


def scope_edit(patient: Any, eid: str, seed: int, rank: int) -> Edit:
    g = torch.Generator().manual_seed(seed)
    deltas = []
    for layer in LAYERS:
        out_f, in_f = patient.arch.weight(patient.model, layer, "down").shape
        b = torch.randn(out_f, rank, generator=g) * 0.05
        a = torch.randn(rank, in_f, generator=g) * 0.05
        deltas.append(MapDelta(layer, "down", b=b, a=a))
    return Edit(eid, deltas)


def batch(patient: Any, prompts: list[str]) -> dict[str, torch.Tensor]:
    tok = patient.tokenizer
    tok.padding_side = "left"
    texts = [render_chat(tok, [{"role": "user", "content": p}]) for p in prompts]
    return tok(texts, return_tensors="pt", padding=True)


def timed(variants: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median wall time of each variant; the variants take turns in every round, in a shuffled order, so
    that the load of a shared machine falls on all of them alike."""
    for fn in variants.values():
        fn()  # warm
    runs: dict[str, list[float]] = {k: [] for k in variants}
    order = list(variants)
    for r in range(repeats):
        random.Random(r).shuffle(order)  # no variant always first (or right after another)
        for name in order:
            t = time.perf_counter()
            variants[name]()
            runs[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in runs.items()}


def generate(model: Any, inputs: dict[str, torch.Tensor], tokens: int, **kw: Any) -> torch.Tensor:
    with torch.no_grad():
        return model.generate(
            **inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, pad_token_id=0, **kw
        )


def variants(
    patient: Any, peft_model: Any, edits: dict[str, Edit], tokens: int
) -> dict[str, Callable[[], Any]]:
    """What is timed: ``patient.model`` is the plain model (the hook's), ``peft_model`` a copy under peft."""
    adapters, model = Adapters(patient), patient.model
    one, both = batch(patient, PROMPTS[:1]), batch(patient, PROMPTS)

    def one_hooked() -> None:
        with adapters.applied([edits["alice"]]):
            generate(model, one, tokens)

    def two_in_turn() -> None:
        for (_, edit), prompt in zip(edits.items(), PROMPTS, strict=True):
            with adapters.applied([edit]):
                generate(model, batch(patient, [prompt]), tokens)

    return {
        "1 request, base model": lambda: generate(model, one, tokens),
        "1 request, hook": one_hooked,
        "1 request, peft adapter_names": lambda: generate(peft_model, one, tokens, adapter_names=["alice"]),
        "2 scopes, hook, one after another": two_in_turn,
        "2 scopes, peft mixed batch": lambda: generate(
            peft_model, both, tokens, adapter_names=["alice", "bob"]
        ),
        "2 requests, base model batch (no adapters)": lambda: generate(model, both, tokens),
    }


def hook_logits(patient: Any, edits: dict[str, Edit]) -> dict[str, torch.Tensor]:
    """Last-token logits of each scope's prompt with its edits added by the hook."""
    adapters, out = Adapters(patient), {}
    for (scope, edit), prompt in zip(edits.items(), PROMPTS, strict=True):
        with adapters.applied([edit]), torch.no_grad():
            out[scope] = patient.model(**batch(patient, [prompt])).logits[0, -1]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rank", type=int, default=8, help="rank of each scope's delta per layer")
    args = ap.parse_args()
    from peft import PeftModel

    print(f"torch threads: {torch.get_num_threads()}, {args.tokens} new tokens, median of {args.repeats}")
    patient = repair.load(args.model)
    edits = {
        "alice": scope_edit(patient, "alice", 1, args.rank),
        "bob": scope_edit(patient, "bob", 2, args.rank),
    }
    hook = hook_logits(patient, edits)
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {s: export_lora([e], patient.arch, patient.name, Path(tmp) / s) for s, e in edits.items()}
        peft_model = PeftModel.from_pretrained(
            copy.deepcopy(patient.model), str(dirs["alice"]), adapter_name="alice"
        )
        peft_model.load_adapter(str(dirs["bob"]), adapter_name="bob")
    print("peft loads the export as it is: yes (PeftModel.from_pretrained, load_adapter)")
    with torch.no_grad():
        mixed = peft_model(**batch(patient, PROMPTS), adapter_names=["alice", "bob"]).logits[:, -1]
    diff = max((mixed[i] - hook[s]).abs().max().item() for i, s in enumerate(edits))
    moved = max((hook[s] - mixed[1 - i]).abs().max().item() for i, s in enumerate(edits))
    print(f"mixed batch vs hook, last-token logits: max |diff| {diff:.2e} (alice's vs bob's: {moved:.2f})")
    for label, s in timed(variants(patient, peft_model, edits, args.tokens), args.repeats).items():
        print(f"{label:44s} {s:7.3f} s  ({s / args.tokens * 1000:6.1f} ms/token)")


if __name__ == "__main__":
    main()
