"""Requests whose target lies in earlier turns (issue 21, dev5): the answer to the assistant's "what should
I forget?", and the user as the history shows them ("Hi, I'm Tobias Wren" two turns before "forget me",
"lol that's me" after an answer about them, "Sono io" after a question about Corrado Lanzetta).
"""

from __future__ import annotations

import re

from .foreign import foreign_verb
from .history import _STREET
from .selfname import _NOT_NAME, self_name

# The previous user turn asked to forget something without saying what ("I need you to forget
# something", "Kannst du etwas für mich vergessen?"), and the assistant asked what or whom.
_EN_FORGET = re.compile(r"\b(?:forget|unlearn|erase|delete|remove|wipe|purge|scrub)\b", re.I)
_HABIT = re.compile(r"\b(?:i|we)\s+(?:\w+\s+)?(?:forget|forgot)\b|\b(?:don't|do not|never)\s+forget\b", re.I)
_ASKS_WHAT = re.compile(
    r"\b(?:what|which|who|whom|quoi|quel\w*|qui|lequel|laquelle|was|wen|wer|welche\w*|worum|qu[ée]|cu[áa]l\w*"
    r"|qui[ée]n\w*|cosa|chi|quale|quais|qual|quem|wat|welke|co|kogo|vad|vem|ne|kim|hangi)\b",
    re.I,
)
# "No, nothing", "never mind", "laisse tomber", "déjalo": the user takes the request back
_TAKE_BACK = re.compile(
    r"^\W*(?:no|non|nein|not|nothing|nada|rien|nichts|niente|nulla|never ?mind|forget it|laisse tomber|d[ée]jalo"
    r"|olv[ií]dalo|lascia (?:perdere|stare)|deixa|esquece|vergiss es|egal|non importa|nee|nie|nej|hay[ıi]r)\b",
    re.I,
)
# an address given as the thing to forget: "my old address, 14 Kelso Gardens, Leeds"
_STREET_FIRST = re.compile(rf"\b(?:{_STREET})\.?\s+(?:[^\W\d_][\w'’\-]*\s+){{0,3}}?\d+[a-zA-Z]?\b", re.I)
_ADDRESS = re.compile(
    r"(?<![\w.,])\d+[a-zA-Z]?,?\s+(?:[^\W\d_][\w'’\-]*\s+){0,4}?[^\W\d_][\w'’\-]*(?=\s*(?:[,.;]|$))"
)
# ... or a phone number: "El teléfono de mi tía, 612 334 556"
_NUMBER = re.compile(r"\+?\d[\d \-/.]{5,}\d")
_RUN = re.compile(r"(?<![.?!:]\s)(?<!^)\b([A-ZÀ-ÝĀ-Ž][\w'’\-]+(?:[ \t]+[A-ZÀ-ÝĀ-Ž][\w'’\-]+)+)")
# German nouns are capitalised: "meinen Nachbarn Friedhelm Wachowiak" starts with a noun, not a name
_POSSESSIVE = re.compile(
    r"\b(?:mein|dein|sein|ihr|unser|euer)\w*\s+$|\b(?:den|dem|der|die|das|einen|einem|einer)\s+$", re.I
)


# ... something not yet named, or from the model's memory ("forget something", "olvides a alguien",
# "effaces quelqu'un de ta mémoire", "vergiss eine Adresse"); not "How do I delete my Facebook account?"
_UNNAMED = re.compile(
    r"\b(?:something|someone|somebody|info\w*|memory|memories|algo|alguien|quelque chose|quelqu['’]un|etwas|jemanden"
    r"|qualcosa|qualcuno|algu[ée]m|iets|iemand|co[śs]|kogo[śs]|n[åa]got|n[åa]gon|bir [şs]ey|birini|m[ée]moire|memoria"
    r"|ged[äa]chtnis|mem[óo]ria|geheugen|pami[ęe]ci|minne)\b"
    r"|\b(?:a|an|un|une|una|uma|ein|eine|einen|een|some|a few)\s+(?:person|persona|pessoa|personne|thing|cosa|coisa"
    r"|chose|ding|name|nom|nombre|nome|fact|detail|address|adresse|adres|direcci[óo]n|indirizzo|morada|number"
    r"|num[ée]ro|nummer)\b",
    re.I,
)


def _asked_to_forget(pairs: list[tuple[str, str]]) -> bool:
    if not pairs:
        return False
    user, answer = pairs[-1]
    verb = (_EN_FORGET.search(user) and not _HABIT.search(user)) or foreign_verb(user)
    asks = answer.rstrip().endswith("?") and _ASKS_WHAT.search(answer)
    return bool(verb and asks and _UNNAMED.search(user))


def _name_in(message: str) -> str | None:
    for m in _RUN.finditer(message):
        words = m.group(1).split()
        if len(words) > 2 and _POSSESSIVE.search(message[: m.start()]):
            words = words[1:]
        if words[0].lower() not in _NOT_NAME:
            return " ".join(words)
    return None


