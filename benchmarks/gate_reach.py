"""How far a STAMP-2 edit reaches: the gate's view of each question, per probe type.

    python benchmarks/gate_reach.py [--split dev] [--targets 16] [--threads 1]

For each known target of the split, the edit (made on the unedited model, gate off) and, layer by layer,
each question's reach: the largest over its tokens of ``1ᵀ A x`` divided by the median over the edit's own
keys (1 = like the keys). Printed per probe type, for the target's neighbours, and for the target's own
probes under the *other* targets' edits (cross-talk). The gate (``gate`` in Stamp2Config) applies an
update only where the reach is at least tau: tau must lie above the neighbours and below the probes.
Rows are read from the unedited model, so the band's upper layers read lower than they would with the
lower layers' updates in place. Dev split by default: this chooses tau, it is not a result.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

import torch

import repair
from repair.edit.stamp2 import forget_subject, prepare
from repair.edit.stamp2.rows import read_rows
from repair.edit.stamp2.subject import chat_ids
from repair.eval.forget_quality.data import chat_history, load_known, load_targets


def question_rows(patient, layers, questions) -> dict[int, tuple[torch.Tensor, ...]]:
    """Per layer, each question's down-map inputs at all of its own tokens (not the chat template's)."""
    tok, seqs, poss = patient.tokenizer, [], []
    for q in questions:
        ids, _, n, text = chat_ids(tok, q.prompt, history=chat_history(q))
        first = len(tok(text[: text.rfind(q.prompt)], add_special_tokens=False)["input_ids"])
        seqs.append(ids[:n])
        poss.append(list(range(first, n)))
    downs = [patient.arch.module_name(layer, "down") for layer in layers]
    rows = read_rows(patient, seqs, poss, inputs=downs)
    return {
        layer: torch.split(rows[d], [len(p) for p in poss]) for layer, d in zip(layers, downs, strict=True)
    }


def reach(x: torch.Tensor, d) -> float:
    ref = (d.keys.double() @ d.a.double().T).sum(1).median()
    return ((x.double() @ d.a.double().T).sum(1) / ref).max().item()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="dev")
    ap.add_argument("--targets", type=int, default=16)
    ap.add_argument(
        "--others", type=int, default=6, help="other targets' edits scored on each target's probes"
    )
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    patient = repair.load("smollm2-135m-instruct")
    cfg, stats = prepare(patient, gate=0.0)
    known = (load_known(patient.name) or exit("no known list")).known(args.split)
    targets = [t for t in load_targets(args.split) if t.id in known][: args.targets]
    edits = {t.id: forget_subject(patient, t.subject, cfg, stats) for t in targets}
    vals: dict[tuple[int, str], list[float]] = defaultdict(list)
    for t in targets:
        own = [q for q in t.probes if q.id in known[t.id].probes]
        near = [q for q in t.neighbours if q.id in known[t.id].neighbours]
        types = [q.type for q in own] + [f"neighbour: {q.type}" for q in near]
        rows = question_rows(patient, cfg.layers, own + near)
        others = [e for k, e in edits.items() if k != t.id][: args.others]
        for d in edits[t.id].deltas:
            for typ, x in zip(types, rows[d.layer], strict=True):
                vals[(d.layer, typ)].append(reach(x, d))
            for e in others:
                od = next(z for z in e.deltas if z.layer == d.layer)
                vals[(d.layer, "other targets' edits")] += [reach(x, od) for x in rows[d.layer][: len(own)]]
    print(f"reach per question ({args.split} split, {len(targets)} targets): p10 / median / max, n")
    for layer in cfg.layers:
        print(f"layer {layer}")
        for typ in sorted({k[1] for k in vals if k[0] == layer}):
            v = sorted(vals[(layer, typ)])
            p10 = v[int(0.1 * (len(v) - 1))]
            print(f"  {typ:32s} {p10:5.2f} / {statistics.median(v):5.2f} / {v[-1]:5.2f}  ({len(v)})")


if __name__ == "__main__":
    main()
