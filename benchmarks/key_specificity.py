"""Which keys could a single-fact edit use? How far an edit keyed on a fact's direct question reaches.

    python benchmarks/key_specificity.py [--split dev] [--where answer] [--layers 8,16,20,24]

For each single-fact target the model knows, a ridge edit keyed on one row of the direct question moves
another row k by r(k) = k_d^T M^-1 k / k_d^T M^-1 k_d of what it moves k_d itself (M = C_K + lam I, the
keep statistics). The median r per probe and neighbour type says where the edit would spread: an edit
should reach the probes (r near 1) and spare the neighbours (r near 0), above all the same-subject ones
("the language of Cuba" when "the capital of Cuba" is forgotten).

``--where`` picks the row: ``last`` (the prompt's last token, where the reply starts), ``answer`` (the
token before the answer in the model's own reply, teacher-forced: where it is about to write it) or
``subject`` (STAMP-2's key: the last token of the fact's subject phrase in the first edit prompt, "Tell
me about the capital of Cuba"; each other question's r is then its largest over all its prompt tokens,
since the edit acts wherever a key resembles it). Rows are read from the unedited model; with ``last``
and ``answer``, probes whose reply does not state the answer are skipped. Dev split by default: this is
a tool for choosing keys, not a result.
"""

from __future__ import annotations

import argparse
import re
import statistics
from collections import defaultdict

import torch

import repair
from repair.edit.stamp2 import prepare
from repair.edit.stamp2.rows import read_rows
from repair.edit.stamp2.subject import chat_ids, subject_positions
from repair.edit.stamp2.vector import edit_prompts
from repair.eval.forget_quality.data import Question, chat_history, load_known, load_targets


def row(tok, q: Question, reply: str, where: str) -> tuple[list[int], int] | None:
    """The token ids up to the chosen position, and the position."""
    hist = chat_history(q)
    if where == "last":
        ids, _, n, _ = chat_ids(tok, q.prompt, history=hist)
        return ids[:n], n - 1
    ids, offsets, _, text = chat_ids(tok, q.prompt, reply, history=hist)
    starts = [m.start() for a in q.keys for m in [re.search(r"\b" + re.escape(a), reply, re.I)] if m]
    if not starts:
        return None
    at = len(text) + min(starts)
    first = min(i for i, (_, b) in enumerate(offsets) if b > at)
    return ids[:first], first - 1


def subject_reach(patient, t, items, layers, factors, ratios) -> None:
    """r of the edit keyed on the subject phrase's last token, per question the largest over its tokens."""
    tok = patient.tokenizer
    prompt = edit_prompts(t.subject)[0]
    pos = subject_positions(tok, prompt, t.subject)
    if not pos:
        return
    seqs, poss = [chat_ids(tok, prompt)[0][: max(pos) + 1]], [[max(pos)]]
    for _, q in items:
        ids, _, n, text = chat_ids(tok, q.prompt, history=chat_history(q))
        first = len(tok(text[: text.rfind(q.prompt)], add_special_tokens=False)["input_ids"])
        seqs.append(ids[:n]), poss.append(list(range(first, n)))
    downs = [patient.arch.module_name(layer, "down") for layer in layers]
    rows = read_rows(patient, seqs, poss, inputs=downs)
    sizes = [len(p) for p in poss]
    for layer, down in zip(layers, downs, strict=True):
        x = rows[down].double()
        w = torch.cholesky_solve(x[:1].T, factors[layer].double()).T[0]  # M^-1 k_d
        r = (x @ w) / (x[0] @ w)
        for (typ, _), part in zip(items, torch.split(r[1:], sizes[1:]), strict=True):
            ratios[(layer, typ)].append(part.max().item())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="dev")
    ap.add_argument("--where", choices=["last", "answer", "subject"], default="answer")
    ap.add_argument("--layers", default="8,16,20,24")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    patient = repair.load("smollm2-135m-instruct")
    cfg, stats = prepare(patient)
    layers = [int(x) for x in args.layers.split(",")]
    factors = {layer: stats.kfactor(layer, "down", cfg.lam)[0] for layer in layers}
    known = (load_known(patient.name) or exit("no known list")).known(args.split)
    ratios: dict[tuple[int, str], list[float]] = defaultdict(list)
    for t in load_targets(args.split):
        if t.kind != "fact" or t.id not in known:
            continue
        direct = next(q for q in t.probes if q.type == "direct")
        items = [("direct", direct)]
        items += [(q.type, q) for q in t.probes if q.id in known[t.id].probes and q is not direct]
        items += [(f"neighbour: {q.type}", q) for q in t.neighbours if q.id in known[t.id].neighbours]
        if args.where == "subject":
            subject_reach(patient, t, items, layers, factors, ratios)
            continue
        replies = patient.generate(
            [q.prompt for _, q in items], max_new_tokens=48, histories=[chat_history(q) for _, q in items]
        )
        got = [
            (typ, row(patient.tokenizer, q, r, args.where))
            for (typ, q), r in zip(items, replies, strict=True)
        ]
        got = [(typ, r) for typ, r in got if r is not None]
        if not got or got[0][0] != "direct":
            continue
        downs = [patient.arch.module_name(layer, "down") for layer in layers]
        rows = read_rows(patient, [ids for _, (ids, _) in got], [[pos] for _, (_, pos) in got], inputs=downs)
        for layer, down in zip(layers, downs, strict=True):
            x = rows[down].double()
            w = torch.cholesky_solve(x.T, factors[layer].double()).T  # M^-1 k per row
            for (typ, _), r in zip(got[1:], ((w[1:] @ x[0]) / (w[0] @ x[0])).tolist(), strict=True):
                ratios[(layer, typ)].append(r)
    types = sorted({typ for _, typ in ratios})
    print(f"median r per type ({args.split} split, keys at {args.where!r}); n in brackets")
    for layer in layers:
        cells = [
            f"{typ} {statistics.median(ratios[(layer, typ)]):.2f} ({len(ratios[(layer, typ)])})"
            for typ in types
        ]
        print(f"layer {layer:2d}: " + " · ".join(cells))


if __name__ == "__main__":
    main()
