"""How far STAMP-2's edits spill onto entities they were not keyed on, as edits pile up.

    python benchmarks/entity_spill.py [--edits 30] [--every 10] [--keep all|half|none] [--set key=value]

Every STAMP-2 edit moves its subject's state (the residual after the band's top block, at the subject's
last token) by the refusal vector u, and each spills a little onto other entities' states in that same
direction. This script forgets the stress set's entities one after another (committed, not verified) and
prints, every ``--every`` edits, the mean shift along u (in units of u: 1 is a full edit) of

* the edited targets (should stay near 1),
* a quarter of the entity keep list (``data/keep_entities.txt``) that is never kept (held out), and
* a panel of 16 people, companies and things that are neither targets nor kept.

``--keep`` picks which of the other three quarters of the keep list the edits keep in place: all of
them, every second one, or none (``keep_entities=false``). Comparing the held-out rows across ``--keep``
says whether a larger keep list would hold unseen entities too. No text is generated: it is a quick
probe of the mechanism, not a result (``repair eval forget-quality --sequential`` is).
"""

from __future__ import annotations

import argparse
import json
import tempfile

import torch

import repair
import repair.edit.stamp2.keep as keep_module
from repair.edit.stamp2 import forget_subject, prepare
from repair.edit.stamp2.edit import _keyed
from repair.edit.stamp2.rows import read_rows
from repair.edit.stamp2.vector import refusal_vector
from repair.eval.forget_quality.data import load_targets

PANEL = (
    "Elon Musk",
    "Lionel Messi",
    "Amazon",
    "Barack Obama",
    "Bill Gates",
    "Nike",
    "Marilyn Monroe",
    "Walt Disney",
    "the Beatles",
    "Tesla",
    "Pepsi",
    "Jeff Bezos",
    "Napoleon",
    "Hamlet",
    "the Mona Lisa",
    "France",
)


def states(patient, names, layer: int) -> torch.Tensor:
    """The residual after block ``layer`` at each name's last token, in a phrasing no edit is keyed on."""
    seqs, poss = [], []
    for name in names:  # each prompt cut after its one mention, as an edit's own rows are
        seq, pos = _keyed(patient.tokenizer, [f"Tell me about {name}."], name)
        seqs += seq
        poss += pos
    top = f"{patient.arch.layers}.{layer}"
    return read_rows(patient, seqs, poss, outputs=[top])[top]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--edits", type=int, default=30)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--keep", choices=["all", "half", "none"], default="all")
    ap.add_argument("--set", action="append", default=[], help="an engine setting, key=value (JSON value)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    listed = keep_module.keep_entities()
    held_out = listed[1::4]
    rest = [e for e in listed if e not in held_out]
    kept = {"all": rest, "half": rest[::2], "none": []}[args.keep]
    keep_module.keep_entities = lambda: kept  # the edits' keep list (entity_factors reads it here)
    if args.keep == "none":
        overrides["keep_entities"] = False
    subjects = list(dict.fromkeys(t.subject for t in load_targets("stress") if t.kind == "entity"))
    subjects = subjects[: args.edits]
    with tempfile.TemporaryDirectory() as ledger:
        patient = repair.load(args.model, ledger=ledger)
        cfg, stats = prepare(patient, **overrides)
        u = refusal_vector(patient, cfg.vector_layer, cfg.vector, stats)
        groups = {"targets": subjects, "held-out keep list": held_out, "panel": list(PANEL)}
        before = {g: states(patient, names, cfg.vector_layer) for g, names in groups.items()}
        print(f"keep: {len(kept)} listed entities; held out: {len(held_out)}; panel: {len(PANEL)}")
        for i, subject in enumerate(subjects, 1):
            edit = forget_subject(patient, subject, cfg, stats, [f"Who is {subject}?"], patient.ledger.active)
            patient.ledger.commit(edit, requested_by="benchmark", subject=subject)
            if i % args.every == 0 or i == len(subjects):
                parts = []
                for g, names in groups.items():
                    names = names[:i] if g == "targets" else names
                    shift = (states(patient, names, cfg.vector_layer) - before[g][: len(names)]) @ u / (u @ u)
                    parts.append(f"{g} {shift.mean():.3f} (max {shift.max():.2f})")
                print(f"edits {i:3d}: " + " | ".join(parts), flush=True)


if __name__ == "__main__":
    main()
