"""The watchdog's target ranker (`repair.agents.watchdog.ranker`) on dev dialogues: the candidates it lists,
that it overrules the answers the rules gave before a dev set was tuned on (their real mistakes), and that it
keeps the current rules' answer where it is right."""

from __future__ import annotations

import json

import pytest
from watchdog_cases import pairs_of

from repair.agents.watchdog.ranker import _ABOUT, FEATURES, Candidate, TargetRanker, _stems, candidates
from repair.agents.watchdog_sets import load_set, target_right

DEV = {d.id: d for split in ("dev", "dev3", "dev6") for d in load_set(split)}


def _right(did: str, c: Candidate) -> bool:
    d, pairs = DEV[did], pairs_of(DEV[did])
    return target_right(d, c.target, [pairs[i] for i in c.turns])


# Name-like spans: a signature after a dash, a name in lower case after "name's", particles inside a name.
@pytest.mark.parametrize(
    ("did", "span"),
    [
        ("d-6003", "Helena Okonkwo-Baptiste"),
        ("d-6002", "rory mcalister"),
        ("d-6026", "Inés de la Fuente Ortega"),
    ],
)
def test_spans_hold_the_name(did: str, span: str) -> None:
    d = DEV[did]
    spans = [
        c.target for c in candidates(d.message, pairs_of(d), Candidate("rule", None, ())) if c.kind == "span"
    ]
    assert span in spans


# The answers the rules gave before dev6 / dev3 were tuned on ("me" for a signed request, the last turn for a
# pointer at the first answer): the ranker picks the right candidate instead.
@pytest.mark.parametrize(
    ("did", "rule"),
    [
        ("d-6003", Candidate("rule", "me", ())),
        ("d-6008", Candidate("rule", "me", ())),
        ("d-0011", Candidate("rule", "me", ())),
        ("d-0035", Candidate("rule", "that first answer", ())),
    ],
)
def test_overrules_wrong_rule_answers(did: str, rule: Candidate) -> None:
    d = DEV[did]
    assert not _right(did, rule)
    pick = TargetRanker().choose(d.message, pairs_of(d), rule)
    assert pick is not rule and _right(did, pick)


# The current rules' right answers stay: a subject with both of its turns, a business rather than the owner.
@pytest.mark.parametrize(
    ("did", "rule"),
    [
        ("d-6084", Candidate("rule", "the Pemberton Trust scandal", (0, 2))),
        ("d-3017", Candidate("rule", "Theodora Blackwood", ())),
    ],
)
def test_keeps_right_rule_answers(did: str, rule: Candidate) -> None:
    d = DEV[did]
    assert _right(did, rule)
    assert TargetRanker().choose(d.message, pairs_of(d), rule) is rule


def test_weights_must_match_the_features(tmp_path) -> None:
    path = tmp_path / "ranker.json"
    path.write_text(json.dumps({"features": FEATURES[:-1], "w": [0.0] * (len(FEATURES) - 1)}))
    with pytest.raises(ValueError, match="retrain"):
        TargetRanker(path)


def test_without_weights_the_rules_decide(tmp_path) -> None:
    d = DEV["d-6003"]
    rule = Candidate("rule", "me", ())
    assert TargetRanker(tmp_path / "missing.json").choose(d.message, pairs_of(d), rule) is rule


# A request with nothing to point at names no subject: the request's own words ("Forget", "Please") are
# candidates the model learns from, never the answer (CI caught "Forget" as the target of "Forget that.").
@pytest.mark.parametrize(
    "message",
    [
        "Forget what you just said.",
        "Forget that.",
        "Please wipe that phone number from your memory.",
        "Bitte lösch das.",
        "Can you delete that?",
        "Por favor, olvida eso.",
    ],
)
def test_request_words_are_never_the_target(message: str) -> None:
    rule = Candidate("rule", None, ())
    assert TargetRanker().choose(message, [], rule) is rule


def test_function_words_are_no_overlap() -> None:
    # "die", "que", "het": an overlap in a function word says nothing about which turn a pointer means
    assert _stems("Vergiss die alte Adresse") == _stems("Vergiss alte Adresse")
    assert _stems("Oublie ce que tu sais sur la boulangerie") == _stems("Oublie tu sais boulangerie")


def test_of_is_not_about() -> None:
    # "the origin of the Olympic Games": "of" names a facet of the subject, not what the request is about
    assert not _ABOUT.search("Unlearn what you were told about the origin of the ")
    assert _ABOUT.search("Please forget everything about ")
