"""The watchdog's named-subject rules that dev7 showed missing (issue 21), on sentences written for these
tests (none is a dev7 message): titles are not names, a work is its quoted title, an event keeps its head
noun, particles belong to the name, the company a letter is about beats its signer, a lower-case name after
"me -" is the speaker, and a pointer at two or more answers takes them all."""

from __future__ import annotations

import pytest
from watchdog_cases import needs_minilm

from repair.agents.watchdog import RuleExtractor, Watchdog
from repair.agents.watchdog.foreign import foreign_request
from repair.agents.watchdog.plural import plural_turns
from repair.agents.watchdog.signals import plain_question, self_name
from repair.agents.watchdog.subject import event_in, quoted_title, strip_title

RULES = RuleExtractor()


@pytest.mark.parametrize(
    ("message", "target"),
    [
        # a title before the name, in any case, stacked, in German or English
        ("please erase whatever you know about prof. helga brandt", "helga brandt"),
        ("Vergiss bitte alles über Frau Prof. Dr. Ilse Kramer.", "Ilse Kramer"),
        ("Delete everything you have on Mr. Oskar Lindqvist.", "Oskar Lindqvist"),
        # a work: its quoted title, not its kind noun
        ('Please unlearn the album "Northern Glass", I am sick of it.', "Northern Glass"),
        ("Erase the movie 'The Long Quiet' from your memory.", "The Long Quiet"),
        ("Forget the painting *Harbour Lights at Dusk* please, all of it.", "Harbour Lights at Dusk"),
        ("Dimentica tutto sul film «La casa sul lago».", "La casa sul lago"),
        # an event: its name with its head noun
        ("I want the Dreyfus affair gone from your memory. Everything about it.", "the Dreyfus affair"),
        ("Oublie tout ce que tu sais sur l'affaire Dreyfus.", "affaire Dreyfus"),
        ("Remove everything you know about the Teapot Dome scandal.", "the Teapot Dome scandal"),
        # particles
        (
            "Ich bin Leopold zu Stolberg-Wernigerode, bitte vergiss alles über mich.",
            "Leopold zu Stolberg-Wernigerode",
        ),
        # acting for someone else: the client, with no title, not "her be"
        (
            "I represent my client, Mr Owen Pryce-Jones, who wants all data about him be erased from your model.",
            "Owen Pryce-Jones",
        ),
    ],
)
def test_named_subject(message: str, target: str) -> None:
    assert RULES.target_of(message) == (target, False)


@pytest.mark.parametrize(
    ("message", "name"),
    [
        ("Hochachtungsvoll\nHerr Dr. Jonas Albrecht", "Jonas Albrecht"),
        ("Name: Ms Sanne van den Berg\nPlease erase my personal data under GDPR.", "Sanne van den Berg"),
        ("just wipe me — sofia marchetti-rossi", "sofia marchetti-rossi"),
        # the company the letter is about, not the person who signs it
        (
            "On behalf of our company, Brightmoor Logistics Ltd, I request erasure of all data under GDPR.\n"
            "Best regards,\nTom Hale",
            "Brightmoor Logistics Ltd",
        ),
    ],
)
def test_self_name(message: str, name: str) -> None:
    assert self_name(message) == name


def test_shapes_that_stay() -> None:
    assert strip_title("Dr. Seuss") == "Dr. Seuss"  # one word left: the title is the name's
    assert strip_title("Herrn Dr. Paul Weber") == "Paul Weber"
    assert quoted_title('She said "hello" to me') is None  # no kind noun before the quotes
    assert event_in("Please forget Maya Taylor") is None
    assert event_in("in the fall Marta Ruiz moved to Leeds") is None  # German heads only as capitalised nouns
    assert event_in("Vergiss alles über den Fall Kachelmann.") == "Fall Kachelmann"
    assert foreign_request("Oublie l'affaire Dreyfus.", 2)
    assert self_name("forget it - never mind") is None  # a dash after "it", not after "me"


PAIRS = [
    ("Who founded the Halden Rowing Club?", "It was founded by Ivar Strand in 1902."),
    ("Is Greta Moen still its president?", "Yes, Greta Moen has led it since 2015."),
    ("Was she ever a rower herself?", "She won a national title in 1998."),
    ("What is a coxless four?", "A boat for four rowers without a coxswain."),
]


@pytest.mark.parametrize(
    ("message", "turns"),
    [
        ("The first two answers you gave are made up. Delete them.", [0, 1]),
        ("Both of those replies are wrong, get rid of them.", [2, 3]),
        ("Those are wrong. Remove them both.", [2, 3]),
        ("Supprime ces deux réponses, elles sont fausses.", [2, 3]),
        ("Las dos primeras respuestas son falsas, bórralas.", [0, 1]),
        ("Please remove those answers about her, none of it is true.", [1, 2]),
        ("Forget both Greta Moen and Ivar Strand.", None),  # names, not answers
        ("That answer is wrong, delete it.", None),
    ],
)
def test_plural_pointer(message: str, turns: list[int] | None) -> None:
    assert plural_turns(message, PAIRS) == turns
    if turns:
        res = RULES.resolve(message, PAIRS)
        assert res.pairs == [PAIRS[i] for i in turns]


@pytest.mark.parametrize(
    "message",
    [
        "Non dimenticare di ricordarmi di pagare l'affitto domani.",
        "N'oublie pas de me rappeler mon rendez-vous chez le docteur Martin.",
        "Don't forget to remind me about Dr Patel's appointment at nine.",
    ],
)
def test_reminders_are_chat(message: str) -> None:
    assert plain_question(message)


def test_reminder_with_a_request_is_not_plain() -> None:
    assert not plain_question("Don't forget: delete my home address from your memory.")


@needs_minilm
def test_watchdog_end_to_end() -> None:
    wd = Watchdog(k=4)
    v = wd.inspect([], "remove everything about dr. ilse kramer from your memory")
    assert v.intent == "unlearn" and v.target == "ilse kramer"
    assert wd.inspect([], "Non dimenticare di ricordarmi di chiamare il dottor Bassi.").intent == "chat"
