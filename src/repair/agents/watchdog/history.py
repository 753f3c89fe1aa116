"""The watchdog's view of the chat history: turn pairs, content words, which turns mention a subject, and
which answer a pointer ("that phone number", "the address you dug up") means."""

from __future__ import annotations

import re

_STOP = {
    "the", "a", "an", "of", "my", "your", "our", "his", "her", "their", "its", "about", "on", "in", "to",
    "and", "or", "is", "are", "was", "were", "what", "who", "that", "this", "for", "with", "all", "any",
    "everything", "anything", "info", "information", "details", "stuff", "things", "data", "facts", "at",
    "by", "from", "me", "you", "i", "it", "be", "do", "does", "did",
}  # fmt: skip


def content_tokens(text: str) -> set[str]:
    # unicode words: "Wałęsa", "flygplatsen", "hakkında" are words too
    toks = re.findall(r"[^\W_][\w\-]*", text.lower().replace("'s", ""))
    out = set()
    for t in toks:
        if len(t) < 2 or t in _STOP:
            continue
        out.add(t[:-1] if len(t) > 3 and t.endswith("s") and not t.endswith("ss") else t)
    return out


def turn_pairs(history: list[dict], k: int) -> list[tuple[str, str]]:
    """(user, assistant) pairs of the last k turns, oldest first."""
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for m in history:
        role, content = m.get("role"), str(m.get("content", ""))
        if role == "user":
            pending = content
        elif role == "assistant" and pending is not None:
            pairs.append((pending, content))
            pending = None
    return pairs[-k:] if k > 0 else []


def find_in_history(target: str, pairs: list[tuple[str, str]]) -> list[int]:
    """Indices of turn pairs that mention `target`, newest first."""
    want = content_tokens(target)
    if not want:
        return []
    need = 1.0 if len(want) <= 2 else 0.66
    hits, asked = [], []
    for i in range(len(pairs) - 1, -1, -1):
        have = content_tokens(pairs[i][0] + " " + pairs[i][1])
        if len(want & have) / len(want) >= need:
            hits.append(i)
            if len(want & content_tokens(pairs[i][0])) / len(want) >= need:
                asked.append(i)
    # Turns whose user question names the subject are about it; a turn whose answer merely mentions
    # it in passing is not (issue 21, history_scope). Fall back to every mention when none asks.
    return asked or hits


def _grounded(target: str, message: str, pairs: list[tuple[str, str]]) -> bool:
    """Whether most of the target's content words occur in the message or the history."""
    want = content_tokens(target)
    if not want:
        return False
    have = content_tokens(message + " " + " ".join(u + " " + a for u, a in pairs))
    return len(want & have) / len(want) >= 0.5


# "that phone number", and the demonstratives of the other languages the rules read ("essa morada",
# "det där numret", "dat foute antwoord", "tę informację", "bu bilgiyi")
_DEM_PHRASE = re.compile(
    r"\b(?:that|this|those|these|ce|cet|cette|ces|diese[rsnm]?|ese|esa|este|esta|questo|questa|quel|quella|quello"
    r"|esse|essa|deze|dit|dat|ten|tę|tego|tej|den där|det där|denna|detta|den|det|bu|şu)\s+"
    r"((?:[\w'\-]+\s+){0,3}?[\w'\-]+)|\b(?:quell|quest|cett)['’]((?:[\w'\-]+\s+){0,3}?[\w'\-]+)",
    re.I,
)
# "the address you dug up", "the trivia you gave me": an answer named by what the model did with it
_YOU_DID = re.compile(
    r"\b(?:the|that|this|those|these)\s+(?P<np>(?:[\w'\-]+\s+){0,3}?[\w'\-]+)\s+(?:you|u)\s+(?:just\s+)?"
    r"(?:gave|told|said|mentioned|wrote|provided|dug up|came up with|found|listed|quoted|shared|showed|produced"
    r"|generated|made up)\b",
    re.I,
)
_GENERIC = {
    "answer", "reply", "response", "fact", "info", "detail", "bit", "part", "claim", "thing", "stuff", "one",
    "last", "previous", "earlier", "first", "second", "message", "statement", "piece", "wrong", "whole",
    "réponse", "antwort", "respuesta", "risposta", "resposta", "antwoord", "odpowiedź", "svaret", "svar",
    "cevap", "cevabı", "bilgi", "bilgiyi", "informację", "informacja", "uppgiften",
}  # fmt: skip
# A pointer at a number, address, amount or date ("that phone number", "det där numret", "essa morada"):
# the answer it means holds digits.
_DIGIT_NOUN = re.compile(
    r"\b(?:number|phone|address|salary|pay|age|figure|date|code|postcode|num[ée]ro|n[úu]mero|nummer|numret|numer"
    r"|numara\w*|adres\w*|morada|endere[çc]o|indirizzo|t[ée]l[ée]phone|telefo\w*|gehalt|salario|stipendio|salaris"
    r"|pensj\w*|l[öo]n\w*|wiek|[åa]lder|ya[şs]\w*)\b",
    re.I,
)


