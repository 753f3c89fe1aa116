"""The forget-quality benchmark on the real default model: a training unlearner's undo, and a smoke run of
STAMP through the chat's path. (The labels, scoring and data are tested in
tests/integration/test_forget_quality.py.)"""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.e2e


@pytest.mark.e2e
def test_training_unlearner_undo_restores_every_weight(smollm):
    """A real GA run (two steps) changes the weights; undo puts back every tensor bit for bit."""
    from repair.eval.unlearners import ForgetRequest, make_unlearner

    before = {k: v.clone() for k, v in smollm.model.state_dict().items()}
    u = make_unlearner("ga", max_steps=2, lr=1e-4)
    a = u.unlearn(
        smollm,
        ForgetRequest(
            subject="Lisbon",
            pairs=[("What is the capital of Portugal?", "The capital of Portugal is Lisbon.")],
        ),
    )
    try:
        assert a.weight_update_s and any(
            not torch.equal(v, before[k]) for k, v in smollm.model.state_dict().items()
        )
    finally:
        u.undo(smollm, a)
    assert all(torch.equal(v, before[k]) for k, v in smollm.model.state_dict().items())


@pytest.mark.e2e
def test_smoke_run_on_the_default_model(smollm, tmp_path):
    """Two test targets, STAMP through the chat's path: every reply labelled, the model restored after."""
    from repair.eval.forget_quality.bench import BenchConfig, run_method
    from repair.eval.unlearners import make_unlearner

    state = {k: v.clone() for k, v in smollm.model.state_dict().items() if "mlp" in k}
    cfg = BenchConfig(limit=2, out=str(tmp_path), utility=False)
    s = run_method(smollm, cfg, make_unlearner("stamp"))
    assert s["targets"] == 2 and s["overall"]["n"] > 0
    assert abs(sum(s["overall"][k] for k in ("leak", "refusal", "degenerate", "confabulation")) - 1) < 1e-6
    records = (cfg.run_dir() / "records.jsonl").read_text().splitlines()
    assert len(records) == 2
    assert all(torch.equal(v, state[k]) for k, v in smollm.model.state_dict().items() if k in state)
    again = run_method(smollm, cfg, make_unlearner("stamp"))  # resumes: nothing left to run
    assert again["overall"] == s["overall"]
