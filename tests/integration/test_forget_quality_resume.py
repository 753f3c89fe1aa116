"""A sequential forget-quality run that is killed continues, on a rerun, from its last edit: the same
records and the same weights as a run that was never stopped (on a tiny Llama, with the real ledger)."""

from __future__ import annotations

import hashlib
import json
import zlib
from importlib import resources

import pytest
import torch

from repair.eval.unlearners import Applied, ForgetRequest


class Killed(RuntimeError):
    pass


class NudgeUnlearner:
    """Commits one rank-1 update of a down map per request to the patient's ledger, drawn from the
    subject's name (deterministic), large enough to change the tiny model's replies. ``kill_at``: raise
    right after that many commits, as a kill between the ledger's commit and the run's log would."""

    name = "nudge"

    def __init__(self, kill_at: int | None = None) -> None:
        self.kill_at, self.calls = kill_at, 0

    def prepare(self, patient) -> None:
        return None

    def unlearn(self, patient, request: ForgetRequest) -> Applied:
        from repair.edit.delta import Edit, MapDelta, new_edit_id

        w = patient.arch.linear(patient.model, 1, "down").weight
        g = torch.Generator().manual_seed(zlib.crc32(request.subject.encode()))
        b = torch.randn(w.shape[0], 1, generator=g) * 3
        a = torch.randn(1, w.shape[1], generator=g)
        edit = Edit(id=new_edit_id(), deltas=[MapDelta(layer=1, map="down", b=b, a=a, keys=a.clone())])
        patient.ledger.commit(edit, subject=request.subject)
        self.calls += 1
        if self.kill_at is not None and self.calls == self.kill_at:
            raise Killed(request.subject)
        return Applied(method=self.name, changed=True, outcome="done", edit_id=edit.id)

    def undo(self, patient, applied: Applied) -> None:
        patient.ledger.undo(applied.edit_id)


@pytest.fixture
def setup(repair_home, tmp_path, monkeypatch):
    from conftest import tiny_llama_for
    from transformers import AutoTokenizer

    from repair.edit.patient import Patient
    from repair.eval.forget_quality import bench
    from repair.eval.forget_quality.data import KnownList, KnownTarget, load_targets
    from repair.models.loader import cache_bundled

    torch.set_num_threads(1)  # a tiny model: one thread is faster (the autouse fixture restores the count)
    tok = AutoTokenizer.from_pretrained(cache_bundled("smollm2-135m-instruct", progress=False))
    stress = load_targets("stress")[:4]
    known = KnownList(model="tiny", splits={"stress": {}})
    for t in stress:
        known.splits["stress"][t.id] = KnownTarget(probes=[t.probes[0].id], neighbours=[t.neighbours[0].id])
    data = resources.files("repair.data").joinpath("forget_quality/stress.jsonl").read_bytes()
    known.sha256["stress"] = hashlib.sha256(data).hexdigest()
    monkeypatch.setattr(bench, "load_known", lambda model: known)  # the tiny model's list (data, not code)

    def patient():  # the same seeded base weights every time, as a fresh process would load them
        model = tiny_llama_for(tok, positions=512)
        return Patient(model, tok, name="tiny", source="", fingerprint="t", ledger_dir=None)

    def config(out: str, **kw):
        fields = dict(model="tiny", method="nudge", split="stress", sequential=4, every=2, sample=1)
        return bench.BenchConfig(**{**fields, "out": out, "utility": False, **kw})

    return patient, config


def _records(cfg) -> list[tuple[int, str, list[str], list[str]]]:
    rows = [json.loads(r) for r in (cfg.run_dir() / "records.jsonl").read_text().splitlines()]
    return [(r["after_edits"], r["target"], [p["reply"] for p in r["probes"]], [p["label"] for p in r["probes"]]) for r in rows]  # fmt: skip


def _weights(patient) -> torch.Tensor:
    return patient.arch.linear(patient.model, 1, "down").weight.detach().clone()


