"""Is a resumed sequential forget-quality run exact on the real engine? STAMP-2 on SmolLM2.

    python benchmarks/fq_resume_check.py        # about 2 min of CPU

Process A makes the first two stress targets' STAMP-2 edits with the run folder's ledger (as a sequential
run does). Process B (here: a second patient, loaded fresh) opens that ledger as a rerun would. Prints
whether B's weights equal A's, whether the earlier edits' keys (STAMP-2 keeps them fixed) came back,
and whether the third edit made by A and by B is the same, bit for bit.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

import repair
from repair.edit.stamp2 import forget_subject
from repair.eval.forget_quality.data import load_targets
from repair.eval.forget_quality.resume import open_ledger
from repair.eval.forget_quality.run import forget_request
from repair.eval.unlearners import make_unlearner


def down_maps(patient) -> torch.Tensor:
    layers = range(patient.n_layers)
    return torch.cat(
        [patient.arch.linear(patient.model, i, "down").weight.detach().flatten() for i in layers]
    )


def third_edit(patient, unlearner, target):
    prompts = [p for p, _ in forget_request(patient, target).pairs]
    return forget_subject(
        patient, target.subject, unlearner.effective(), unlearner._stats, prompts, patient.ledger.active
    )


def main() -> None:
    torch.set_num_threads(1)
    targets = load_targets("stress")[:3]
    out = Path(tempfile.mkdtemp(prefix="fq-resume-"))
    runs = []
    for _ in range(2):
        patient = repair.load("smollm2-135m-instruct", dtype="float32", ledger=False)
        unlearner = make_unlearner("stamp2")
        unlearner.prepare(patient)
        open_ledger(patient, out)  # A: empty; B: A's two edits re-applied
        runs.append((patient, unlearner))
        if len(runs) == 1:
            for t in targets[:2]:
                unlearner.unlearn(patient, forget_request(patient, t))
    (a, ua), (b, ub) = runs
    print(
        f"edits re-applied: {len(b.ledger.active)}; weights equal: {torch.equal(down_maps(a), down_maps(b))}"
    )
    edits = zip(a.ledger.active, b.ledger.active, strict=True)
    pairs = [(x, y) for ea, eb in edits for x, y in zip(ea.deltas, eb.deltas, strict=True)]
    print(f"earlier edits' keys equal: {all(torch.equal(x.keys, y.keys) for x, y in pairs)}")
    ea, eb = third_edit(a, ua, targets[2]), third_edit(b, ub, targets[2])
    diff = max(
        float((x.matrix() - y.matrix()).abs().max()) for x, y in zip(ea.deltas, eb.deltas, strict=True)
    )
    print(f"third edit, straight and after the reload: max |difference| {diff}")


if __name__ == "__main__":
    main()
