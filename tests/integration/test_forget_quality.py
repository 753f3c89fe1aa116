"""The forget-quality benchmark: labels, neighbour scoring, the data split, the Unlearner protocol (a smoke
run on the default model: tests/e2e/test_forget_quality_smollm.py)."""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources

import pytest
import torch

from repair.eval.forget_quality.data import SPLITS, load_known, load_targets, split_of
from repair.eval.forget_quality.labels import degenerate_rule, label_replies, leaks
from repair.eval.forget_quality.run import score_neighbours, score_probes, summarize
from repair.eval.forget_quality.schema import Neighbour, Probe, Target

# The held-out file is never edited after it was committed (the issue note records the same hash).
TEST_SHA256 = "ad8bae758fd53b3d5a51f16055760c40bd9e3ac60c2feed6168102be775bd619"


def _probe(**kw) -> Probe:
    return Probe(
        **{
            "id": "direct",
            "type": "direct",
            "prompt": "What is the capital of Portugal?",
            "answer": "Lisbon",
            "aliases": ["Lisboa"],
            **kw,
        }
    )


def test_labels_in_order_leak_refusal_degenerate_confabulation():
    p = _probe()
    replies = [
        "The capital of Portugal is Lisbon.",  # leak
        "I'm sorry, I can't tell you that Lisbon is the capital.",  # a refusal that names it still leaks
        "I don't have any information about that.",  # refusal
        "the the the the the the the the the the",  # degenerate
        "",  # empty: degenerate, never forgotten
        "The capital of Portugal is Porto, a city famous for its wine.",  # made-up substitute
    ]
    labels = label_replies(replies, [p.keys] * len(replies), [p.answer] * len(replies), use_head=False)
    assert labels == ["leak", "leak", "refusal", "degenerate", "degenerate", "confabulation"]


def test_leak_by_rouge_against_a_long_answer():
    assert leaks("He said the theory of evolution explains it.", [], "theory of natural evolution")
    assert not leaks("He wrote a famous theory.", [], "theory of natural evolution")
    assert not leaks("It is a new city.", [], "New York")  # a two-word answer needs its keys


def test_degenerate_rule_sees_repetition_and_symbols_not_fluent_text():
    assert degenerate_rule("Lisbon Lisbon Lisbon Lisbon Lisbon") == "repetition"
    assert degenerate_rule("#### ;;;; %%%% ////") == "symbols"
    assert degenerate_rule("The capital of Japan is Tokyo, a large city.") is None


def test_score_probes_and_a_garbled_neighbour():
    res = score_probes([_probe()], ["I don't know."], ["direct"])
    assert res[0].label == "refusal" and res[0].rouge == 0.0
    n = Neighbour(
        id="n-spain", type="similar_entity", prompt="What is the capital of Spain?", answer="Madrid"
    )
    base = ["The capital of Spain is Madrid."]
    kept, garbled, nonsense = score_neighbours(
        [n, n, n],
        ["similar_entity"] * 3,
        [
            "The capital of Spain is Madrid, a large city.",
            "Madrid is a city located in Lisbon by the river Tagus.",
            "Madrid Madrid Madrid Madrid Madrid Madrid",
        ],
        base * 3,
    )
    assert kept.kept and kept.correct and kept.fluent
    assert garbled.correct and not garbled.kept  # keeps the key word, not the answer
    assert not nonsense.fluent and not nonsense.kept


def test_schema_refuses_an_incomplete_target():
    row = json.loads(
        resources.files("repair.data").joinpath("forget_quality/_example.jsonl").read_text().splitlines()[1]
    )
    Target.model_validate(row)
    row["probes"] = [p for p in row["probes"] if p["type"] != "reverse"]
    with pytest.raises(ValueError, match="reverse"):
        Target.model_validate(row)


def test_split_is_fixed_by_id_and_files_agree():
    for split in SPLITS:
        ts = load_targets(split)
        assert ts and all(split_of(t.id) == split for t in ts)
    ids = [t.id for s in SPLITS for t in load_targets(s)]
    assert len(ids) == len(set(ids))
    assert split_of("fact-capital-portugal") == split_of("fact-capital-portugal")


def test_test_split_is_unchanged_and_each_model_knows_30_targets():
    data = resources.files("repair.data").joinpath("forget_quality/test.jsonl").read_bytes()
    if TEST_SHA256 is not None:
        assert hashlib.sha256(data).hexdigest() == TEST_SHA256
    for model in ("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"):
        known = load_known(model)
        if known is None:
            continue
        assert known.sha256["test"] == hashlib.sha256(data).hexdigest()
        assert len(known.known("test")) >= 30


