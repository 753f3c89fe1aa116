"""The watchdog on DEV4 dialogues of ``watchdog_v2`` (a fourth hand-written tuning set, adding Polish,
Swedish, Turkish and mixed-language turns; the test split is read only for the no-shared-text check):
the request forms and targets that dev4 showed were missed, and the chat that must stay chat."""

from __future__ import annotations

import pytest
from watchdog_cases import needs_minilm, pairs_of, rules_right

from repair.agents.watchdog import Watchdog
from repair.agents.watchdog.signals import (
    foreign_request,
    plain_question,
    rule_request,
    self_name,
)
from repair.agents.watchdog_sets import load_set, target_right

DEV4 = {d.id: d for d in load_set("dev4")}


def test_dev4_is_a_separate_hand_written_set() -> None:
    assert len(DEV4) == 156 and sum(d.intent == "unlearn" for d in DEV4.values()) == 78
    others = {
        d.message.strip().casefold() for split in ("dev", "dev2", "dev3", "test") for d in load_set(split)
    }
    assert not others & {d.message.strip().casefold() for d in DEV4.values()}
    langs = {d.lang for d in DEV4.values()}
    assert {"pl", "sv", "tr", "it", "pt", "nl"} <= langs
    assert sum(d.lang != "en" for d in DEV4.values()) / len(DEV4) > 0.3


# Polish, Swedish and Turkish requests of every kind, and mixed turns ("deletar allt om mig",
# "dat adres please deleten uit je memory"): the rules alone recognise them and find the target.
@pytest.mark.parametrize(
    "did",
    [
        "d-4004", "d-4005", "d-4006", "d-4013",  # that + noun
        "d-4017", "d-4018", "d-4019", "d-4025", "d-4077",  # self-named
        "d-4042", "d-4043", "d-4044", "d-4051",  # corrections
        "d-4054", "d-4055", "d-4056", "d-4062",  # named
        "d-4067", "d-4069", "d-4076",  # history scope
        "d-4078",  # mixed nl/en pointer
    ],
)  # fmt: skip
def test_polish_swedish_turkish_and_mixed(did: str) -> None:
    d = DEV4[did]
    assert d.lang != "en" and foreign_request(d.message, len(pairs_of(d))) and rules_right(d)


# Formal requests in Polish, Swedish and Turkish (art. 17 RODO, dataskyddsförordningen, KVKK Madde 17)
# and English forms with the name after a comma or as "Data subject:" / "full name".
@pytest.mark.parametrize("did", ["d-4030", "d-4031", "d-4032", "d-4028", "d-4029", "d-4037"])
def test_formal(did: str) -> None:
    d = DEV4[did]
    assert d.cls == "formal" and rule_request(d.message, 0) and rules_right(d)


@pytest.mark.parametrize(
    ("did", "name"),
    [
        ("d-4017", "Bożena Kwiatkowska"),  # "Nazywam się X"
        ("d-4018", "Anders Lindqvist"),  # "Jag heter X"
        ("d-4019", "Emre Yıldırımoğlu"),  # "Benim adım X"
        ("d-4025", "Wróblex"),  # "o mojej firmie X"
        ("d-4026", "Zeynep Kocabaş"),  # "Name's X"
        ("d-4028", "Marcus Delacroix-Webb"),  # "..., I, X, exercise"
    ],
)
def test_self_names(did: str, name: str) -> None:
    assert self_name(DEV4[did].message) == name and rules_right(DEV4[did])


# A pointer whose noun does not repeat a word of its answer: a number noun means the answer with digits,
# otherwise the turn sharing the most words with the message ("That age you mentioned for the singer").
@pytest.mark.parametrize("did", ["d-4002", "d-4008", "d-4013", "d-4041", "d-4047"])
def test_pointer_to_an_earlier_answer(did: str) -> None:
    d = DEV4[did]
    assert d.gold is not None and d.gold.turns == [0] and len(d.history) >= 4 and rules_right(d)


def test_take_that_answer_out_is_a_correction() -> None:
    d = DEV4["d-4040"]  # "That's wrong, it opened in 1987. Take that answer out of the model please."
    assert rule_request(d.message, len(pairs_of(d))) and rules_right(d)


# "Tell me everything you know about X" and editing a list in the chat are never requests.
@pytest.mark.parametrize("did", ["d-4089", "d-4092"])
def test_never_requests(did: str) -> None:
    d = DEV4[did]
    assert d.intent == "chat" and plain_question(d.message)


@pytest.mark.parametrize("did", [d.id for d in DEV4.values() if d.intent == "chat"])
def test_chat_stays_chat_for_the_rules(did: str) -> None:
    d = DEV4[did]
    assert not rule_request(d.message, len(pairs_of(d)))


@needs_minilm
def test_dev4_end_to_end_fast_path() -> None:
    wd = Watchdog(k=4)
    verdicts = {d.id: wd.inspect([m.model_dump() for m in d.history], d.message) for d in DEV4.values()}
    req = [d for d in DEV4.values() if d.intent == "unlearn"]
    chat = [d for d in DEV4.values() if d.intent == "chat"]
    recall = sum(verdicts[d.id].intent == "unlearn" for d in req) / len(req)
    fp = sum(verdicts[d.id].intent == "unlearn" for d in chat)
    right = sum(verdicts[d.id].intent == "unlearn" and target_right(d, verdicts[d.id].target, verdicts[d.id].pairs)
                for d in req)  # fmt: skip
    assert recall >= 0.97 and fp == 0 and right / len(req) >= 0.93


# Named subjects: "... the Titanic? all of it" ("all of it" is the whole subject, not a pointer), a name
# with initials ("Annie M.G. Schmidt"), "... of Hedy Lamarr from yourself".
@pytest.mark.parametrize("did", ["d-4053", "d-4059", "d-4061"])
def test_named_targets(did: str) -> None:
    d = DEV4[did]
    assert d.cls == "named" and rules_right(d)