def test_a_killed_sequential_run_resumes_from_its_last_edit(setup, tmp_path):
    from repair.eval.forget_quality.bench import run_method
    from repair.eval.forget_quality.resume import read_edits

    make_patient, config = setup
    straight = make_patient()
    base = _weights(straight)
    whole = config(str(tmp_path / "straight"))
    s = run_method(straight, whole, NudgeUnlearner())
    assert [p["edits"] for p in s["curve"]] == [2, 4] and s["complete"] is True
    assert not torch.equal(_weights(straight), base)  # the edits change the weights

    cfg = config(str(tmp_path / "killed"))
    with pytest.raises(Killed):  # the third edit is committed, then the process dies before logging it
        run_method(make_patient(), cfg, NudgeUnlearner(kill_at=3))
    assert len(read_edits(cfg.run_dir() / "edits.jsonl")) == 2
    assert json.loads((cfg.run_dir() / "summary.json").read_text())["complete"] is False

    again, nudge = make_patient(), NudgeUnlearner()  # a new process, on the base weights
    s2 = run_method(again, cfg, nudge)
    assert nudge.calls == 2  # edits 3 and 4 only: 1 and 2 come back from the run's ledger
    assert [p["edits"] for p in s2["curve"]] == [2, 4] and s2["complete"] is True
    assert _records(cfg) == _records(whole)
    assert torch.equal(_weights(again), _weights(straight))  # bit-exact
    assert [e.meta.subject for e in again.ledger.active] == [e.meta.subject for e in straight.ledger.active]


def test_a_method_without_ledger_is_resumed_by_making_its_edits_again(setup, tmp_path):
    """icu keeps its state in the unlearner (the subjects of its system instruction), not in the ledger."""
    from repair.eval.forget_quality.bench import run_method
    from repair.eval.unlearners import IcuUnlearner

    class KilledIcu(IcuUnlearner):
        def unlearn(self, patient, request):
            if len(self._subjects) == 2:
                raise Killed(request.subject)
            return super().unlearn(patient, request)

    make_patient, config = setup
    whole = config(str(tmp_path / "straight"), method="icu")
    run_method(make_patient(), whole, IcuUnlearner())
    cfg = config(str(tmp_path / "killed"), method="icu")
    with pytest.raises(Killed):
        run_method(make_patient(), cfg, KilledIcu())
    icu = IcuUnlearner()
    s = run_method(make_patient(), cfg, icu)
    assert [p["edits"] for p in s["curve"]] == [2, 4] and len(icu._subjects) == 4
    assert _records(cfg) == _records(whole)


def test_resume_refuses_a_run_folder_of_other_targets(setup, tmp_path):
    from repair.eval.forget_quality.bench import run_method
    from repair.eval.forget_quality.resume import EDITS, LoggedEdit

    make_patient, config = setup
    cfg = config(str(tmp_path))
    cfg.run_dir().mkdir(parents=True)
    other = LoggedEdit(
        target="ent-not-this-one", applied=Applied(method="nudge", changed=False, outcome="none")
    )
    (cfg.run_dir() / EDITS).write_text(other.model_dump_json() + "\n")
    with pytest.raises(ValueError, match="--no-resume"):
        run_method(make_patient(), cfg, NudgeUnlearner())
    s = run_method(make_patient(), cfg.model_copy(update={"resume": False}), NudgeUnlearner())
    assert s["complete"] is True


def _fillers(n: int):
    """Hand-made filler facts (data): single facts no stress target or neighbour names."""
    from repair.eval.forget_quality.fillers import FillerFact, FillerSet

    rows = [("Chad", "N'Djamena"), ("Bhutan", "Thimphu"), ("Laos", "Vientiane"), ("Mali", "Bamako")]
    facts = [
        FillerFact(
            id=f"filler-capital-{c.lower()}",
            relation="capital",
            subject=f"the capital of {c}",
            prompt=f"What is the capital of {c}?",
            answer=a,
            source="test",
            names=[c, a],
        )
        for c, a in rows[:n]
    ]
    fields = dict(provenance="test", sources={}, candidates=n, overlapping=0, split_sha256={})
    return FillerSet(model="tiny", sample=[], panel=[], facts=facts, **fields)


def _panel(cfg) -> list[tuple[int, list[str]]]:
    rows = [json.loads(r) for r in (cfg.run_dir() / "panel.jsonl").read_text().splitlines()]
    return [(r["after_edits"], [n["reply"] for n in r["neighbours"]]) for r in rows]


