"""The watchdog on DEV6 dialogues of ``watchdog_v2`` (a sixth hand-written tuning set, weighted to self-named
requests, French, formal letters signed at the end, pointers to earlier answers and corrections; the test
split is read only for the no-shared-text check): the forms dev6 showed were missed, and the chat that
must stay chat."""

from __future__ import annotations

import pytest
from watchdog_cases import needs_minilm, pairs_of, rules_right

from repair.agents.watchdog import RuleExtractor, Watchdog
from repair.agents.watchdog.context import claims_answer
from repair.agents.watchdog.history import _pointed_turn
from repair.agents.watchdog.signals import foreign_request, plain_question, rule_request, self_name
from repair.agents.watchdog_sets import load_set, target_right

DEV6 = {d.id: d for d in load_set("dev6")}


def test_dev6_is_a_separate_hand_written_set() -> None:
    assert len(DEV6) == 172 and sum(d.intent == "unlearn" for d in DEV6.values()) == 87
    others = {
        d.message.strip().casefold()
        for split in ("dev", "dev2", "dev3", "dev4", "dev5", "test")
        for d in load_set(split)
    }
    assert not others & {d.message.strip().casefold() for d in DEV6.values()}


# The name in a signature: after a dash on the last line, alone on the last line after "Veuillez agréer ...",
# after "Thanks," or "Sincerely," with a title, in lower case after "thanks,".
@pytest.mark.parametrize(
    ("did", "name"),
    [
        ("d-6003", "Helena Okonkwo-Baptiste"),
        ("d-6009", "Siobhan Kearney-Doyle"),
        ("d-6030", "Marisol Quintero-Reyes"),
        ("d-6032", "Ingeborg Thorsen"),
        ("d-6035", "liam o'rourke"),
        ("d-6037", "Clémence Aubertin"),
    ],
)
def test_signatures(did: str, name: str) -> None:
    assert self_name(DEV6[did].message) == name and rules_right(DEV6[did])


# Names as people write them: with particles ("de la", "de La"), after "This is ... writing", "For reference
# I'm", "Moi c'est", typed in lower case after "name's" or "i'm".
@pytest.mark.parametrize(
    ("did", "name"),
    [
        ("d-6002", "rory mcalister"),
        ("d-6007", "Marguerite de Valois-Fenton"),
        ("d-6008", "Tomasz Wierzbicki"),
        ("d-6012", "nadia el-amrani"),
        ("d-6018", "Jean-Baptiste de La Rochère"),
        ("d-6026", "Inés de la Fuente Ortega"),
    ],
)
def test_self_names(did: str, name: str) -> None:
    assert self_name(DEV6[did].message) == name and rules_right(DEV6[did])


# A business: "a café called The Lantern Room", "la gérante de la librairie X", "meine Bäckerei ... Sie heißt X",
# "mon restaurant, X, doit disparaître" (what the model knows said to have to go, with no imperative).
@pytest.mark.parametrize(
    ("did", "name"),
    [
        ("d-6006", "Lantern Room"),
        ("d-6023", "Les Mots Passants"),
        ("d-6025", "Backstube Lindner"),
        ("d-6019", "Le Petit Comptoir"),
    ],
)
def test_businesses(did: str, name: str) -> None:
    assert self_name(DEV6[did].message) == name and rules_right(DEV6[did])


# French subjunctives after "je souhaite que vous" / "je voudrais que tu" ("effaciez", "désapprennes"), and
# "doit disparaître".
@pytest.mark.parametrize("did", ["d-6017", "d-6080", "d-6019"])
def test_french_requests_without_an_imperative(did: str) -> None:
    assert foreign_request(DEV6[did].message, 0) and rules_right(DEV6[did])


# "Ce que tu m'as dit sur ma voisine": the turn whose question names what the pointer is about, not the last.
def test_pointer_by_what_it_was_about() -> None:
    d = DEV6["d-6059"]
    assert _pointed_turn(d.message, pairs_of(d)) == 0 and rules_right(d)


