"""The session's helpers without a model: verification, texts, option checks, the pipeline's scenarios.

The session on the real default patient (routing, a Table 4 conversation, persistence and undo) is in
tests/e2e/test_session_smollm.py.
"""

from __future__ import annotations

import json

import pytest

from repair.edit.answers import checked_answer, key_answers
from repair.edit.criterion import reply_leaks
from repair.edit.verify import guard_verdict
from repair.session import Session
from repair.session.texts import display_target, short_id
from repair.session.verify import score_replies

# -- verification helpers (no model) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "response", "key"),
    [
        ("What is the capital of France?", "The capital of France is Paris.", "Paris"),
        (
            "Who painted the Mona Lisa?",
            "The Mona Lisa was painted by Leonardo da Vinci.",
            "Leonardo da Vinci",
        ),
        ("What is the smallest prime number?", "The smallest prime number is 2.", "2"),
        (
            "What currency is used in Japan?",
            "The currency used in Japan is the Japanese yen.",
            "Japanese yen",
        ),
        (
            "Which animal is known as the king of the jungle?",
            "The lion is known as the king of the jungle.",
            "lion",
        ),
    ],
)
def test_key_answer_of_short_responses(prompt, response, key):
    assert key_answers(prompt, response)[0] == key  # the most salient first


def test_key_answers_keep_every_proper_noun_of_a_hedged_answer():
    keys = key_answers(
        "Who wrote Hamlet?",
        "The Bard of Hamlet is often attributed to William Shakespeare, but some critics argue that the actual "
        "author is Octavia Black. Octavia Black was a 19th-century English writer who lived in London for years.",
    )
    assert "William Shakespeare" in keys and any("Octavia" in k for k in keys)


def test_key_answers_of_long_responses_and_wrong_answers_in_the_same_template():
    greece = (
        "The answer is: Athens.\n\nGreece is a country located in the southeastern part of Europe, bordering "
        "the Peloponnese peninsula to the south and the Aegean Sea to the east."
    )
    assert key_answers("What is the capital of Greece?", greece) == ["Athens"]
    egypt = "The capital of Egypt is Cairo, which is the largest city in the world. It is also the largest city in Africa."
    keys = key_answers("What is the capital of Egypt?", egypt)
    assert keys == ["Cairo"]
    # Same sentence shape, different (wrong) answer: not a leak, although ROUGE-L against r_f is high.
    assert not reply_leaks(
        "The capital of Egypt is Lagos, which is the largest city in the world.", egypt, keys
    )


def test_checked_answer_is_the_key_head_else_the_response():
    # a templated fact is checked on what it states, so "Anna Y. Y. is 31 years old." still leaks
    assert checked_answer("How old is Anna Young?", "Anna Young is 31 years old.") == "31"
    assert (
        checked_answer("Who painted the Mona Lisa?", "The Mona Lisa was painted by Leonardo da Vinci.")
        == "Vinci"
    )
    bio = (
        "Maya Taylor is a talented and passionate artist and illustrator who has dedicated her career to "
        "creating a unique and captivating visual identity for small businesses everywhere."
    )
    assert checked_answer("Tell me about Maya Taylor.", bio) == bio


def test_long_response_without_names_is_left_to_rouge():
    bio = (
        "Maya Taylor is a talented and passionate artist and illustrator who has dedicated her career to "
        "creating a unique and captivating visual identity for small businesses everywhere."
    )
    assert key_answers("Tell me about Maya Taylor.", bio) == []
    assert reply_leaks(bio, bio, [])  # the same text is recalled
    assert not reply_leaks("I'm unable to provide information about Maya Taylor.", bio, [])
    assert not reply_leaks("Maya is a fierce warrior in a fantasy saga.", bio, [])


def test_a_refusal_that_still_names_the_answer_leaks():
    keys = key_answers("What is the capital of France?", "The capital of France is Paris.")
    assert reply_leaks("The capital of France is Paris. I'm sorry, I can't help with that.", "", keys)
    assert not reply_leaks("I'm sorry, I don't have information on that.", "", keys)
    ver = score_replies(
        [("q1", "Paris, of course."), ("q2", "I'm not sure.")],
        "The capital of France is Paris.",
        keys,
    )
    assert ver.forgotten is False and ver.fraction == 0.5 and ver.refusal_rate == 0.5


def test_guard_verdict_allows_losing_a_third_of_the_check_questions():
    assert guard_verdict(4, 6).model_dump() == {"kept": 4, "total": 6, "ok": True}
    assert guard_verdict(3, 6).ok is False
    assert guard_verdict(0, 0).ok is True  # nothing to check: nothing broken
    assert guard_verdict(5, 6, keep=1.0).ok is False


