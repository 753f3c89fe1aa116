"""The unlearner registry: one typed config per method, validated overrides, and the runner's use of it.

The training path runs for real on a tiny random Llama (the maths is tested in test_baselines.py);
STAMP's edits are covered end to end by test_eval_runner.py and test_forget_quality.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from conftest import tiny_llama_for

from repair.eval.baselines import BASELINES, GaConfig, NpoConfig, RmuConfig
from repair.eval.runner import RunConfig, build_unlearner, requests_for
from repair.eval.tasks import build_task
from repair.eval.unlearners import (
    METHODS,
    UNLEARNERS,
    EditConfig,
    EditUnlearner,
    ForgetRequest,
    IcuConfig,
    StampMethodConfig,
    TrainingUnlearner,
    make_unlearner,
)

FORGET = [("Where does Alice Moreau live?", "Alice Moreau lives at 12 Rue Lepic in Paris.")]
RETAIN = [("What colour is the sky?", "The sky is blue on a clear day.")]


def test_every_method_is_registered_with_its_own_config_class():
    assert set(UNLEARNERS) >= {"none", "stamp", "stamp-lr", "paper", "paper-lr", "icu", *BASELINES}
    for name, spec in BASELINES.items():
        assert METHODS[name].config is spec.config
    assert METHODS["stamp"].config is StampMethodConfig and METHODS["paper"].config is EditConfig
    assert METHODS["icu"].config is IcuConfig
    assert METHODS["stamp"].interactive and not METHODS["ga"].interactive


def test_overrides_are_validated_against_the_methods_config():
    u = make_unlearner("npo", beta=0.2, epochs=1)
    assert isinstance(u, TrainingUnlearner) and isinstance(u.config, NpoConfig)
    assert (u.config.beta, u.config.epochs, u.config.progress) == (0.2, 1, False)
    with pytest.raises(ValueError, match="GaConfig has no field beta"):  # NPO's field is not GA's
        make_unlearner("ga", beta=0.2)
    with pytest.raises(ValueError, match="lr"):
        make_unlearner("rmu", lr=-1.0)
    with pytest.raises(TypeError, match="RmuConfig"):
        make_unlearner("rmu", config=GaConfig())
    with pytest.raises(TypeError, match="takes no retain"):
        make_unlearner("stamp", retain=RETAIN)
    with pytest.raises(ValueError, match="bogus"):  # STAMP settings are checked against StampConfig
        make_unlearner("stamp-api", overrides={"bogus": 1})
    with pytest.raises(KeyError, match="unknown method"):
        make_unlearner("nope")


def test_names_stand_for_their_defaults():
    assert make_unlearner("stamp-lr").config.overrides == {"method": "stamp-lr"}
    paper_lr = make_unlearner("paper-lr")
    assert isinstance(paper_lr, EditUnlearner)
    assert paper_lr.config.stamp_kwargs() == {
        "method": "stamp-lr",
        "recipe": "paper",
        "solver": "paper",
        "layers": "auto",
    }
    # a config's own overrides win over the recipe's settings
    assert EditConfig(recipe="paper", overrides={"layers": [3]}).stamp_kwargs()["layers"] == [3]
    rmu = make_unlearner("rmu", config=RmuConfig(steps=5))
    assert rmu.config.steps == 5 and rmu.config.alpha == 1200.0


@pytest.fixture(scope="module")
def tiny():
    from test_baselines import _tokenizer

    tok = _tokenizer(chat=True)
    return SimpleNamespace(model=tiny_llama_for(tok), tokenizer=tok)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_training_unlearners_change_the_weights_and_undo_restores_them(name, tiny):
    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    extra = {"steps": 2} if name == "rmu" else {}
    u = make_unlearner(name, retain=RETAIN, lr=1e-3, max_length=64, **extra)
    u.prepare(tiny)
    a = u.unlearn(tiny, ForgetRequest(subject="Alice Moreau", pairs=FORGET))
    assert a.changed and a.outcome == "trained" and a.detail["steps"] >= 1 and a.detail["rte_s"] > 0
    assert any(not torch.equal(v, before[k]) for k, v in tiny.model.state_dict().items())
    u.undo(tiny, a)
    assert all(torch.equal(v, before[k]) for k, v in tiny.model.state_dict().items())
    with pytest.raises(KeyError, match="no snapshot"):
        u.undo(tiny, a)


def test_the_runner_configures_every_method_from_the_run(tmp_path):
    task = build_task("hazard", seed=0, size=4)
    cfg = RunConfig(
        baseline_lr=3e-5,
        baseline_batch_size=2,
        seed=7,
        amp=False,
        progress=False,
        stamp_set={"alpha_margin": 1.5},
        stamp_guard=2,
        stamp_guard_budget="each",
    )
    ga = build_unlearner("ga", cfg, task.retain, tmp_path, epochs=1, warm=task.forget[0])
    assert isinstance(ga, TrainingUnlearner)
    assert (ga.config.epochs, ga.config.lr, ga.config.batch_size, ga.config.seed) == (1, 3e-5, 2, 7)
    rmu = build_unlearner("rmu", cfg, task.retain, tmp_path, epochs=1, warm=task.forget[0])
    assert rmu.config.lr == 5e-4 and rmu.config.batch_size == 2  # its own lr wins over the run-wide one
    st = build_unlearner("stamp-lr", cfg, task.retain, tmp_path, epochs=1, warm=task.forget[0], rank=8)
    assert isinstance(st, EditUnlearner)
    assert st.config.overrides == {"method": "stamp-lr", "rank": 8, "alpha_margin": 1.5}
    assert st.config.guard == [q.prompt for q in task.retain[:2]] and st.config.guard_budget == "each"
    assert st.config.warm_pair == task.forget[0].pair() and st.config.retain_buffer.endswith(".jsonl")
    # STAMP takes one request per subject, a baseline the whole forget set at once
    per_subject = requests_for("stamp", task.forget)
    assert len(per_subject) == len({q.subject for q in task.forget}) == 2
    assert sum(len(r.pairs) for r in per_subject) == len(task.forget)
    [batch] = requests_for("ga", task.forget)
    assert batch.pairs == [q.pair() for q in task.forget]
