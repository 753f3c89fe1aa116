"""The session: verification helpers, routing and errors, a Table 4 conversation, persistence and undo.

The model tests run on the real default patient (SmolLM2-135M-Instruct); nothing is mocked.
"""

from __future__ import annotations

import json

import pytest

import repair
from repair.edit.answers import checked_answer, key_answers
from repair.edit.verify import guard_verdict, still_answers
from repair.eval.metrics import answer_match
from repair.session import Session
from repair.session.guard import guard_key
from repair.session.texts import display_target, short_id
from repair.session.verify import reply_leaks, score_replies

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


# -- on the real default model ----------------------------------------------------------------------


@pytest.mark.e2e
def test_routing_and_errors_keep_the_session_working(smollm):
    session = Session(smollm, max_new_tokens=24)
    edits_before = len(smollm.ledger.active)

    for empty in ("", "   \n"):
        r = session.send(empty)
        assert (r.kind, r.error) == ("error", "empty")

    r = session.send("Forget that.")  # nothing has been said yet: no identifiable target
    assert (r.kind, r.outcome, r.edit_id) == ("unlearn", "no_target", None)
    assert "could not tell what to forget" in r.text

    r = session.send("What is the capital of France?")
    assert r.kind == "chat" and "Paris" in r.text
    assert (
        r.timings["watchdog"] < 0.1 * r.timings["generate"] + 0.5
    )  # the classifier is cheap next to generation

    for negative in ("I forgot my password, how do I reset it?", "How do I make my browser forget cookies?"):
        assert session.send(negative).kind == "chat"

    r = session.send("Forget my home address.")  # the user never gave one
    assert (r.kind, r.outcome) == ("unlearn", "unknown_target")
    assert "I have nothing stored about your home address" in r.text

    assert len(smollm.ledger.active) == edits_before  # no edit was made on the way
    kinds = [t["kind"] for t in session.history if t["role"] == "user"]
    assert kinds == ["unlearn", "chat", "chat", "chat", "unlearn"]  # errors are not recorded
    assert session.send("What is the capital of Japan?").kind == "chat"  # still working


# A fact this model knows and the current engine removes with the retain guard satisfied; unrelated facts
# that must survive the edit.
FACT = ("What is the capital of China?", "Beijing")
UNRELATED = [
    ("Who wrote Romeo and Juliet?", "Shakespeare"),
    ("What is the largest planet in our solar system?", "Jupiter"),
    ("Who painted the Mona Lisa?", "Leonardo"),
]


@pytest.mark.e2e
def test_table4_conversation_persists_and_undoes(tmp_path):
    folder = tmp_path / "chat"
    session = Session.open(folder, max_new_tokens=32).warm()
    assert session.patient.cache[guard_key(session.patient)], "warm() asks the check questions up front"
    question, answer = FACT

    pre = session.send(question)
    assert pre.kind == "chat" and answer_match(pre.text, answer), pre.text

    ack = session.send("Forget what you just told me.")
    assert ack.kind == "unlearn" and ack.outcome == "done", ack.text
    assert ack.text.startswith("Done. Information related to") and short_id(ack.edit_id) in ack.text
    assert ack.verification.forgotten and ack.verification.guard.ok
    assert "repair.stamp(" in ack.plan.python
    # The check questions answered with the committed edit become the next request's guard set, each
    # with the edited model's own greedy reply (a teacher-forced forward proves it, as for a fresh set).
    carried = session.patient.cache[guard_key(session.patient)]
    assert len(carried) == ack.verification.guard.kept > 0
    assert all(
        still_answers(
            session.patient,
            [g.question for g in carried],
            [g.reply for g in carried],
            [g.gold for g in carried],
        )
    )

    post = session.send(question)
    assert post.kind == "chat" and not answer_match(post.text, answer), post.text
    kept = session.patient.generate([q for q, _ in UNRELATED], max_new_tokens=32)
    assert sum(answer_match(k, a) for k, (_, a) in zip(kept, UNRELATED, strict=True)) >= 2, kept

    # Reopening the folder restores the healed model and the turns.
    again = Session.open(folder, max_new_tokens=32)
    assert [e.id for e in again.edits()] == [ack.edit_id]
    assert [t["content"] for t in again.history] == [t["content"] for t in session.history]
    assert not answer_match(again.patient.chat(question, max_new_tokens=32), answer)

    # /undo restores the answer; the forgotten turn is visible to the chat again.
    again.undo(short_id(ack.edit_id))
    assert again.edits() == []
    assert answer_match(again.patient.chat(question, max_new_tokens=32), answer)
    assert not any(t.get("redacted_by") for t in again.history)
    reopened = Session.open(folder)
    assert reopened.edits() == [] and len(reopened.history) == len(again.history)


