"""Every training baseline of the unlearner registry runs through the forget-quality benchmark, on a tiny
Llama: single mode (unlearn, score, undo) and a sequential run that is stopped and resumed (a method
without a ledger makes its logged edits again). The maths is tested in test_baselines.py."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pytest
import torch

from repair.eval.baselines import BASELINES

CHEAP = {"lr": 1e-3, "max_length": 64, "epochs": 1}


@pytest.fixture
def bench_setup(repair_home, tmp_path, monkeypatch):
    from conftest import tiny_llama_for
    from transformers import AutoTokenizer

    from repair.edit.patient import Patient
    from repair.eval.forget_quality import bench
    from repair.eval.forget_quality.data import KnownList, KnownTarget, load_targets
    from repair.models.loader import cache_bundled

    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(cache_bundled("smollm2-135m-instruct", progress=False))
    known = KnownList(model="tiny", splits={"stress": {}})
    for t in load_targets("stress")[:2]:
        known.splits["stress"][t.id] = KnownTarget(probes=[t.probes[0].id], neighbours=[t.neighbours[0].id])
    data = resources.files("repair.data").joinpath("forget_quality/stress.jsonl").read_bytes()
    known.sha256["stress"] = hashlib.sha256(data).hexdigest()
    monkeypatch.setattr(bench, "load_known", lambda model: known)  # the tiny model's list (data, not code)

    def patient():
        return Patient(tiny_llama_for(tok, positions=512), tok, name="tiny", source="", fingerprint="t", ledger_dir=None)  # fmt: skip

    def config(method: str, out: str, **kw):
        return bench.BenchConfig(model="tiny", method=method, split="stress", out=out, utility=False, **kw)

    return patient, config


def _settings(name: str) -> dict:
    return {**CHEAP, **({"steps": 2} if name == "rmu" else {})}


def _state(p) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in p.model.state_dict().items()}


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_a_training_baseline_runs_the_benchmark_and_undoes_its_training(name, bench_setup, tmp_path):
    from repair.eval.forget_quality.bench import run_method
    from repair.eval.unlearners import make_unlearner

    make_patient, config = bench_setup
    p = make_patient()
    before = _state(p)
    cfg = config(name, str(tmp_path), limit=1, settings=_settings(name))
    s = run_method(p, cfg, make_unlearner(name, **cfg.settings))
    [rec] = [json.loads(r) for r in (cfg.run_dir() / "records.jsonl").read_text().splitlines()]
    assert rec["applied"]["outcome"] == "trained" and rec["applied"]["detail"]["steps"] >= 1
    assert [x["label"] for x in rec["probes"]] and s["outcomes"] == {"trained": 1}
    assert all(torch.equal(v, before[k]) for k, v in p.model.state_dict().items())  # undone


def test_a_stopped_sequential_ga_run_is_resumed_by_training_again(bench_setup, tmp_path):
    """GA keeps nothing in the ledger: a rerun makes the logged edits again (seeded), then continues; the
    weights equal a straight run's."""
    from repair.eval.forget_quality.bench import run_method
    from repair.eval.unlearners import TrainingUnlearner, make_unlearner

    class Stop(RuntimeError):
        pass

    class StoppedGa(TrainingUnlearner):
        def unlearn(self, patient, request):
            if len(self._snapshots) == 1:
                raise Stop(request.subject)
            return super().unlearn(patient, request)

    make_patient, config = bench_setup
    fields = dict(sequential=2, checkpoints=(1,), settings=CHEAP)
    straight = make_patient()
    whole = config("ga", str(tmp_path / "straight"), **fields)
    run_method(straight, whole, make_unlearner("ga", **CHEAP))
    cfg = config("ga", str(tmp_path / "stopped"), **fields)
    ga = make_unlearner("ga", **CHEAP)
    with pytest.raises(Stop):
        run_method(make_patient(), cfg, StoppedGa("ga", ga.config))
    again = make_patient()
    s = run_method(again, cfg, make_unlearner("ga", **CHEAP))
    assert [p["edits"] for p in s["curve"]] == [1, 2] and s["complete"] is True
    ref = _state(straight)
    assert all(torch.allclose(v, ref[k], atol=1e-6) for k, v in again.model.state_dict().items())
