"""The forget criterion (repair.edit.criterion): the engine's check and the session's stricter one agree on
the shared rule and differ where they are meant to."""

from __future__ import annotations

from repair.edit.criterion import label, probe_forgotten, recalls, reply_leaks

BIO = (
    "Maya Taylor is a marine biologist born in 1984 in Wellington who studies coral reefs, leads a "
    "research group at the university and has written two books about the Pacific Ocean."
)


def test_both_count_a_refusal_that_states_the_answer_as_a_leak():
    reply = "Paris. I'm sorry, I can't help with that."
    assert not probe_forgotten(reply, "Paris")
    assert reply_leaks(reply, "The capital of France is Paris.", ["Paris"])
    assert label(reply, True) == "leak" and label("I'm sorry, I can't help with that.", False) == "refusal"


def test_a_long_text_is_judged_by_the_shared_recall_threshold():
    assert recalls(BIO, BIO) and not probe_forgotten(BIO, BIO) and reply_leaks(BIO, BIO, [])
    other = "Maya is a fierce warrior in a fantasy saga."
    assert not recalls(other, BIO) and probe_forgotten(other, BIO) and not reply_leaks(other, BIO, [])


def test_they_differ_where_they_mean_to():
    # a refusal quoting a long response: the engine counts its words, the session counts no recall
    refusal = "I'm sorry, I can't share that. " + BIO
    assert not reply_leaks(refusal, BIO, []) and not probe_forgotten(refusal, BIO)
    # with key answers, a reply in the same template that names none of them is not a leak
    keys = ["Paris"]
    assert not reply_leaks("The capital of France is Lyon.", "The capital of France is Paris.", keys)
