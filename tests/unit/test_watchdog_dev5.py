"""The watchdog on DEV5 dialogues of ``watchdog_v2`` (a fifth hand-written tuning set, weighted to Spanish,
French, German, Italian and Portuguese requests, requests spread over two turns and hard negatives; the
test split is read only for the no-shared-text check): the forms dev5 showed were missed, the two
leftovers of dev2/dev4, and the chat that must stay chat."""

from __future__ import annotations

import pytest
from watchdog_cases import needs_minilm, pairs_of, rules_right

from repair.agents.watchdog import Watchdog
from repair.agents.watchdog.context import edits_a_draft, followup_target, self_in_history
from repair.agents.watchdog.signals import foreign_request, rule_request, self_name
from repair.agents.watchdog_sets import load_set, norm_name, target_right

DEV5 = {d.id: d for d in load_set("dev5")}


def test_dev5_is_a_separate_hand_written_set() -> None:
    assert len(DEV5) == 145 and sum(d.intent == "unlearn" for d in DEV5.values()) == 73
    others = {
        d.message.strip().casefold()
        for split in ("dev", "dev2", "dev3", "dev4", "test")
        for d in load_set(split)
    }
    assert not others & {d.message.strip().casefold() for d in DEV5.values()}
    assert sum(d.lang != "en" for d in DEV5.values()) / len(DEV5) > 0.8


# Formal requests in each language's own wording: "conforme a la LOPDGDD" after "Yo, X,", "données à
# caractère personnel ... droit à l'oubli", "Objet : demande de suppression ... Mme X, c'est-à-dire moi",
# "venho exercer o direito ao apagamento" with "Nome completo:" on its own line, "mache ich, Dr. X, von
# meinem Recht auf Löschung Gebrauch".
@pytest.mark.parametrize(
    ("did", "name"),
    [
        ("d-5002", "Fermín Castellote Rubio"),
        ("d-5016", "Théophile Vasseur-Brunet"),
        ("d-5017", "Solène Ardouin"),
        ("d-5047", "Leonor Vasconcelos Pinto"),
        ("d-5030", "Ansgar Pfleiderer"),
    ],
)
def test_formal_requests(did: str, name: str) -> None:
    d = DEV5[did]
    assert d.cls == "formal" and rule_request(d.message, 0)
    assert self_name(d.message) == name and rules_right(d)


# Self-names: "I own X", the business after "sur ma boutique, X" rather than the speaker's own name
@pytest.mark.parametrize(
    ("did", "name"),
    [("d-5060", "Blackthorn Cycle Repairs"), ("d-5022", "Les Jardins d'Apolline")],
)
def test_self_named_business(did: str, name: str) -> None:
    assert self_name(DEV5[did].message) == name and rules_right(DEV5[did])


# "forget me" where only the history says who: "lol that's me" / "Ese soy yo" after an answer about them,
# "Hi, I'm Tobias Wren" a turn earlier, "Sono io" after a question about Corrado Lanzetta.
@pytest.mark.parametrize("did", ["d-5009", "d-5059", "d-5068", "d-5071"])
def test_the_user_in_the_history(did: str) -> None:
    d = DEV5[did]
    who, turn = self_in_history(d.message, pairs_of(d))
    assert (who or turn is not None) and rules_right(d)


# The answer to the assistant's "what should I forget?": only a name, an address, "mi cugina X".
@pytest.mark.parametrize(
    "did", ["d-5013", "d-5027", "d-5037", "d-5045", "d-5053", "d-5063", "d-5064", "d-5070"]
)
def test_answer_to_what_should_i_forget(did: str) -> None:
    d = DEV5[did]
    assert d.gold is not None and d.gold.subject
    got = followup_target(d.message, pairs_of(d))
    assert norm_name(got) in {norm_name(x) for x in [d.gold.subject, *d.gold.aliases]}
    assert rules_right(d)


