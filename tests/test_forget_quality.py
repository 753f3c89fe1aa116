"""The forget-quality benchmark: labels, neighbour scoring, the data split, the Unlearner protocol, a smoke run."""

from __future__ import annotations

import hashlib
import json
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


def test_icu_sets_a_system_instruction_and_unknown_method_is_refused():
    from repair.eval.unlearners import ForgetRequest, make_unlearner

    u = make_unlearner("icu")
    a = u.unlearn(
        None, ForgetRequest(subject="Marie Curie", pairs=[("Who was Marie Curie?", "A physicist.")])
    )
    assert a.system and "Marie Curie" in a.system and a.changed
    with pytest.raises(KeyError, match="unknown method"):
        make_unlearner("nope")


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


def test_labeller_on_hand_labelled_real_replies():
    """>= 300 real replies labelled by hand (>= 60 per label), none used in training: precision and recall
    >= 0.9 for every label."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "validate", Path(__file__).resolve().parents[1] / "benchmarks" / "validate_fq_labeller.py"
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

    root = Path(__file__).resolve().parents[1]
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
