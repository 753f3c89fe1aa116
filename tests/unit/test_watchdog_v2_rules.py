"""The watchdog's issue-21 rules, on DEV dialogues of ``watchdog_v2`` only (test is never looked at):
"that <noun>" -> the answer, self-named and formal requests -> the name, corrections, requests in
other languages, history scope, and the chat that must stay chat."""

from __future__ import annotations

import pytest
from watchdog_cases import needs_minilm, pairs_of, rules_right

from repair.agents.watchdog import RuleExtractor, Watchdog, find_in_history
from repair.agents.watchdog.signals import (
    foreign_request,
    formal_request,
    is_deictic_np,
    rule_request,
    self_name,
)
from repair.agents.watchdog_sets import load_set, target_right

DEV = {d.id: d for d in load_set("dev")}


# (a) "that/this + noun" after an answer is the answer, not a new subject.
@pytest.mark.parametrize("did", ["d-0001", "d-0002", "d-0003", "d-0004", "d-0006", "d-0007"])
def test_that_noun_resolves_to_the_answer(did: str) -> None:
    assert rules_right(DEV[did])


def test_deictic_np_vs_that_clause() -> None:
    assert is_deictic_np("that phone number") and is_deictic_np("that first answer about the height")
    assert not is_deictic_np("that Maya lives in Oslo")  # a stated fact
    res = RuleExtractor().resolve("Forget that Maya Taylor lives in Oslo.", [])
    assert res.source == "message" and res.target == "Maya Taylor"


def test_first_answer_takes_the_oldest_turn() -> None:
    d = DEV["d-0006"]  # "Get rid of that first answer about the height." (two turns, gold turn 0)
    res = RuleExtractor().resolve(d.message, pairs_of(d))
    assert res.pairs == [pairs_of(d)[0]]


# (b) the user names themselves: the name is the subject, not "me".
@pytest.mark.parametrize(
    ("did", "name"),
    [
        ("d-0011", "Oliver Strand"),
        ("d-0012", "Greywell Joinery"),
        ("d-0014", "Brandon Kessler"),
        ("d-0016", "Esther Kaminski"),
        ("d-0017", "Idris Balogun"),
        ("d-0018", "Maxime Royer"),
        ("d-0019", "Lea Hoffmann"),
        ("d-0020", "Inês Carvalho"),
    ],
)
def test_self_named_target_is_the_name(did: str, name: str) -> None:
    d = DEV[did]
    assert self_name(d.message) == name
    assert RuleExtractor().target_of(d.message)[0] == name
    assert rules_right(d)


def test_self_name_needs_a_name() -> None:
    assert self_name("It's Monday. Forget that answer.") is None
    assert self_name("I'm sorry, that's wrong, delete it") is None


# (c) formal erasure requests are requests, with the requester's name; questions about them are not.
@pytest.mark.parametrize("did", [f"d-{i:04d}" for i in range(21, 31)])
def test_formal_requests(did: str) -> None:
    d = DEV[did]
    assert d.cls == "formal"
    assert rule_request(d.message, len(pairs_of(d)))
    assert rules_right(d)


@pytest.mark.parametrize("did", ["d-0063", "d-0081", "d-0089"])
def test_questions_about_erasure_stay_chat(did: str) -> None:
    d = DEV[did]
    assert d.intent == "chat" and not rule_request(d.message, len(pairs_of(d)))


def test_procedure_question_is_not_formal() -> None:
    assert not formal_request("How do I request deletion of my data under CCPA?")
    assert formal_request("I request the erasure of my personal data under Article 17.")


# (d) corrections asking for removal -> the answer that was wrong.
@pytest.mark.parametrize("did", [f"d-{i:04d}" for i in range(31, 41)])
def test_corrections(did: str) -> None:
    d = DEV[did]
    assert d.cls == "correction"
    assert rules_right(d)


@pytest.mark.parametrize("did", ["d-0031", "d-0033", "d-0038", "d-0039"])
def test_corrections_detected_by_rules(did: str) -> None:
    d = DEV[did]
    assert rule_request(d.message, len(pairs_of(d)))