def followup_target(message: str, pairs: list[tuple[str, str]]) -> str | None:
    """What the user names in answer to the assistant's "what should I forget?", or None.

    The previous turn is the request; this message only says what: an address, a name the user gives
    for themselves, or a capitalised name ("A Lorena Galindo, mi expareja", "The name of my son's
    school, Ashgrove Primary"). A question, or "no, nothing" / "never mind", is not an answer.
    """
    text = message.strip()
    if not _asked_to_forget(pairs) or text.endswith("?") or _TAKE_BACK.match(text):
        return None
    address = _STREET_FIRST.search(text) or _ADDRESS.search(text) or _NUMBER.search(text)
    if address:
        return address.group().rstrip(" ,")
    return self_name(text) or _name_in(text)


# ---------------------------------------------------------------------------------------------------
# The user in the history
# ---------------------------------------------------------------------------------------------------
# "that's me", "ese soy yo", "c'est moi", "das bin ich", "sono io", "sou eu", "dat ben ik", "to ja", "det är jag"
_ITS_ME = re.compile(
    r"\b(?:that's|that is|that’s|it's|it is) me\b|\b(?:ese|esa|esa persona)? ?soy yo\b|\bc['’]est moi\b"
    r"|\bdas bin ich\b|\bsono io\b|\bsou eu\b|\bdat ben ik\b|\bto ja\b|\bdet [äa]r jag\b|\bo benim\b",
    re.I,
)


def claims_answer(message: str, pairs: list[tuple[str, str]]) -> bool:
    """ "C'est moi, ça. Merci de tout effacer": the user says an answer is about them and asks for removal."""
    verb = (_EN_FORGET.search(message) and not _HABIT.search(message)) or foreign_verb(message)
    return bool(pairs and verb and _ITS_ME.search(message))


# the message is about the speaker: "anything about me", "forget me", "olvídame", "su di me", "sobre mí"
ABOUT_ME = re.compile(
    r"\b(?:about|on|of|regarding|concerning) me\b|\b(?:forget|erase|delete|remove|wipe|unlearn) me\b|\bmyself\b"
    r"|\bmy (?:personal )?(?:data|details|information|info)\b|\bsur moi\b|\bme concernant\b|\b[üu]ber mich\b"
    r"|\bsobre m[íi]m?\b|\bde m[íi]\b|\bsu di me\b|\bover mij\b|\bo mnie\b|\bom mig\b|\bhakk[ıi]mda\b"
    r"|olv[ií]d(?:a|e|en)me|-moi\b|\bvergiss mich\b|\bdimenticami\b|\besque[çc](?:e|a)-me\b",
    re.I,
)


# The last turn asked for a text ("Escríbeme un poema", "Écris-moi un haïku", "Write me a toast", "Hier ist
# mein Text: ..."): "bórralo", "supprime-le", "delete that" then edit that text, not the model.
_COMPOSE = re.compile(
    r"^\W*(?:(?:(?:can|could|would|will) you|please|pls|peux-tu|pourrais-tu|kannst du|puedes|puoi|podes|pode)\s+)?"
    r"(?:write|draft|compose|rewrite|translate|summari[sz]e|make me|give me a list|list|help me (?:write|draft)"
    r"|here(?:'s| is) my|[ée]cri(?:s|vez)(?:-moi)?|r[ée]dige[sz]?(?:-moi)?|fais-moi|traduis|r[ée]sume|aide-moi [àa]"
    r"|voici mon|schreib\w*|verfass\w*|erstell\w*|[üu]bersetz\w*|hilf mir|hier ist mein|escr[íi]be\w*|red[áa]cta\w*"
    r"|hazme|traduce|ay[úu]dame a|dame una lista|aqu[íi] (?:est[áa]|tienes) mi|scrivi\w*|fammi|traduci|riassumi"
    r"|elenca|aiutami a|ecco il mio|escreve\w*|faz-me|traduz|ajuda-me a|aqui est[áa] o meu)\b",
    re.I,
)
_MEMORY_WORD = re.compile(
    r"\b(?:memory|memories|knowledge|model|weights|training|know|remember|m[ée]moire|mod[èe]le|sais|wissen"
    r"|ged[äa]chtnis|modell|wei(?:ß|ss)t|memoria|modelo|sabes|modello|sai|mem[óo]ria|geheugen|weet)\b",
    re.I,
)


def edits_a_draft(message: str, pairs: list[tuple[str, str]]) -> bool:
    """A pointer after the assistant wrote a text on request, with no word for the model's knowledge."""
    return bool(pairs and _COMPOSE.search(pairs[-1][0]) and not _MEMORY_WORD.search(message))


def _subject_of(question: str) -> str | None:
    """The person a history question asks about: its first capitalised run (not the sentence's first word)."""
    return _name_in(question)


def self_in_history(message: str, pairs: list[tuple[str, str]]) -> tuple[str | None, int | None]:
    """(the user's name, or the turn about them) when a message about the speaker names no one.

    "lol that's me ... forget about me": the last answer is about them. Otherwise the newest user turn
    that introduces them ("Hi, I'm Tobias Wren") gives the name, or one that says "Sono io" right after a
    question about someone gives that someone.
    """
    if not pairs or not ABOUT_ME.search(message) or self_name(message):
        return None, None
    if _ITS_ME.search(message):
        return None, len(pairs) - 1
    for i in range(len(pairs) - 1, -1, -1):
        user = pairs[i][0]
        name = self_name(user)
        if name:
            return name, None
        if i > 0 and _ITS_ME.search(user):
            name = _subject_of(pairs[i - 1][0])
            if name:
                return name, None
    return None, None