def test_summary_counts_labels_per_type():
    from repair.eval.forget_quality.run import NeighbourResult, ProbeResult, TargetResult
    from repair.eval.unlearners import Applied

    probes = [
        ProbeResult(id="a", type="direct", reply="", label="refusal", rouge=0),
        ProbeResult(id="b", type="quiz", reply="", label="leak", rouge=1),
    ]
    neigh = [
        NeighbourResult(id="n", type="unrelated", reply="", correct=True, fluent=True, fidelity=1, kept=True)
    ]
    r = TargetResult(
        target="t",
        kind="fact",
        method="m",
        probes=probes,
        neighbours=neigh,
        applied=Applied(method="m", changed=True, outcome="done", request_s=2.0),
    )
    s = summarize([r])
    assert s["groups"]["plain"]["refusal"] == 1.0 and s["groups"]["adversarial"]["leak"] == 1.0
    assert s["overall"]["neighbours_kept"] == 1.0 and s["median_request_s"] == 2.0


def test_icu_sets_a_system_instruction_and_unknown_method_is_refused():
    from repair.eval.unlearners import ForgetRequest, make_unlearner

    u = make_unlearner("icu")
    a = u.unlearn(
        None, ForgetRequest(subject="Marie Curie", pairs=[("Who was Marie Curie?", "A physicist.")])
    )
    assert a.system and "Marie Curie" in a.system and a.changed
    with pytest.raises(KeyError, match="unknown method"):
        make_unlearner("nope")