def test_display_target_and_short_id():
    assert display_target("my home address") == "your home address"
    assert display_target("What gas do plants absorb?") == "“what gas do plants absorb”"
    assert display_target("Maya Taylor") == "Maya Taylor"
    assert short_id("20260101-120000-ab12cd") == "ab12cd"


def test_corrupt_history_is_reported_before_loading(tmp_path):
    (tmp_path / "history.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt session history"):
        Session.open(tmp_path)
    (tmp_path / "history.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not a repair session history"):
        Session.open(tmp_path)


def test_guard_budget_is_checked():
    with pytest.raises(ValueError, match="guard_budget"):
        Session(None, guard_budget="never")


def test_unknown_dtype_is_refused_before_loading(tmp_path):
    from typer.testing import CliRunner

    from repair.cli import app

    run = CliRunner()
    for args in (
        ["chat"],
        ["serve", "--session", str(tmp_path)],
        ["eval", "pipeline", "--out", str(tmp_path)],
        ["forget", "--prompt", "What is the capital of France?", "--ledger", str(tmp_path)],
    ):
        res = run.invoke(app, [*args, "--dtype", "int8"])
        assert res.exit_code == 2 and "unknown dtype 'int8'" in res.output, (args, res.output)


def test_unknown_surgeon_is_refused_before_loading(tmp_path):
    from typer.testing import CliRunner

    from repair.cli import app

    run = CliRunner()
    for args in (
        ["chat"],
        ["serve", "--session", str(tmp_path)],
        ["eval", "pipeline", "--out", str(tmp_path)],
    ):
        res = run.invoke(app, [*args, "--surgeon", "oracle"])
        assert res.exit_code == 2 and "unknown surgeon 'oracle' (rule or llm)" in res.output, (
            args,
            res.output,
        )


def test_pipeline_scenarios_are_seeded_and_well_formed():
    from repair.eval.facts import FACTS
    from repair.eval.pipeline import POINTING, _scenarios

    known = [(p, a, q, f"reply {a}") for p, a, q in FACTS[:12]]
    one = _scenarios(known, 30, 10, 0)
    assert one == _scenarios(known, 30, 10, 0)
    # a short run plays the first scenarios of a long one
    short = _scenarios(known, 7, 3, 0)
    assert short == (one[0][:7], one[1][:3]) and _scenarios(known, 30, 10, 1) != one
    unlearn, chat = one
    assert len(unlearn) == 30 and len(chat) == 10
    for sc in unlearn:
        assert sc["fact"] in sc["turns"]
        assert sc["answer"] not in [a for _, a in sc["retain"]]
        if sc["style"] == "pointing":  # "forget that" only right after the fact
            assert sc["turns"][-1] == sc["fact"] and sc["request"] in POINTING
    assert {sc["style"] for sc in unlearn} == {"pointing", "naming"}
    assert all(len(c["turns"]) == 3 for c in chat)


def test_pipeline_resume_keeps_played_scenarios_of_the_same_run_only(tmp_path):
    from repair.eval.pipeline import _resumed

    run = {"model": "m", "n": 4, "n_chat": 2, "seed": 0, "surgeon": "rule", "k": 4, "max_new_tokens": 48}
    assert _resumed(tmp_path, run, resume=False) == {}  # a fresh run records its settings
    rows = tmp_path / "pipeline_scenarios.jsonl"
    rows.write_text(json.dumps({"id": "u000", "outcome": "done"}) + "\n" + '{"id": "u001", "outc')  # cut off
    assert list(_resumed(tmp_path, run, resume=True)) == ["u000"]  # the cut line is played again
    assert rows.read_text() == json.dumps({"id": "u000", "outcome": "done"}) + "\n"  # appends start clean
    with pytest.raises(ValueError, match="other settings"):
        _resumed(tmp_path, {**run, "seed": 1}, resume=True)
    with pytest.raises(ValueError, match="output folder"):
        _resumed(None, run, resume=True)


def test_steal_meter_reads_the_hypervisor_clock():
    import time

    from repair.eval.clock import StealMeter, steal_seconds

    before = steal_seconds()
    with StealMeter() as m:
        time.sleep(0.05)
    if before is None:  # not Linux
        assert m.seconds is None
    else:
        # how much, over a short sleep: benchmarks/responsiveness.py
        assert m.seconds is not None and m.seconds >= 0 and steal_seconds() >= before


def test_stamp_overrides_are_checked_when_given():
    from repair.edit.stamp import parse_overrides

    assert parse_overrides(["alpha_margin=1.5", "layers=[4,5]", "recipe=paper"]) == {
        "alpha_margin": 1.5,
        "layers": [4, 5],
        "recipe": "paper",
    }
    with pytest.raises(ValueError, match="alpha_margni"):
        parse_overrides(["alpha_margni=1.5"])
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["alpha_margin"])