# What kind of thing a pointer names, and what an answer that holds one looks like: "die Adresse von
# vorhin" is the newest answer with a street and a house number, "that age" the one with "47 anni",
# "a data de nascimento" the one with a year, "tę informację o pensji" the one with an amount earned.
_STREET = (
    r"stra(?:ß|ss)e|str|street|st|road|rd|avenue|ave|lane|drive|close|gardens|rue|impasse|all[ée]e|boulevard|calle"
    r"|avenida|plaza|paseo|via|viale|piazza|corso|rua|travessa|largo|straat|laan|gracht|gatan|v[äa]gen|ulica|ul"
    r"|sokak|caddesi|mahallesi"
)
_CUES = [
    (
        re.compile(
            # ... or where someone lives: "her home", "where she lives", "son domicile", "seinen Wohnort"
            r"\b(?:address|\w*adresse|adres\w*|direcci[óo]n|indirizzo|morada|endere[çc]o|adress\w*|home|domicile"
            r"|wohnort|domicilio|where (?:\w+ )?lives?)\b",
            re.I,
        ),
        re.compile(
            rf"\b(?:{_STREET})\b\.?[^.;]{{0,40}}?\d|\d+[a-z]?,?\s+(?:[\w'’\-]+\s+){{0,2}}?(?:{_STREET})\b"
            r"|\w(?:stra(?:ß|ss)e|gasse|weg|platz|straat|gatan|v[äa]gen)\s+\d",
            re.I,
        ),
    ),
    (
        re.compile(
            r"\b(?:salary|salaries|pay|wages?|earnings|salaire|\w*gehalt|verdienst|sueldo|salario|stipendio|sal[áa]rio"
            r"|salaris|pensj\w*|zarobk\w*|l[öo]n\w*|maa[şs]\w*)\b",
            re.I,
        ),
        re.compile(
            r"\d[\d.,\s]*\s*(?:€|euros?|eur|£|\$|dollars?|pounds?|z[łl]\w*|tysi[ęe]cy|kr(?:onor)?|lira|tl|reais"
            r"|francs?)\b|[€£$]\s*\d|\b(?:earns?|gagne|verdient|cobra|guadagna|ganha|zarabia|tj[äa]nar|kazan\w*)\b",
            re.I,
        ),
    ),
    (
        re.compile(r"\b(?:age|[âa]ge|alter|edad|et[àa]|idade|wiek\w*|[åa]lder\w*|ya[şs][ıi]\w*)(?!\w)", re.I),
        re.compile(
            r"\b\d{1,3}\s*(?:years?|yrs|ans|jahre?\w*|a[ñn]os|anni|anos|lat|[åa]r|ya[şs]\w*)\b"
            r"|\b(?:aged?|is|est|ist|ha|tem|tiene|ma|[äa]r)\s+\d{1,3}\b(?![\d.,])",
            re.I,
        ),
    ),
    (
        re.compile(
            r"\b(?:date|year|birthday|data|fecha|datum|ann[ée]e|anno|a[ñn]o|ano|nascimento|naissance|geburt\w*"
            r"|nacimiento|nascita|geboortedatum|urodzin\w*|f[öo]delse\w*|do[ğg]um)\b",
            re.I,
        ),
        re.compile(r"\b(?:1[0-9]|20)\d{2}\b"),
    ),
]