def test_checkpoints_and_fillers_resume_after_a_kill_between_checkpoints(setup, tmp_path, monkeypatch):
    """The fixed sample (2 targets) first, then 4 fillers; scored at 1 and 3 edits and at the last; killed
    after the fifth edit (a filler, between checkpoints) and resumed: the same records, panel and weights."""
    from repair.eval.forget_quality import bench
    from repair.eval.forget_quality.bench import run_method
    from repair.eval.forget_quality.fillers import SampleRecord

    monkeypatch.setattr(bench, "load_fillers", lambda model: _fillers(4))
    make_patient, config = setup
    fields = dict(sequential=6, sample=2, fillers=True, checkpoints=(1, 3))
    straight = make_patient()
    whole = config(str(tmp_path / "straight"), **fields)
    s = run_method(straight, whole, NudgeUnlearner())
    assert [p["edits"] for p in s["curve"]] == [1, 3, 6] and s["complete"] is True
    assert [p["panel_n"] for p in s["curve"]] == [2, 2, 2]
    assert [e.meta.subject for e in straight.ledger.active][2:] == [
        "the capital of Chad", "the capital of Bhutan", "the capital of Laos", "the capital of Mali"
    ]  # fmt: skip
    rec = SampleRecord.model_validate_json((whole.run_dir() / "sample.json").read_text())
    assert rec.fillers == 4 and len(rec.targets) == 2 and len(rec.panel) == 2

    cfg = config(str(tmp_path / "killed"), **fields)
    with pytest.raises(Killed):
        run_method(make_patient(), cfg, NudgeUnlearner(kill_at=5))
    again, nudge = make_patient(), NudgeUnlearner()
    s2 = run_method(again, cfg, nudge)
    assert nudge.calls == 2  # the fifth edit (committed, not logged) is redone, then the sixth
    assert [p["edits"] for p in s2["curve"]] == [1, 3, 6]
    assert _records(cfg) == _records(whole) and _panel(cfg) == _panel(whole)
    assert torch.equal(_weights(again), _weights(straight))
    with pytest.raises(ValueError, match="other checkpoints"):  # a rerun must score the same points
        run_method(make_patient(), config(str(tmp_path / "killed"), **{**fields, "checkpoints": (2,)}), nudge)


def test_a_plan_refuses_bad_checkpoints_missing_fillers_and_overlap(setup, monkeypatch):
    from repair.eval.forget_quality import bench
    from repair.eval.forget_quality.fillers import fixed_sample
    from repair.eval.forget_quality.run import Scored
    from repair.eval.forget_quality.sequential import make_plan

    stress, known = bench.selected(setup[1]("unused", sequential=0))
    items = [Scored(target=t, probes=[], probe_types=[], neighbours=[], neighbour_types=[]) for t in stress]
    plan = make_plan(items, known, sequential=5, every=2, checkpoints=(1, 3), sample=2, fillers=_fillers(4))
    assert [p.is_checkpoint(n) for p in [plan] for n in range(1, 6)] == [True, False, True, False, True]
    assert [s.target.id for s in plan.items[:2]] == [t.id for t in fixed_sample(stress, 2)]
    for bad in [(3, 1), (0, 2), (2, 2), (9,)]:
        with pytest.raises(ValueError, match="checkpoint"):
            make_plan(items, known, sequential=5, every=2, checkpoints=bad, sample=2, fillers=_fillers(4))
    with pytest.raises(ValueError, match="needs --sample"):
        make_plan(items, known, sequential=5, every=2, fillers=_fillers(4))
    with pytest.raises(ValueError, match="need 4 filler facts"):
        make_plan(items, known, sequential=6, every=2, sample=2, fillers=_fillers(3))
    clash = _fillers(1)
    clash.facts[0].names = [stress[0].subject]  # names a sample target
    with pytest.raises(ValueError, match="name what the sample"):
        make_plan(items, known, sequential=3, every=2, sample=2, fillers=clash)


def test_the_fixed_sample_takes_single_facts_first_and_is_deterministic():
    from repair.eval.forget_quality.data import load_targets
    from repair.eval.forget_quality.fillers import fixed_sample

    ts = load_targets("stress")
    facts = [t for t in ts if t.kind == "fact"]
    s = fixed_sample(ts, len(facts) + 3)
    assert [t.id for t in s] == [t.id for t in fixed_sample(ts, len(facts) + 3)]
    assert {t.id for t in facts} <= {t.id for t in s} and len(s) == len(facts) + 3
    assert [t.id for t in s] == [t.id for t in ts if t in s]  # file order
    assert [t.id for t in fixed_sample(ts, 2)] == [t.id for t in facts[:2]]