# (e) other languages.
@pytest.mark.parametrize(
    "did",
    [
        "d-0008",
        "d-0009",
        "d-0010",
        "d-0018",
        "d-0019",
        "d-0020",
        "d-0048",
        "d-0049",
        "d-0050",
        "d-0059",
        "d-0060",
    ],
)
def test_foreign_requests(did: str) -> None:
    d = DEV[did]
    assert d.lang != "en" and foreign_request(d.message, len(pairs_of(d)))
    assert rules_right(d)


@pytest.mark.parametrize("did", [d.id for d in DEV.values() if d.intent == "chat"])
def test_rules_add_no_false_positive_on_dev_chat(did: str) -> None:
    d = DEV[did]
    assert not rule_request(d.message, len(pairs_of(d)))


@pytest.mark.parametrize(
    "msg",
    [
        "J'oublie toujours mes clés.",
        "Ich vergesse immer ihren Geburtstag.",
        "Siempre olvido las llaves.",
        "Vergiss es, egal.",
        "Olvídalo, no importa.",
        "Lösche diese Datei bitte.",
        "Borra a Juan de la lista de invitados.",
        "Forget that idea, let's go with the blue one.",
        "Never mind, forget that I asked.",
    ],
)
def test_habits_idioms_and_edits_stay_chat(msg: str) -> None:
    assert not rule_request(msg, 1)


# (f) history scope: only turns whose question names the subject.
@pytest.mark.parametrize("did", [f"d-{i:04d}" for i in range(51, 61)])
def test_history_scope(did: str) -> None:
    d = DEV[did]
    assert d.cls == "history_scope"
    assert rules_right(d)


def test_find_in_history_prefers_the_question() -> None:
    d = DEV["d-0056"]  # "Recommend a jazz album." mentions Miles Davis; "Who was Miles Davis?" is about him
    assert find_in_history("Miles Davis", pairs_of(d)) == [1]


# The whole cascade on the dev set (needs MiniLM).
@needs_minilm
def test_dev_set_end_to_end() -> None:
    wd = Watchdog(k=4)
    req = [d for d in DEV.values() if d.intent == "unlearn"]
    chat = [d for d in DEV.values() if d.intent == "chat"]
    verdicts = {d.id: wd.inspect([m.model_dump() for m in d.history], d.message) for d in DEV.values()}
    recall = sum(verdicts[d.id].intent == "unlearn" for d in req) / len(req)
    fp = sum(verdicts[d.id].intent == "unlearn" for d in chat)
    right = sum(
        verdicts[d.id].intent == "unlearn" and target_right(d, verdicts[d.id].target, verdicts[d.id].pairs)
        for d in req
    )
    assert recall >= 0.95 and fp == 0 and right / len(req) >= 0.9


# (g) a plain question about someone is chat whatever the classifier says.
def test_plain_question_is_chat() -> None:
    from repair.agents.watchdog.signals import plain_question

    assert plain_question(DEV["d-0065"].message)  # "Who was Isaac Newton?"
    assert plain_question("Who was Marie Curie?")
    assert not plain_question("Who is Maya Taylor? Forget her.")


# The issue's own examples (not from either split).
def test_issue_examples() -> None:
    rx = RuleExtractor()
    assert rule_request("Anything you know about my shop, Blue Heron Books, should go.", 0)
    assert (
        rx.target_of("Anything you know about my shop, Blue Heron Books, should go.")[0] == "Blue Heron Books"
    )
    assert rx.target_of("My name is Dana Whitfield; delete whatever you hold on me.")[0] == "Dana Whitfield"
    msg = "I'd like to exercise my right to be forgotten. I'm Priya Nair; erase my personal data."
    assert formal_request(msg) and rx.target_of(msg)[0] == "Priya Nair"
    assert not formal_request("I'd like to exercise my right to erasure; how does it work?")
    assert foreign_request("Wis dat antwoord alsjeblieft.", 1)


def test_that_noun_fitting_only_an_earlier_answer() -> None:
    pairs = [
        ("Where does Priya Shah work?", "Priya Shah works at Lumen Bank; her phone is 07700 900123."),
        ("What's the capital of Peru?", "Lima."),
    ]
    rx = RuleExtractor()
    assert rx.resolve("forget that phone number", pairs).pairs == [pairs[0]]
    assert rx.resolve("forget that answer", pairs).pairs == [pairs[1]]
