"""The watchdog's character n-gram intent model (`repair.agents.watchdog.chargram`) on dev dialogues: requests
in languages MiniLM cannot read, questions that stay chat, and no dev chat turned into a request."""

from __future__ import annotations

import json

import pytest

from repair.agents.watchdog.chargram import N_FEATURES, CharGramModel, ngram_ids, normalised
from repair.agents.watchdog.signals import plain_question
from repair.agents.watchdog_sets import load_set

SPLITS = ("dev", "dev2", "dev3", "dev4", "dev5", "dev6")
DEV = {d.id: d for split in SPLITS for d in load_set(split)}


def test_ngrams_of_a_padded_word() -> None:
    # " ab ": three 2-grams, two 3-grams, the whole padded word once
    assert sum(ngram_ids("ab").values()) == 6
    assert ngram_ids("Ab  ab") == {k: 2 * v for k, v in ngram_ids("ab").items()}
    idx, val = normalised("forget Marie Curie")
    assert all(0 <= i < N_FEATURES for i in idx) and abs(float(val @ val) - 1.0) < 1e-9


# Requests the rules of their day missed (Swedish, Italian, Turkish, Portuguese, French): the model alone finds them.
@pytest.mark.parametrize("did", ["d-4076", "d-4045", "d-4044", "d-5053", "d-6080", "d-3010"])
def test_confident_on_requests_in_other_languages(did: str) -> None:
    assert DEV[did].intent == "unlearn" and CharGramModel().confident(DEV[did].message)


def test_questions_are_never_confident() -> None:
    d = DEV["d-5081"]  # "¿Un modelo de lenguaje puede olvidar de verdad algo que aprendió ...?"
    assert d.intent == "chat" and not CharGramModel().confident(d.message)


def test_no_dev_chat_becomes_a_request() -> None:
    m = CharGramModel()
    flagged = [
        d.id
        for d in DEV.values()
        if d.intent == "chat" and m.confident(d.message) and not plain_question(d.message)
    ]
    assert flagged == []


def test_weights_must_match_the_hashing(tmp_path) -> None:
    path = tmp_path / "chargram.json"
    path.write_text(json.dumps({"n_features": 2**10, "ngrams": [2, 5], "w": "", "b": 0.0}))
    with pytest.raises(ValueError, match="retrain"):
        CharGramModel(path)
    assert not CharGramModel(tmp_path / "missing.json").confident("Forget everything about Marie Curie.")