# "Ha, that's me": an interjection is no name; "Delete it so you don't repeat it": no target "it so ...".
@pytest.mark.parametrize("did", ["d-6004", "d-6064"])
def test_pointers_that_read_as_names_or_phrases(did: str) -> None:
    assert rules_right(DEV6[did])


# General forms found while writing dev6 (not dialogues of any set): an answer counted by its position,
# "his address", a correction with any subject, "c'est moi, ça" with a delete verb, a negated forget verb.
def test_ordinal_and_possessive_pointers() -> None:
    pairs = [("Q1?", "A1."), ("Where does Dr Ames live?", "At 9 Orchard Way."), ("Q3?", "A3.")]
    assert _pointed_turn("The second answer you gave me shouldn't exist. Delete it.", pairs) == 1
    assert rule_request("forget the first number", 2)
    assert rule_request("The bit about the chairman's conviction is false. Remove it.", 1)
    assert claims_answer("C'est moi, ça. Merci de tout effacer.", pairs)
    assert not foreign_request("N'oublie pas son anniversaire samedi, rappelle-le-moi.", 1)
    assert foreign_request("Oublie son âge, s'il te plaît.", 1)
    assert not rule_request("That's wrong. Remove La Paz from the flashcard I'm making.", 1)


# More forms of the same kinds, written while tuning on dev6 (in no set): the name after "Salutations,", "Viele
# Grüße,", "my name,", "ma cliente,", "the name is", with initials; the business after "Sam Whitaker from".
@pytest.mark.parametrize(
    ("message", "name"),
    [
        ("Merci d'effacer mes données (art. 17 RGPD). Salutations, Rémi Chatel", "Rémi Chatel"),
        ("Bitte löschen Sie alle Daten über mich. Viele Grüße, Jan-Hendrik Böhm", "Jan-Hendrik Böhm"),
        (
            "You seem to know my name, Fatima Zahra Benali, and where I live. Please erase both.",
            "Fatima Zahra Benali",
        ),
        (
            "Au nom de ma cliente, Mme Sophie Lenoir, nous demandons l'effacement de ses données.",
            "Sophie Lenoir",
        ),
        ("The name is Vasquez, Elena Vasquez. Erase everything about me.", "Elena Vasquez"),
        (
            "GDPR erasure request. I want all personal data about me deleted. - J. R. Hartnell",
            "J. R. Hartnell",
        ),
        ("hi im callum and i'd like you to forget me please, callum reid", "callum reid"),
    ],
)
def test_more_self_names(message: str, name: str) -> None:
    assert self_name(message) == name


def test_the_business_after_the_speakers_name() -> None:
    msg = "Hi! Sam Whitaker from Whitaker & Sons Plumbing. Delete anything you know about our company."
    assert RuleExtractor().target_of(msg) == ("Whitaker & Sons Plumbing", False)


@pytest.mark.parametrize(
    "message",
    [
        "Je ne veux pas que tu te souviennes de moi. Je m'appelle Noémie Carré.",
        "Fais disparaître tout ce qui concerne Lucie Aubrac de ta mémoire.",
        "Raye cette adresse de ta mémoire.",
        "Je sollicite l'effacement de mes données à caractère personnel conformément au RGPD.",
        "Est-ce que tu pourrais oublier ce que je t'ai dit sur mon frère ?",
    ],
)
def test_more_french_requests(message: str) -> None:
    assert rule_request(message, 1)


