"""Experiment: a refusal vector with a margin, so that a fraction of it (another edit's spill) changes nothing.

    python benchmarks/refusal_margin.py [--margin 0.3] [--steps 16] [--threads 2]

STAMP-2 adds s·u (s = 1) at the forgotten subject's last token; each edit also moves other entities'
states by a small fraction of u, and those fractions add up over edits. With the shipped u the model's
reply already changes at 0.2·u ("What is the capital of Cuba?" -> "El Salvador, …") and is garbled at
0.3-0.5·u. This script refines the shipped u with a second term: the model's own greedy replies to the
training questions must stay likely with ``margin``·u added (mean NLL), beside the refusal NLL at u. It
then prints the replies to seven questions about other entities with alpha·u added at the subject, for
the shipped and the refined vector, and saves the refined one (``--out``). No weight is changed and the
engine is not: it is a probe of whether the objective can give the refusal a threshold.

Tried once as an engine recipe (the shipped vector refined 30 steps at margin 0.5, on the forget-quality
dev split, single mode, 31 targets): leak 16.0 % as shipped, refusal 68.0 % against 76.7 %,
confabulation 14.6 % against 7.3 %, neighbours kept 75.4 % both (similar entities 88 % against 80 %,
same-subject facts 40 % against 53 %), KL 0.0022 against 0.0030. With fewer unrelated refusals over 60
sequential edits but fewer earlier targets still refused (sequential_drift.py --vector), it did not earn
a place in the engine.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

import repair
from repair.edit.stamp2 import prepare
from repair.edit.stamp2.subject import chat_ids, subject_positions
from repair.edit.stamp2.vector import (
    _loss,
    _training_batch,
    add_at,
    edit_prompts,
    labelled,
    refusal_vector,
    vector_subjects,
)
from repair.eval.metrics import is_refusal

QUESTIONS = (
    ("What currency does Cuba use?", "Cuba"),
    ("What is the official language of Cuba?", "Cuba"),
    ("What is the capital of Cuba?", "Cuba"),
    ("Who is Bill Gates?", "Bill Gates"),
    ("What does Nike sell?", "Nike"),
    ("Who founded Microsoft?", "Microsoft"),
    ("What is Barack Obama known for?", "Barack Obama"),
)


def own_replies(patient, vc) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[list[int]]]:
    """The training questions with the unedited model's greedy replies as labels, and the subject positions."""
    tok = patient.tokenizer
    prompts, poss = [], []
    for subject in vector_subjects(vc.subjects):
        for q in edit_prompts(subject, vc.templates_per_subject, vc.formats):
            pos = subject_positions(tok, q, subject)
            if pos:
                prompts.append(q), poss.append(pos)
    replies = [
        r
        for i in range(0, len(prompts), 16)
        for r in patient.generate(prompts[i : i + 16], max_new_tokens=24)
    ]
    seqs, spans = [], []
    for q, r in zip(prompts, replies, strict=True):
        ids, _, n, _ = chat_ids(tok, q, r)
        seqs.append(ids), spans.append((n, len(ids)))
    return (*labelled(seqs, spans, tok.pad_token_id or 0), poss)


def refine(patient, cfg, u0: torch.Tensor, margin: float, steps: int) -> torch.Tensor:
    """Adam on u: refusal NLL at u plus the own replies' NLL at margin·u, 16 rows of each a step."""
    vc, model = cfg.vector, patient.model
    ids, mask, labels, poss = _training_batch(
        patient.tokenizer, vector_subjects(vc.subjects), vc.templates_per_subject, vc.formats, vc.reply
    )
    kids, kmask, klab, kposs = own_replies(patient, vc)
    block = patient.arch.blocks(model)[cfg.vector_layer]
    for p in model.parameters():
        p.requires_grad_(False)
    u = u0.clone().requires_grad_(True)
    opt = torch.optim.Adam([u], lr=vc.lr * 0.5)
    rng = torch.Generator().manual_seed(1)
    for step in range(steps):
        opt.zero_grad()
        r = torch.randperm(len(ids), generator=rng)[:16]
        n = int((labels[r][:, 1:] != -100).sum())
        nll = _loss(model, block, ids[r], mask[r], labels[r], [poss[i] for i in r], u, n)
        k = torch.randperm(len(kids), generator=rng)[:16]
        with add_at(block, [kposs[i] for i in k], margin * u):
            logits = model(input_ids=kids[k], attention_mask=kmask[k]).logits[:, :-1].float()
        keep = torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), klab[k, 1:], ignore_index=-100, reduction="sum"
        ) / int((klab[k][:, 1:] != -100).sum())
        keep.backward()
        opt.step()
        print(
            f"step {step:2d}: refusal NLL {nll:.3f}  own-reply NLL at {margin}·u {float(keep.detach()):.3f}",
            flush=True,
        )
    return u.detach().float()


def curve(patient, layer: int, u: torch.Tensor, alphas) -> None:
    block = patient.arch.blocks(patient.model)[layer]
    for alpha in alphas:
        print(f"  alpha {alpha}:")
        for q, s in QUESTIONS:
            with add_at(block, [[max(subject_positions(patient.tokenizer, q, s))]], alpha * u):
                reply = patient.generate([q], max_new_tokens=20)[0]
            print(("    R " if is_refusal(reply) else "      ") + " ".join(reply.split())[:70])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--margin", type=float, default=0.3)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--alphas", default="0.2,0.3,0.5,1.0")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "refusal-margin-u.pt"))
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    patient = repair.load("smollm2-135m-instruct", ledger=False)
    cfg, stats = prepare(patient)
    u0 = refusal_vector(patient, cfg.vector_layer, cfg.vector, stats)
    alphas = [float(a) for a in args.alphas.split(",")]
    u = refine(patient, cfg, u0, args.margin, args.steps)
    torch.save(u, args.out)
    for name, vec in (("shipped u", u0), (f"refined u (margin {args.margin})", u)):
        print(name)
        curve(patient, cfg.vector_layer, vec, alphas)


if __name__ == "__main__":
    main()