@pytest.mark.e2e
def test_bfloat16_session_forgets_and_its_ledger_reopens_in_float32(tmp_path):
    import torch

    folder = tmp_path / "bf16"
    session = Session.open(folder, dtype="bfloat16", max_new_tokens=32).warm()
    assert next(session.patient.model.parameters()).dtype == torch.bfloat16
    question, answer = FACT
    assert answer_match(session.send(question).text, answer)
    ack = session.send("Forget what you just told me.")
    assert ack.outcome == "done", ack.text
    assert not answer_match(session.patient.chat(question, max_new_tokens=32), answer)
    # A second edit counts its check questions against the session's first set (guard_budget "base"):
    # what the first edit cost stays spent. Say it cost one more question than it did: the set carried to
    # the next request shrinks, the budget's total does not.
    total = ack.verification.guard.total
    key = guard_key(session.patient)
    session.patient.cache[key] = session.patient.cache[key][:-1]
    session.send(UNRELATED[0][0])
    second = session.send("Forget what you just said.")
    assert second.kind == "unlearn" and second.verification is not None, second.text
    assert second.verification.guard.total == total, (second.text, second.verification.guard)
    if second.edit_id:
        session.undo(second.edit_id)
    # the stored deltas are float32: the same edit applies to a float32 patient
    again = Session.open(folder, max_new_tokens=32)
    assert next(again.patient.model.parameters()).dtype == torch.float32
    assert [e.id for e in again.edits()] == [ack.edit_id]
    assert not answer_match(again.patient.chat(question, max_new_tokens=32), answer)
    again.undo(ack.edit_id)
    assert answer_match(again.patient.chat(question, max_new_tokens=32), answer)


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


@pytest.mark.e2e
def test_session_adopts_a_clean_patient(tmp_path):
    # A clean patient adopts the session's ledger folder; the edits in it come back on reopen.
    patient = repair.load("smollm2-135m-instruct", ledger=False)
    session = Session(patient, session_dir=tmp_path)
    assert patient.ledger.root == tmp_path / "ledger"
    assert session.edits() == []


@pytest.mark.e2e
def test_chat_cli_runs_on_piped_stdin(tmp_path):
    from typer.testing import CliRunner

    from repair.cli import app

    script = "What is the capital of France?\n\n/edits\n/undo nope\n/undo\n/history\n/plan\n/bogus\n/help\n/quit\nnever read\n"
    result = CliRunner().invoke(app, ["chat", "--session", str(tmp_path / "s")], input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "> What is the capital of France?" in out and "Paris" in out
    assert "Empty message" in out and "no edit 'nope'" in out and "usage: /undo ID" in out
    assert "no repair yet" in out and "unknown command /bogus" in out and "never read" not in out
    from repair.edit.ledger import History, Store

    saved = History(Store(tmp_path / "s" / "ledger")).load()  # the turns live in the ledger's database
    assert [t.role for t in saved] == ["user", "assistant"]


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
        assert m.seconds is not None and 0 <= m.seconds <= 0.05 + 0.02 and steal_seconds() >= before


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
