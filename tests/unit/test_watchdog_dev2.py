"""The watchdog on DEV2 dialogues of ``watchdog_v2`` (a second hand-written tuning set; the test split is
never looked at): each weak class with dev2 examples, the language route, and the optional LLM path
(lazy: a user without the model still gets the fast path; its output is parsed and validated)."""

from __future__ import annotations

import pytest
from watchdog_cases import needs_minilm, pairs_of, rules_right

from repair.agents.watchdog import Watchdog, lazy_generate_fn
from repair.agents.watchdog.lang import available as lang_available
from repair.agents.watchdog.lang import detect_language
from repair.agents.watchdog.signals import foreign_request, formal_request, rule_request
from repair.agents.watchdog_sets import load_set, target_right

needs_lingua = pytest.mark.skipif(not lang_available(), reason="lingua-language-detector not installed")
DEV2 = {d.id: d for d in load_set("dev2")}


def test_dev2_is_a_separate_hand_written_set() -> None:
    dev = load_set("dev")
    assert len(DEV2) == 150 and sum(d.intent == "unlearn" for d in DEV2.values()) == 78
    assert not {d.message for d in dev} & {d.message for d in DEV2.values()}
    assert sum(d.lang != "en" for d in DEV2.values()) / len(DEV2) > 0.5


# "that" + noun: the answer it points at, also an earlier one ("that octopus fact").
@pytest.mark.parametrize("did", ["d-2001", "d-2003", "d-2005", "d-2006", "d-2007", "d-2009", "d-2014"])
def test_that_noun(did: str) -> None:
    assert rules_right(DEV2[did])


# The user names themselves or their business: the name, never "me" / "my business".
@pytest.mark.parametrize(
    ("did", "name"),
    [
        ("d-2017", "Hugo Penhaligon"),  # "That's me, Hugo Penhaligon."
        ("d-2018", "Petal & Thorn"),  # "I own a small florist called Petal & Thorn."
        ("d-2020", "Liam Carver"),  # "You may know me as DJ Kestrel, real name Liam Carver."
        ("d-2023", "Marisol Teague"),
        ("d-2025", "Antoine Leclerc"),
        ("d-2031", "Rui Matos"),
        ("d-2032", "Sanne Bakker"),
    ],
)
def test_self_named(did: str, name: str) -> None:
    d = DEV2[did]
    assert d.cls == "self_named"
    assert name in (d.gold.subject, *d.gold.aliases) and rules_right(d)


# Formal GDPR / CCPA requests: "I, X, hereby request", "my client, Mr X", "Ich, X, beantrage".
@pytest.mark.parametrize("did", ["d-2034", "d-2036", "d-2037", "d-2041", "d-2044", "d-2045", "d-2048"])
def test_formal(did: str) -> None:
    d = DEV2[did]
    assert d.cls == "formal" and formal_request(d.message) and rules_right(d)


@pytest.mark.parametrize(
    "msg",
    [
        "Can you explain what an Article 17 request is?",
        "How would I file a CCPA deletion request with a company?",
    ],
)
def test_questions_about_erasure_are_not_formal(msg: str) -> None:
    assert not formal_request(msg) and not rule_request(msg, 0)


# Corrections asking for removal -> the wrong answer's turn.
@pytest.mark.parametrize("did", ["d-2049", "d-2051", "d-2052", "d-2054", "d-2056", "d-2058", "d-2062"])
def test_corrections(did: str) -> None:
    d = DEV2[did]
    assert d.cls == "correction" and rules_right(d)


# Other languages: fr/de/es/it/pt/nl requests, including subjunctive forms and "quello che sai".
@pytest.mark.parametrize("did", ["d-2025", "d-2031", "d-2032", "d-2066", "d-2070", "d-2071", "d-2072"])
def test_other_languages(did: str) -> None:
    d = DEV2[did]
    assert d.lang != "en" and foreign_request(d.message, len(pairs_of(d))) and rules_right(d)


# Hard negatives in every language: forgetting in other senses, deleting other things, who was X.
@pytest.mark.parametrize("did", [d.id for d in DEV2.values() if d.cls == "hard_negative"])
def test_hard_negatives_stay_chat_for_the_rules(did: str) -> None:
    d = DEV2[did]
    assert not rule_request(d.message, len(pairs_of(d)))


@needs_lingua
def test_language_identification_on_dev2() -> None:
    right = sum(detect_language(d.message) == d.lang for d in DEV2.values())
    assert right / len(DEV2) >= 0.98
    assert detect_language("1234") is None


@needs_minilm
def test_dev2_end_to_end_fast_path() -> None:
    wd = Watchdog(k=4)
    verdicts = {d.id: wd.inspect([m.model_dump() for m in d.history], d.message) for d in DEV2.values()}
    req = [d for d in DEV2.values() if d.intent == "unlearn"]
    chat = [d for d in DEV2.values() if d.intent == "chat"]
    recall = sum(verdicts[d.id].intent == "unlearn" for d in req) / len(req)
    fp = sum(verdicts[d.id].intent == "unlearn" for d in chat)
    right = sum(verdicts[d.id].intent == "unlearn" and target_right(d, verdicts[d.id].target, verdicts[d.id].pairs)
                for d in req)  # fmt: skip
    assert recall >= 0.97 and fp == 0 and right / len(req) >= 0.97
    assert all(v.llm_s == 0.0 and v.extractor != "llm" for v in verdicts.values())  # no LLM configured


@needs_minilm
def test_missing_llm_falls_back_to_the_fast_path() -> None:
    # A model name that is not installed: the first LLM call fails once, the rules decide, nothing breaks.
    wd = Watchdog(k=4, extractor=lazy_generate_fn("no-such-model-installed"))
    d = DEV2["d-2024"]  # "Bonjour, je m'appelle Camille Dufresne. Oublie tout ce que tu sais sur moi."
    v = wd.inspect([], d.message)
    assert v.intent == "unlearn" and v.target == "Camille Dufresne"
    if lang_available():
        assert v.lang == "fr" and v.llm_error and "could not load" in v.llm_error
    chat = wd.inspect([], "Who was Victor Hugo?")
    assert chat.intent == "chat"


@needs_minilm
def test_llm_answer_is_validated_data() -> None:
    # A real generate_fn that answers with something that is not the schema: it is parsed, rejected, retried
    # once, then the rules decide; nothing the model wrote is executed.
    calls: list[int] = []

    def generate(messages: list[dict]) -> str:
        calls.append(len(messages))
        return '{"intent": "unlearn", "target": "__import__(\'os\').system(\'true\')", "turn": 7}'

    wd = Watchdog(k=4, extractor=generate)
    d = DEV2["d-2008"]  # "Supprime cette rumeur de ta mémoire, elle est diffamatoire."
    v = wd.inspect([m.model_dump() for m in d.history], d.message)
    assert v.intent == "unlearn" and target_right(d, v.target, v.pairs)
    if lang_available():
        assert calls == [2, 4] and "turn must be between 1 and 1" in (v.llm_error or "")
