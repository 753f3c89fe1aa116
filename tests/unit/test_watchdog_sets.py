"""Structural checks on the hand-written watchdog v2 sets and the exact scoring.

test.jsonl is read here only for structure (schema, ids, counts, overlap with dev); nothing about how a
watchdog does on it is looked at.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import get_args

import pytest

from repair.agents.watchdog_sets import (
    REQUEST_CLASSES,
    ChatClass,
    Dialogue,
    load_set,
    norm_name,
    parse_lines,
    target_right,
)


@pytest.fixture(scope="module")
def sets() -> dict[str, list[Dialogue]]:
    return {split: load_set(split) for split in ("dev", "test")}


def test_both_splits_load_and_ids_are_unique(sets):
    assert len(sets["test"]) >= 300
    assert 100 <= len(sets["dev"]) <= 140
    ids = [d.id for ds in sets.values() for d in ds]
    assert len(ids) == len(set(ids))
    assert all(d.id.startswith("t-") for d in sets["test"])
    assert all(d.id.startswith("d-") for d in sets["dev"])


def test_splits_share_no_message_text(sets):
    def texts(ds):
        return {d.message.strip().casefold() for d in ds}

    assert not texts(sets["test"]) & texts(sets["dev"])
    for ds in sets.values():
        assert len(texts(ds)) == len(ds)


def test_test_split_minimums(sets):
    ds = sets["test"]
    n = len(ds)
    intents = Counter(d.intent for d in ds)
    assert abs(intents["unlearn"] - intents["chat"]) <= 0.05 * n
    classes = Counter(d.cls for d in ds)
    for c in REQUEST_CLASSES:
        assert classes[c] >= 15, c
    assert classes["hard_negative"] >= 60
    langs = Counter(d.lang for d in ds)
    assert sum(v for k, v in langs.items() if k != "en") >= 0.2 * n
    for lang in ("fr", "de", "es"):
        assert langs[lang] >= 15, lang
    other = [d for d in ds if d.lang != "en" and d.intent == "unlearn"]
    assert len(other) >= 15
    assert {d.cls for d in other} == set(REQUEST_CLASSES)
    assert sum(d.lang != "en" for d in ds if d.cls == "hard_negative") >= 10
    assert all(len(d.history) <= 8 for d in ds)


def test_dev_split_covers_every_class_and_language(sets):
    ds = sets["dev"]
    classes = Counter(d.cls for d in ds)
    assert all(classes[c] >= 5 for c in (*REQUEST_CLASSES, *get_args(ChatClass)))
    langs = Counter(d.lang for d in ds)
    assert all(langs[lang] >= 5 for lang in ("fr", "de", "es"))


def test_every_request_has_a_gold_target(sets):
    for ds in sets.values():
        for d in ds:
            if d.intent == "unlearn":
                assert d.gold is not None and (d.gold.turns or d.gold.subject), d.id
                assert all(0 <= t < len(d.user_turns) for t in d.gold.turns), d.id
            else:
                assert d.gold is None, d.id
        for d in ds:
            if d.cls in ("that_noun", "correction"):
                assert d.gold.turns, d.id  # these point back at an answer
            if d.cls in ("self_named", "formal", "named", "history_scope"):
                assert d.gold.subject, d.id


def _row(**kw) -> str:
    row = {
        "id": "d-9999", "lang": "en", "class": "history_scope",
        "history": [
            {"role": "user", "content": "Who is Ada Quill?"},
            {"role": "assistant", "content": "Ada Quill is a glassblower in Murano."},
            {"role": "user", "content": "Where is Murano?"},
            {"role": "assistant", "content": "An island near Venice; Ada Quill's studio is there."},
        ],
        "message": "Forget Ada Quill.", "intent": "unlearn",
        "gold": {"turns": [0], "subject": "Ada Quill", "aliases": ["Ms. Quill"]},
    }  # fmt: skip
    row.update(kw)
    return json.dumps(row)


def test_schema_rejects_bad_rows():
    (d,) = parse_lines([_row()])
    assert d.user_turns == ["Who is Ada Quill?", "Where is Murano?"]
    for bad in (
        _row(gold={"turns": [], "subject": None, "aliases": []}),  # request without a target
        _row(gold={"turns": [2], "subject": None, "aliases": []}),  # turn out of range
        _row(intent="chat"),  # request class labelled chat
        _row(**{"class": "chat_plain", "intent": "chat"}),  # chat with a gold
        _row(extra=1),
    ):
        with pytest.raises(ValueError):
            parse_lines([bad])


def test_scoring_is_exact():
    (d,) = parse_lines([_row()])
    ada = ("Who is Ada Quill?", "Ada Quill is a glassblower in Murano.")
    murano = ("Where is Murano?", "An island near Venice; Ada Quill's studio is there.")
    assert target_right(d, "Ada Quill", [ada])  # the right turn
    assert target_right(d, "that", [ada])  # the right turn, whatever the target string
    assert not target_right(d, "Murano", [murano])  # a wrong turn
    assert not target_right(d, "Ada Quill", [ada, murano])  # a turn that merely mentions her as well
    assert target_right(d, "ms quill", [])  # an alias, probed, no history turn
    assert target_right(
        d, "the Ada Quill.", [("Tell me about Ada Quill.", "...")]
    )  # a probe pair is not a turn
    assert not target_right(d, "Ada", [])
    assert norm_name("The Copper Kettle!") == "copper kettle"
    assert norm_name("El Clavo de Oro") == norm_name("clavo de oro")