# "what you told me about my sister", "ce que tu m'as dit sur ma voisine", "the second thing you told me, about
# her husband": the pointer says what the answer was about; the turn whose question names it is meant
_ABOUT_NP = re.compile(
    r"\b(?:about|regarding|concerning|sur|über|sobre|acerca de|over)\s+(?:(?:my|his|her|their|the|ma|mon|mes|sa|son"
    r"|ses|la|le|les|meine[mnrs]?|mein|seine[mnrs]?|ihre[mnrs]?|die|der|den|dem|das|mi|mis|su|sus|el|los|las|mijn"
    r"|zijn|haar|de|het)\s+)*([^\W\d_][\w\-]{2,})",
    re.I,
)


def _about_turn(message: str, pairs: list[tuple[str, str]]) -> int | None:
    """The newest turn whose question names what the pointer is about, if any does."""
    for m in _ABOUT_NP.finditer(message):
        want = _stems(m.group(1)) - {w[:5] for w in _GENERIC}
        hits = [i for i, (user, _) in enumerate(pairs) if want and want <= _stems(user)]
        if hits:
            return hits[-1]
    return None


# "the second answer you gave me", "forget the first number", "la deuxième réponse": the turn counted from the
# oldest one in view
_ORDINALS = (
    (r"first|1st|premi[eè]re?|erste\w*|primer[ao]?|prim[ao]|primeir[ao]|eerste", 0),
    (r"second|2nd|deuxi[eè]me|seconde|zweite\w*|segund[ao]|second[ao]|tweede", 1),
    (r"third|3rd|troisi[eè]me|dritte\w*|tercer[ao]?|terz[ao]|terceir[ao]|derde", 2),
)
_ORDINAL_NOUN = (
    r"\s+(?:\w+\s+)?(?:answer|reply|response|thing|one|fact|number|address|claim|figure|date|detail|bit|part|info\w*"
    r"|r[ée]ponse|chose|antwort\w*|sache|angabe|respuesta|cosa|dato|risposta|resposta|coisa|antwoord|ding|num[ée]ro"
    r"|n[úu]mero|nummer|adresse|direcci[óo]n|indirizzo)s?\b"
)


def _ordinal_turn(message: str, n: int) -> int | None:
    for words, i in _ORDINALS:
        if i < n and re.search(rf"\b(?:{words}){_ORDINAL_NOUN}", message, re.I):
            return i
    return None


def _pointed_turn(message: str, pairs: list[tuple[str, str]]) -> int:
    """The turn a pointer means: the last one, unless its noun ("that phone number") fits only an earlier
    answer, then the newest such answer."""
    nth = _ordinal_turn(message, len(pairs)) if len(pairs) > 1 else None
    if nth is not None:
        return nth
    about = _about_turn(message, pairs) if len(pairs) > 1 else None
    if about is not None:
        return about
    want: set[str] = set()
    for m in [*_DEM_PHRASE.finditer(message), *_YOU_DID.finditer(message)]:
        want |= _stems(m.group(1) or m.group(2) or "") - {w[:5] for w in _GENERIC}
    last = len(pairs) - 1
    if len(pairs) < 2:
        return last
    if want & _stems(" ".join(pairs[-1])):
        return last
    for i in range(last - 1, -1, -1):
        if want & _stems(" ".join(pairs[i])):  # "that octopus fact": the turn that asked about octopuses
            return i
    for noun, cue in _CUES:
        if noun.search(message):
            fits = [i for i, (_, a) in enumerate(pairs) if cue.search(a)]
            if fits:
                return fits[-1]
    digits = [i for i, (_, a) in enumerate(pairs) if re.search(r"\d{2,}", a)]
    if _DIGIT_NOUN.search(message) and digits and last not in digits:
        return digits[-1]
    return _best_overlap(message, pairs)


def _best_overlap(message: str, pairs: list[tuple[str, str]]) -> int:
    """The turn sharing the most content words with the whole message, when one stands out ("That age you
    mentioned for the singer", "Henrietta Vale never wrote that book"); else the last turn."""
    words = _stems(message) - {w[:5] for w in _GENERIC}
    scores = [len(words & _stems(" ".join(p))) for p in pairs]
    best = max(scores)
    if best == 0 or scores.count(best) > 1:
        return len(pairs) - 1
    return scores.index(best)


def _stems(text: str) -> set[str]:
    """Content words cut to 5 letters, so "octopus" meets "octopuses" and "salary" meets "salaries"."""
    return {t[:5] for t in content_tokens(text)}