# A pointer whose noun names a kind of answer: the address ("Die Adresse von vorhin"), the age
# ("quella notizia sull'età"), the date ("A data de nascimento que deste"), the salary (dev4's
# "tę informację o pensji"): the newest answer holding one, not the last answer.
@pytest.mark.parametrize("did", ["d-5032", "d-5042", "d-5069", "d-4012"])
def test_pointer_by_kind_of_answer(did: str) -> None:
    d = DEV5[did] if did in DEV5 else {x.id: x for x in load_set("dev4")}[did]
    assert d.gold is not None and d.gold.turns == [0] and len(d.history) >= 4 and rules_right(d)


# Corrections in other languages ("¡Eso es mentira! ... Borra eso ya", "N'importe quoi ... Retire cette
# réponse", "C'est complètement faux ... Je veux que tu oublies ça", "Das stimmt nicht ... Nimm diese
# falsche Antwort ... raus") and verbs the rules lacked ("désapprendre tout ce qui concerne", "Oublie
# tout sur", "Desaprende tudo sobre", "Dieses Gerücht ... Vergiss das", "Dimentica quell'indirizzo").
@pytest.mark.parametrize(
    "did",
    ["d-5011", "d-5024", "d-5025", "d-5035", "d-5026", "d-5028", "d-5054", "d-5072", "d-5041"],
)
def test_other_language_requests(did: str) -> None:
    d = DEV5[did]
    assert d.lang != "en" and foreign_request(d.message, len(pairs_of(d))) and rules_right(d)


# The two leftovers: "Wipe that legend" (dev2), "proszę, forget everything about Lech Wałęsa, ok?" (dev4)
@pytest.mark.parametrize(("split", "did"), [("dev2", "d-2004"), ("dev4", "d-4063")])
def test_old_leftovers(split: str, did: str) -> None:
    d = {x.id: x for x in load_set(split)}[did]  # type: ignore[arg-type]
    assert rule_request(d.message, len(pairs_of(d))) and rules_right(d)


@pytest.mark.parametrize("did", [d.id for d in DEV5.values() if d.intent == "chat"])
def test_chat_stays_chat_for_the_rules(did: str) -> None:
    d = DEV5[did]
    assert not rule_request(d.message, len(pairs_of(d)))
    assert followup_target(d.message, pairs_of(d)) is None


def test_a_question_about_deleting_is_not_a_request() -> None:
    d = DEV5["d-5085"]  # "¿Cuánto tarda Google en borrar mis datos si se lo pido?"
    assert d.intent == "chat" and not foreign_request(d.message, 0)


# After "Dame una lista ...", "Fais-moi une liste ...", "Hier ist mein Text ...", "Aqui está o meu
# parágrafo ...", a delete edits that text; after a question, "Bórrala de tu memoria" does not.
@pytest.mark.parametrize("did", ["d-5079", "d-5092", "d-5105", "d-5125"])
def test_editing_a_text_the_assistant_wrote(did: str) -> None:
    assert edits_a_draft(DEV5[did].message, pairs_of(DEV5[did]))


def test_a_request_after_a_question_is_no_draft_edit() -> None:
    d = DEV5["d-5004"]
    assert d.intent == "unlearn" and not edits_a_draft(d.message, pairs_of(d))


@needs_minilm
def test_dev5_end_to_end_fast_path() -> None:
    wd = Watchdog(k=4)
    wd.inspect([], "warm-up")
    verdicts = {d.id: wd.inspect([m.model_dump() for m in d.history], d.message) for d in DEV5.values()}
    req = [d for d in DEV5.values() if d.intent == "unlearn"]
    chat = [d for d in DEV5.values() if d.intent == "chat"]
    recall = sum(verdicts[d.id].intent == "unlearn" for d in req) / len(req)
    fp = sum(verdicts[d.id].intent == "unlearn" for d in chat)
    right = sum(verdicts[d.id].intent == "unlearn" and target_right(d, verdicts[d.id].target, verdicts[d.id].pairs)
                for d in req)  # fmt: skip
    assert recall >= 0.97 and fp <= 1 and right / len(req) >= 0.95
