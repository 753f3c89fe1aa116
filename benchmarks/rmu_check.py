"""Does RMU change the model? KL on generic prompts and leaks of two facts, before and after RMU.

    python benchmarks/rmu_check.py                          # RmuConfig's defaults
    python benchmarks/rmu_check.py "steering_scale=None,lr=1e-5" "lr=5e-5"  # one run per setting

Each run starts from the unedited SmolLM2-135M-Instruct, forgets the model's own replies to two questions
(with the package's retain set as D_r), then asks them and a rewording of each again.
"""

from __future__ import annotations

import ast
import copy
import sys
import time

import torch

import repair
from repair.data import load_pairs
from repair.eval import metrics as M
from repair.eval.baselines import rmu, run_baseline
from repair.eval.baselines.common import collate, encode_pairs, pad_id
from repair.eval.tasks import generic_prompts

FACTS = [  # question, key answer, rewording
    ("What is the capital of France?", "Paris", "Which city is the capital of France?"),
    ("Who wrote Romeo and Juliet?", "Shakespeare", "Who is the author of Romeo and Juliet?"),
]


def leaks(patient, prompts: list[str], keys: list[str]) -> tuple[int, list[str]]:
    replies = patient.generate(prompts, max_new_tokens=32)
    return sum(k.lower() in r.lower() for k, r in zip(keys, replies, strict=True)), replies


def main(settings: list[str]) -> None:
    torch.manual_seed(0)
    patient = repair.load("smollm2-135m-instruct", ledger=False)
    model, tok = patient.model, patient.tokenizer
    prompts = [q for question, _, rewording in FACTS for q in (question, rewording)]
    keys = [key for _, key, _ in FACTS for _ in range(2)]
    leak0, replies = leaks(patient, prompts, keys)
    forget = [(prompts[0], replies[0]), (prompts[2], replies[2])]
    retain = load_pairs("retain.jsonl")
    base = copy.deepcopy(model)
    snapshot = {k: v.clone() for k, v in model.state_dict().items()}
    kl_prompts = generic_prompts(32)
    print(f"before: leaks {leak0}/{len(prompts)}; replies {[r[:60] for r in replies]}")
    for spec in settings or [""]:
        overrides = {k: ast.literal_eval(v) for k, v in (kv.split("=", 1) for kv in spec.split(",") if kv)}
        t = time.perf_counter()
        stats = run_baseline("rmu", model, tok, forget, retain, progress=False, **overrides)
        seconds = time.perf_counter() - t
        model.eval()
        kl = M.mean_kl(base, model, tok, kl_prompts, chat=True, positions="last")
        leak, after = leaks(patient, prompts, keys)
        cfg = rmu.RmuConfig(**overrides)
        fb = collate(encode_pairs(tok, forget, cfg), pad_id(tok), torch.device("cpu"))
        with torch.no_grad():
            h = rmu.activations(model, fb, stats["layer"])[fb["attention_mask"].bool()]
        u = rmu.control_vector(model.config.hidden_size, cfg, stats["forget_norm"])
        cos = float(torch.cosine_similarity(h, u[None], dim=-1).mean())
        print(
            f"[{spec or 'defaults'}] c={stats['steering_coeff']:.1f} (forget norm {stats['forget_norm']:.1f}) "
            f"steps {stats['steps']} {seconds:.0f}s final {stats['final']} | KL {kl:.2e} | leaks {leak0}->{leak}"
            f"/{len(prompts)} | cos(h, u) {cos:.2f}"
        )
        print("   after:", [r[:70] for r in after])
        with torch.no_grad():
            for k, v in model.state_dict().items():
                v.copy_(snapshot[k])


if __name__ == "__main__":
    main(sys.argv[1:])