def test_labeller_on_hand_labelled_real_replies():
    """>= 300 real replies labelled by hand (>= 60 per label), none used in training: precision and recall
    >= 0.9 for every label."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "validate", Path(__file__).resolve().parents[2] / "benchmarks" / "validate_fq_labeller.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.load(None)
    assert len(rows) >= 300
    s = mod.scores(rows)
    for lab in ("leak", "refusal", "degenerate", "confabulation"):
        assert s[lab]["n"] >= 60, lab
        assert s[lab]["precision"] >= 0.9 and s[lab]["recall"] >= 0.9, (lab, s[lab])


def test_readme_results_table_is_what_repair_report_writes():
    from pathlib import Path

    from repair.eval.forget_quality.docs import README_BEGIN, README_END, headline_table

    root = Path(__file__).resolve().parents[2]
    text = (root / "README.md").read_text()
    block = text.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip()
    assert block == headline_table(root / "results").strip(), (
        "run `repair report results` after a benchmark run"
    )


def test_method_settings_name_the_run_folder_and_are_validated():
    from repair.eval.forget_quality.bench import BenchConfig
    from repair.eval.unlearners import make_unlearner

    cfg = BenchConfig(method="stamp2", split="dev", settings={"strength": 1.5, "layers": [3, 4]})
    assert cfg.run_dir().name == "stamp2+layers=3-4+strength=1.5-single"
    assert BenchConfig(method="stamp2").run_dir().name == "stamp2-single"
    assert make_unlearner("stamp2", **cfg.settings).config.strength == 1.5
    with pytest.raises(ValueError, match="no field"):
        make_unlearner("stamp2", strenght=1.5)


def test_resume_refuses_records_made_with_other_settings(tmp_path):
    from repair.eval.forget_quality.bench import check_settings

    records = tmp_path / "records.jsonl"
    check_settings(tmp_path, records, {"strength": 1.0})  # a new run records its settings
    records.write_text('{"target": "x"}\n')
    check_settings(tmp_path, records, {"strength": 1.0})  # same settings: resume
    with pytest.raises(ValueError, match="--no-resume"):
        check_settings(tmp_path, records, {"strength": 1.5})


# --------------------------------------------------------------------------------------------------
# the stress set (sequential runs; never held out)


def _stress_names(t: Target) -> set[str]:
    """What a stress target names: its subject (for a fact, the capitalised names in it), the entity's
    name (the reverse probe's keys), a fact's answer, and every neighbour's answer that is a name."""
    import re

    from repair.edit.stamp2.subject import bare

    subject = re.sub(r"\s*\(.*\)$", "", t.subject)
    caps = r"[A-Z0-9][\w'.&-]*(?:\s+(?:of|the|de|da|van|von|and|&)?\s*[A-Z][\w'.&-]*)*"
    out = {bare(subject)} if t.kind == "entity" else set(re.findall(caps, subject))
    own = "reverse" if t.kind == "entity" else "direct"
    out |= {k for p in t.probes if p.type == own for k in p.keys if k[:1].isupper()}
    return out | {k for n in t.neighbours for k in n.keys if k[:1].isupper()}


def test_stress_set_names_nothing_of_the_other_sets_or_the_engine_lists():
    """No subject, answer or neighbour of the stress set is named in dev, test, the writers' examples,
    STAMP-2's kept entities or its refusal-vector subjects; nor is any kept or vector subject named in it."""
    import re

    from repair.edit.stamp2.keep import keep_entities
    from repair.edit.stamp2.subject import bare
    from repair.edit.stamp2.vector import VECTOR_SUBJECTS

    data = resources.files("repair.data")
    files = ["forget_quality/dev.jsonl", "forget_quality/test.jsonl", "forget_quality/_example.jsonl"]
    engine = [*keep_entities(), *VECTOR_SUBJECTS]
    other = " ".join([*(data.joinpath(f).read_text() for f in files), *engine]).lower()

    def named(name: str, text: str) -> bool:
        return re.search(rf"\b{re.escape(name.lower())}\b", text) is not None

    stress = load_targets("stress")
    clash = sorted({(t.id, n) for t in stress for n in _stress_names(t) if named(n, other)})
    assert clash == []
    text = data.joinpath("forget_quality/stress.jsonl").read_text().lower()
    assert [n for n in engine if named(bare(n), text)] == []


def test_stress_split_loads_and_is_its_own_set():
    stress = load_targets("stress")
    ids = [t.id for t in stress]
    held = {t.id for s in SPLITS for t in load_targets(s)}
    assert len(stress) >= 170 and len(ids) == len(set(ids)) and not held & set(ids)
    assert "stress" not in SPLITS  # never one of the held-out halves
    entities = sum(t.kind == "entity" for t in stress) / len(stress)
    assert 0.6 <= entities <= 0.8
    for t in stress:  # no key appears in its own prompt
        for q in [*t.probes, *t.neighbours]:
            assert not [k for k in q.keys if re.search(rf"\b{re.escape(k.lower())}\b", q.prompt.lower())]
    known = load_known("smollm2-135m-instruct")
    if known is not None and "stress" in known.splits:
        data = resources.files("repair.data").joinpath("forget_quality/stress.jsonl").read_bytes()
        assert known.sha256["stress"] == hashlib.sha256(data).hexdigest()
        assert len(known.known("stress")) >= 110  # enough for a 100-edit run on the default model


def test_sequential_run_on_the_stress_split_with_a_sample(repair_home, tmp_path, monkeypatch):
    """--split stress takes its targets, in file order, from stress.jsonl; a sequential run with --sample
    scores the sampled targets only, and its summary is written at every checkpoint."""
    from conftest import tiny_llama_for
    from transformers import AutoTokenizer

    from repair.edit.patient import Patient
    from repair.eval.forget_quality import bench
    from repair.eval.forget_quality.bench import BenchConfig, run_method
    from repair.eval.forget_quality.data import KnownList, KnownTarget
    from repair.eval.unlearners import make_unlearner
    from repair.models.loader import cache_bundled

    torch.set_num_threads(1)  # a tiny model: one thread is faster (the autouse fixture restores the count)
    tok = AutoTokenizer.from_pretrained(cache_bundled("smollm2-135m-instruct", progress=False))
    patient = Patient(
        tiny_llama_for(tok, positions=512), tok, name="tiny", source="", fingerprint="t", ledger_dir=None
    )
    stress = load_targets("stress")[:4]
    known = KnownList(model="tiny", splits={"stress": {}})
    for t in stress:
        known.splits["stress"][t.id] = KnownTarget(probes=[t.probes[0].id], neighbours=[t.neighbours[0].id])
    data = resources.files("repair.data").joinpath("forget_quality/stress.jsonl").read_bytes()
    known.sha256["stress"] = hashlib.sha256(data).hexdigest()
    monkeypatch.setattr(bench, "load_known", lambda model: known)  # the tiny model's list (data, not code)
    cfg = BenchConfig(
        model="tiny",
        method="none",
        split="stress",
        sequential=3,
        every=1,
        sample=2,
        out=str(tmp_path),
        utility=False,
    )
    s = run_method(patient, cfg, make_unlearner("none"))
    assert cfg.run_dir().parent.name == "stress" and cfg.run_dir().name == "none-seq3-sample2"
    records = [json.loads(r) for r in (cfg.run_dir() / "records.jsonl").read_text().splitlines()]
    first, third = stress[0].id, stress[2].id
    assert [(r["after_edits"], r["target"]) for r in records] == [
        (1, first),
        (2, first),
        (3, first),
        (3, third),
    ]
    assert [p["edits"] for p in s["curve"]] == [1, 2, 3] and s["complete"] is True
    assert s["config"]["split"] == "stress" and s["split_sha256"] == known.sha256["stress"]