# The issue's own examples and their kin: "delete what you hold on me", "anything about my shop, X, should go",
# "about myself, X,", "I run a small plant nursery, X", "forget my son, X", "as X's daughter", "I go by X".
@pytest.mark.parametrize(
    ("message", "target"),
    [
        ("My name is Harriet Vance; delete what you hold on me.", "Harriet Vance"),
        ("Anything about my shop, Moss & Fern, should go.", "Moss & Fern"),
        ("Please remove all information about myself, Deborah Kline, from your model.", "Deborah Kline"),
        (
            "I run a small plant nursery, Greenfingers of Hove. Wipe everything you have on it.",
            "Greenfingers of Hove",
        ),
        ("I'd like you to forget my son, Ethan Caldwell. He's 14.", "Ethan Caldwell"),
        (
            "As Deborah Kline's daughter and her legal representative, I ask you to delete her data.",
            "Deborah Kline",
        ),
        ("I go by Jaz Okafor online. Please erase whatever you know about me.", "Jaz Okafor"),
        ("Forget about me, I'm Lola Martínez, the owner of Casa Lola in Málaga.", "Lola Martínez"),
    ],
)
def test_self_named_forms(message: str, target: str) -> None:
    assert RuleExtractor().target_of(message)[0] == target


# Pointers that name what the answer held: "her home" (an address), "your answer about his mobile", "the address
# from earlier", "delete the number", "Don't keep that", "That bit about where X lives has to go".
def test_pointers_by_what_the_answer_held() -> None:
    pairs = [
        ("What's Tom Rigby's mobile number?", "Tom Rigby's mobile is 07700 900 555."),
        ("Where does Nadia Bloom live?", "Nadia Bloom lives at 41 Rose Lane, Bath."),
        ("Any tips for coaching kids?", "Keep sessions short and fun."),
    ]
    rules = RuleExtractor()
    assert rules.resolve("Remove the info about her home from your memory.", pairs).pairs == [pairs[1]]
    assert rules.resolve("Please unlearn your answer about his mobile.", pairs).pairs == [pairs[0]]
    assert rules.resolve("Unlearn the address from earlier.", pairs).pairs == [pairs[1]]
    for message in [
        "delete the number",
        "He was never paid. Don't keep that.",
        "That bit about X has to go.",
    ]:
        assert rule_request(message, 3)


# "Grüße, X" as a sign-off; "Soy X, dueña de la floristería Y ... de mi negocio": the business, and "de mi
# negocio" is not "de mí".
def test_other_language_signatures_and_businesses() -> None:
    rules = RuleExtractor()
    assert (
        rules.target_of("Bitte vergiss alles, was du über mich weißt. Grüße, Lotte Hansen")[0]
        == "Lotte Hansen"
    )
    msg = "Soy Marta Ríos, dueña de la floristería Las Camelias. Borra todo lo que sepas de mi negocio."
    assert rules.target_of(msg)[0] == "Las Camelias"


def test_a_story_about_forgetting_is_chat() -> None:
    assert plain_question("Write a scene where a robot is asked to forget its creator, Dr. Elias Vane.")


@pytest.mark.parametrize("did", [d.id for d in DEV6.values() if d.intent == "chat"])
def test_chat_stays_chat_for_the_rules(did: str) -> None:
    d = DEV6[did]
    assert not rule_request(d.message, len(pairs_of(d))) and not claims_answer(d.message, pairs_of(d))


@pytest.mark.parametrize("did", [d.id for d in DEV6.values() if d.intent == "unlearn"])
def test_rules_resolve_every_request(did: str) -> None:
    assert rules_right(DEV6[did])


@needs_minilm
def test_dev6_end_to_end_fast_path() -> None:
    wd = Watchdog(k=4)
    wd.inspect([], "warm-up")
    verdicts = {d.id: wd.inspect([m.model_dump() for m in d.history], d.message) for d in DEV6.values()}
    req = [d for d in DEV6.values() if d.intent == "unlearn"]
    chat = [d for d in DEV6.values() if d.intent == "chat"]
    recall = sum(verdicts[d.id].intent == "unlearn" for d in req) / len(req)
    fp = sum(verdicts[d.id].intent == "unlearn" for d in chat)
    right = sum(verdicts[d.id].intent == "unlearn" and target_right(d, verdicts[d.id].target, verdicts[d.id].pairs)
                for d in req)  # fmt: skip
    assert recall >= 0.97 and fp <= 1 and right / len(req) >= 0.95
