"""How a STAMP-2 request's check replies are labelled and told to the user."""

from __future__ import annotations

from repair.edit.criterion import label
from repair.edit.record import GuardCheck, ProbeCheck, Verification
from repair.session.subject import subject_failure, subject_summary


def _ver(*labels: str, ok: bool = True) -> Verification:
    probes = [ProbeCheck(prompt=f"q{i}?", reply=f"reply {i}", label=lab) for i, lab in enumerate(labels)]
    return Verification.of(probes, guard=GuardCheck(kept=5 if ok else 1, total=5, ok=ok), engine="stamp2")


def test_labels_leak_before_refusal_before_substitute():
    assert label("I don't know who founded Toyota, maybe Kiichiro Toyoda", leaks=True) == "leak"
    assert label("I don't have any information about Toyota.", leaks=False) == "refusal"
    assert label("Toyota was founded by Henry Ford in 1903.", leaks=False) == "substitute"


def test_done_only_when_every_check_question_is_refused():
    assert subject_summary(_ver("refusal", "refusal"), "Toyota").startswith("Done.")
    sub = subject_summary(_ver("refusal", "substitute"), "Toyota")
    assert sub.startswith("Partly done") and "made-up" in sub and "1 of 2" in sub
    leak = subject_summary(_ver("refusal", "leak"), "Toyota")
    assert leak.startswith("Partly removed") and "'q1?'" in leak


def test_failures_are_not_committed():
    assert "broke unrelated answers" in subject_failure(_ver("refusal", ok=False), "Toyota")
    assert "still gets information" in subject_failure(_ver("leak", "leak"), "Toyota")
    assert subject_failure(_ver("refusal", "leak"), "Toyota") is None


def test_record_keeps_the_keys_the_session_reads():
    d = _ver("refusal", "substitute", "leak").model_dump()
    assert d["forgotten"] is False and abs(d["fraction"] - 2 / 3) < 1e-9
    assert abs(d["refusal_rate"] - 1 / 3) < 1e-9 and abs(d["substitute_rate"] - 1 / 3) < 1e-9
    assert [p["forgotten"] for p in d["probes"]] == [True, True, False]
    assert d["guard"] == {"kept": 5, "total": 5, "ok": True}
