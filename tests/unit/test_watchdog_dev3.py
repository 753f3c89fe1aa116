"""The watchdog on DEV3 dialogues of ``watchdog_v2`` (a third hand-written tuning set; the test split is
read only for the no-shared-text check): the request forms and targets that dev3 showed were missed,
per class, and the chat that must stay chat."""

from __future__ import annotations

import pytest
from watchdog_cases import needs_minilm, pairs_of, rules_right

from repair.agents.watchdog import Watchdog
from repair.agents.watchdog.signals import foreign_request, formal_request, rule_request, self_name
from repair.agents.watchdog_sets import load_set, target_right

DEV3 = {d.id: d for d in load_set("dev3")}


def test_dev3_is_a_separate_hand_written_set() -> None:
    assert len(DEV3) == 168 and sum(d.intent == "unlearn" for d in DEV3.values()) == 87
    others = {d.message.strip().casefold() for split in ("dev", "dev2", "test") for d in load_set(split)}
    assert not others & {d.message.strip().casefold() for d in DEV3.values()}
    assert sum(d.lang != "en" for d in DEV3.values()) / len(DEV3) > 0.4


# The user names themselves in forms the earlier sets lacked: "X is me", "This is Dr. X", "me again, X",
# "as the owner of X", "my bike repair shop, X,", "mein Name ist X", "O meu nome é X".
@pytest.mark.parametrize(
    ("did", "name"),
    [
        ("d-3020", "Spoke & Sprocket"),
        ("d-3021", "Larkspur Veterinary Clinic"),
        ("d-3022", "Odile Fenwick"),
        ("d-3023", "Samir Haddad"),
        ("d-3024", "Lucy Tran"),
        ("d-3025", "Copperleaf Bistro"),
        ("d-3028", "Jörg Wendlandt"),
        ("d-3032", "Beatriz Quintela"),
    ],
)
def test_self_named(did: str, name: str) -> None:
    d = DEV3[did]
    assert d.cls == "self_named" and self_name(d.message) == name and rules_right(d)


# Formal requests: "I, X," after a blank line, a sign-off ("Mit freundlichen Grüßen, X"), "Nome e cognome:
# X", "je soussignée X exerce ...", "This is a formal request ... erase".
@pytest.mark.parametrize("did", ["d-3035", "d-3041", "d-3043", "d-3044", "d-3046"])
def test_formal(did: str) -> None:
    d = DEV3[did]
    assert d.cls == "formal" and formal_request(d.message) and rules_right(d)


# A question about an erasure request names the document but asks nothing of the model.
@pytest.mark.parametrize("did", ["d-3107", "d-3115"])
def test_questions_naming_an_erasure_request_stay_chat(did: str) -> None:
    d = DEV3[did]
    assert d.intent == "chat" and not formal_request(d.message) and not rule_request(d.message, 0)


# Other languages: infinitive, second-person and subjunctive verbs ("supprimer", "löschst",
# "cancellassi", "wissen"), "meine Daten", and a demonstrative + a personal-data noun ("ese correo",
# "diese Gehaltsangabe", "dat nummer").
@pytest.mark.parametrize(
    "did", ["d-3010", "d-3011", "d-3013", "d-3016", "d-3027", "d-3029", "d-3031", "d-3033", "d-3073"]
)
def test_other_languages(did: str) -> None:
    d = DEV3[did]
    assert d.lang != "en" and foreign_request(d.message, len(pairs_of(d))) and rules_right(d)


def test_a_demonstrative_in_another_clause_is_not_a_pointer() -> None:
    d = DEV3["d-3121"]  # "Oublie ça, on parle d'autre chose : quel temps fait-il à Nice en mai ?"
    assert d.intent == "chat" and not foreign_request(d.message, len(pairs_of(d)))


# English request forms the classifier scored low: "the X you gave me" + a removal verb, a bare "scrub
# it", "whatever you've learned about it, drop it", "I want X forgotten", "I want that statement removed".
@pytest.mark.parametrize("did", ["d-3003", "d-3008", "d-3020", "d-3025", "d-3050", "d-3055"])
def test_english_request_forms(did: str) -> None:
    d = DEV3[did]
    assert d.intent == "unlearn" and rule_request(d.message, len(pairs_of(d))) and rules_right(d)


# Targets: a facet stands for its subject ("Sylvia Plath's biography"), "him" for the name the message
# gives, "My dad founded that company ..." is not a "my X" subject.
@pytest.mark.parametrize("did", ["d-3053", "d-3063", "d-3065"])
def test_targets(did: str) -> None:
    assert rules_right(DEV3[did])


@pytest.mark.parametrize("did", [d.id for d in DEV3.values() if d.intent == "chat"])
def test_chat_stays_chat_for_the_rules(did: str) -> None:
    d = DEV3[did]
    assert not rule_request(d.message, len(pairs_of(d)))


@needs_minilm
def test_dev3_end_to_end_fast_path() -> None:
    wd = Watchdog(k=4)
    verdicts = {d.id: wd.inspect([m.model_dump() for m in d.history], d.message) for d in DEV3.values()}
    req = [d for d in DEV3.values() if d.intent == "unlearn"]
    chat = [d for d in DEV3.values() if d.intent == "chat"]
    recall = sum(verdicts[d.id].intent == "unlearn" for d in req) / len(req)
    fp = sum(verdicts[d.id].intent == "unlearn" for d in chat)
    right = sum(verdicts[d.id].intent == "unlearn" and target_right(d, verdicts[d.id].target, verdicts[d.id].pairs)
                for d in req)  # fmt: skip
    assert recall >= 0.97 and fp == 0 and right / len(req) >= 0.97
