"""Deterministic target extraction and reference resolution (`RuleExtractor`); needs no LLM."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .context import followup_target, self_in_history
from .history import _GENERIC, _YOU_DID, _pointed_turn, find_in_history
from .plural import plural_turns
from .schema import ProbeFn
from .selfname import _FULL, _NAME, _NOT_NAME, _TITLE, BUSINESS, own_business
from .signals import (
    SELF_REF,
    foreign_target,
    formal_request,
    is_deictic_np,
    points_at_first,
    self_name,
)
from .subject import TITLE_DOT, event_in, looks_like_person, probe_prompts, quoted_title, shape

# ----------------------------------------------------------------------------------------------------
# Deterministic extraction
# ----------------------------------------------------------------------------------------------------


def _cut_sentence(x: str) -> str:
    # End at the first sentence break, but not after one-letter abbreviations such as "B. mallei".
    for m in re.finditer(r"[.?!](?=\s|$)", x):
        i = m.start()
        if m.group() == "." and i >= 1 and x[i - 1].isupper() and (i == 1 or not x[i - 2].isalpha()):
            continue
        if m.group() == "." and TITLE_DOT.search(x[:i]):  # "dr. anselm pike": a title, not a full stop
            continue
        return x[:i]
    return x


_TRIM = [
    re.compile(
        r"\s+(?:from|out of|in|off|inside)\s+(?:(?:what|everything|all|anything|whatever)\b[^.?!]*\byou\b|yourself\b"
        r"|(?:your|the|its)\s+"
        r"(?:own\s+)?(?:memory|memories|knowledge|weights|brain|head|mind|model|training|database|records?"
        r"|system|data|files?))\b.*$",
        re.I,
    ),
    re.compile(r"\s*(?:[,;:]|\s-\s|\s—\s).*$"),
    re.compile(
        r"\s+(?:please|pls|plz|entirely|completely|totally|for good|forever|permanently|right now|right away|anymore|any more|any longer"
        r"|now|immediately|asap|altogether|too|as well|needs? to be|has to be|must be|should be|because|since|so that"
        # "delete it so you don't repeat it": a purpose clause, not part of the target
        r"|so(?=\s+(?:you|it|that|i|we|they|he|she|nobody|no one)\b)"
        r"|(?:has|have|needs?|must|should)\s+(?:to\s+)?go|(?:has|have) got to go"
        r"|(?:that\s+)?i\s+(?:gave|shared|mentioned|told|provided|typed|sent)"
        r"|(?:that\s+)?you\s+(?:have|hold|know|learned|learnt|stored|were told|got))\b.*$",
        re.I,
    ),
    # "all data about me wiped from your memory": the participle is the request, not the subject
    # ... and "about her be deleted": its auxiliary with it; "X are false": a correction's verdict on X
    re.compile(
        r"\s+(?:(?:be|is|are|get|gets|being)\s+)?(?:wiped|removed|deleted|erased|forgotten|purged|gone|scrubbed)\b.*$"
        r"|\s+(?:is|are|was|were)\s+(?:\w+\s+)?(?:wrong|false|untrue|incorrect|inaccurate|made up|not true)\b.*$"
    ),
    # a time reference left at the end: "forget what you said just now" -> "what you said"
    re.compile(
        r"\s+(?:from\s+)?(?:just|a (?:moment|minute|second|little while) ago|earlier|before|above)\s*$", re.I
    ),
]
_LEAD = re.compile(
    r"^(?:about|all about|all of|all|any|every|everything about|the stuff about|the details (?:about|on)"
    r"|the info(?:rmation)? (?:about|on)|the fact that|any(?:thing| information| info)? (?:about|on|regarding)"
    r"|please|kindly|ensure(?: that)?|make sure(?: that)?|see to it that|i (?:want|need)|have|get)\s+",
    re.I,
)
_DEICTIC = re.compile(
    r"^(?:it|that|this|those|these|them|him|her|he|she|it all|that all|all of (?:it|that)|everything|"
    r"what you (?:just |previously |earlier )?(?:said|told me|wrote|answered|mentioned|replied|gave me)|"
    r"(?:your|the|that) (?:last |previous |prior |latest |earlier )?(?:answer|reply|response|message|statement)|"
    r"that (?:last |previous )?(?:answer|reply|response|info|information|fact|part|bit|statement|thing)|"
    r"the (?:last |previous )?thing you (?:just )?(?:said|told me|wrote|mentioned)|"
    r"(?:that|this|the) (?:last )?(?:bit|part|info|information|thing|stuff))$",
    re.I,
)
_V = r"forget|unlearn|erase|delete|remove|wipe(?:\s+out)?|purge|scrub|expunge|drop|clear(?:\s+out)?|get rid of|take"
_EXPLICIT = [
    # "everything / information / knowledge ... about|on|regarding|of X"
    re.compile(
        r"\b(?:everything|anything|all|whatever|information|info|knowledge|details|data|facts?|stuff|traces?|"
        r"mentions?|records?|things|memories|memory)\b[^.?!]*?\b(?:about|on|regarding|concerning|related to|of)"
        r"\s+(?P<x>.+)",
        re.I,
    ),
    # "what you know / told me / said about X", "what I told you about X"
    re.compile(
        r"\bwhat (?:you|i)\s+(?:\w+\s+){0,2}?(?:know|said|say|told|learned|learnt|remember|mentioned|wrote|"
        r"stored|have|hold|keep|store|retain|got)(?:\s+\w+)?\s+(?:about|on|regarding|concerning)\s+(?P<x>.+)",
        re.I,
    ),
    re.compile(rf"\b(?:{_V})\s+(?:about\s+)?(?:who|what|where)\s+(?P<x>.+?)\s+(?:is|was|are|were)\b", re.I),
    # passive: "make sure X is removed from your memory", "X must be erased", "I want X gone"
    re.compile(
        r"(?:^|\b(?:ensure|make sure|see to it|want|need|have|get)\s+(?:that\s+)?)(?P<x>[^,.;!?]+?)\s+"
        r"(?:(?:is|are|be|gets?|should be|must be|needs? to be|has to be|have to be)\s+)?"
        r"(?:removed|erased|deleted|forgotten|wiped|purged|unlearned|unlearnt|scrubbed|gone|eliminated|"
        r"destroyed|discarded)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:stop remembering|stop knowing(?:\s+things)?(?:\s+about)?|no longer (?:know|remember)|"
        r"(?:don't|do not|never) (?:remember|keep|retain|store))\s+(?P<x>.+)",
        re.I,
    ),
    re.compile(rf"\b(?:{_V})\s+(?:out\s+)?(?P<x>.+)", re.I),
]
_MY = re.compile(
    r"\b(my\s+(?:[\w'\-]+\s+){0,2}?[\w'\-]+?)(?=\s*(?:[,.;!?]|$|\s+(?:with|to|earlier|before|and|that|i|from|in)\b))",
    re.I,
)
_ALL_OF_IT = re.compile(r"[,?!.]?\s*\ball of (?:it|them)\b[.!?]*\s*$", re.I)
_POINTER = re.compile(
    r"\b(?:that|it|this|just said|just told|last (?:answer|reply|response)|previous)\b", re.I
)
_CAPS = re.compile(r"(?<!^)(?<![.?!]\s)\b([A-Z][\w'\-]+(?:\s+[A-Z][\w'\-]+)+)")
_CLAUSE = re.compile(r"^that\s+(?P<s>.+?)\s+(?:is|are|was|were|has|have|lives|works)\s+.+$", re.I)

_PROMPT_SUBJECT = [
    re.compile(r"^(?:\W*)(?P<x>my\s+[\w'\- ]+?)\s+(?:is|are|was|were)\b", re.I),
    re.compile(r"\babout\s+(?P<x>.+)", re.I),
    re.compile(r"\b(?:bio(?:graphy)?|profile|summary|overview)\s+of\s+(?P<x>.+)", re.I),
    re.compile(r"\bwho(?:'s|\s+(?:\w+\s+)?(?:is|was|are|were))\s+(?P<x>.+)", re.I),
    re.compile(
        r"\bwho\s+(?:\w+ed|wrote|invented|discovered|built|made|sang|founded|won|runs|owns)\s+(?P<x>.+)", re.I
    ),
    re.compile(r"\bwhat(?:'s|\s+(?:is|are|was|were))\s+(?P<x>.+)", re.I),
    re.compile(
        r"\bhow\s+(?:tall|big|long|old|far|many|much|large|high|deep|fast|heavy|hot|cold)\s+(?:\w+\s+)?"
        r"(?:is|are|was|were)\s+(?P<x>.+)",
        re.I,
    ),
    re.compile(
        r"\b(?:what|how|when|where|why)\s+(?:does|do|did|was|were|is|are)\s+(?P<x>.+?)\s+\w+\s*[?.!]*$", re.I
    ),
    re.compile(r"\bwhich\s+.+?\s+(?:does|do|did|is|was)\s+(?P<x>.+?)\s+\w+\s*[?.!]*$", re.I),
    re.compile(r"\b(?:describe|explain|define)\s+(?P<x>.+)", re.I),
]


# "Sylvia Plath's biography", "Tesla's life": the facet of a subject stands for the subject.
_FACET = re.compile(
    r"^(?P<s>.+?)(?:'s|’s|s'|s’)\s+(?:entire\s+|whole\s+|full\s+)?(?:bio(?:graphy)?|life(?:\s+story)?|career"
    r"|background|history|story|profile|details|info(?:rmation)?|personal life|legacy)$",
    re.I,
)


def _clean(x: str) -> str:
    x = _cut_sentence(x.strip())
    for r in _TRIM:
        x = r.sub("", x)
    prev = None
    while prev != x:
        prev, x = x, _LEAD.sub("", x.strip())
    x = x.strip(" \t\"'`“”‘’.!?")
    facet = _FACET.match(x)
    return facet.group("s") if facet and not x.lower().startswith("my ") else x


def subject_of_prompt(prompt: str) -> str:
    """The subject a user turn asks about: 'Tell me about Maya Taylor.' -> 'Maya Taylor'."""
    text = prompt.strip()
    for r in _PROMPT_SUBJECT:
        m = r.search(text)
        if m:
            x = _clean(m.group("x"))
            x = re.sub(r"^(?:you\s+)?(?:know|tell me)\s+(?:anything\s+)?(?:about\s+)?", "", x, flags=re.I)
            x = re.sub(
                r"\s+and\s+(?:what|who|where|how|why|when|which|is|are|does|do|did|can|could|should)\b.*$",
                "",
                x,
                flags=re.I,
            )
            if x and not _DEICTIC.match(x):
                return "my " + x[3:] if x.lower().startswith("my ") else x
    caps = re.findall(r"(?<!^)(?<![.?!]\s)\b([A-Z][\w'\-]+(?:\s+[A-Z][\w'\-]+)+)", text)
    if caps:
        return caps[0]
    return _clean(text)


_NAMED_RUN = re.compile(r"\b([A-Z][\w'\-]+(?:\s+[A-Z][\w'\-]+)+)")


def _named_pronoun(x: str, text: str) -> str | None:
    """ "Nikola Tesla - please wipe him from your memory": him/her/them stands for the name the message gives."""
    if x.lower() not in {"him", "her", "them"}:
        return None
    for name in _NAMED_RUN.findall(text):
        if looks_like_person(name) and name.split()[0].lower() not in _NOT_NAME:
            return name
    return None


def _my_phrase(text: str) -> str | None:
    """ "my address" as a subject; not "My dad founded ..." (a clause, whose last word is a verb)."""
    my = _MY.search(text)
    if not my:
        return None
    last = my.group(1).split()[-1].lower()
    if len(my.group(1).split()) > 2 and len(last) > 5 and last.endswith("ed"):
        return None
    return _clean(my.group(1))


# "his address", "the suspension claim", "what you said about her love life ...": a target that names an answer,
# not a subject; when the history does not hold it by name, it points at a turn
_ANSWER_NP = re.compile(
    r"^(?:the|that|this|your|his|her|their|its)\s+(?:[\w'\-]+\s+){0,3}?(?:claim|rumou?r|fact|bit|part|detail|info"
    r"|information|answer|reply|response|statement|allegation|accusation|number|address|figure|date|salary|age"
    r"|e-?mail)s?$"
    # "your answer about his mobile", "the info about where she lives"
    r"|^(?:the|that|this|your)\s+(?:\w+\s+){0,2}?(?:answer|reply|response|claim|info|information|bit|part|stuff"
    r"|details?)\s+(?:about|on|regarding|concerning|where|that)\b.*"
    # "her home", "his mobile": the person a turn was about, by pronoun
    r"|^(?:his|her|their)\s+\w+(?:\s+\w+)?$",
    re.I,
)
_SAID_ABOUT = re.compile(
    r"\bwhat (?:you|u)\s+(?:just\s+)?(?:said|told me|wrote|mentioned|claimed|gave me|came up with)\b", re.I
)


def _names_an_answer(target: str, message: str) -> bool:
    return bool(_ANSWER_NP.match(target) or (_SAID_ABOUT.search(message) and not re.search(r"[A-Z]", target)))


_OUR_BUSINESS = re.compile(rf"^(?:my|our)\s+(?:[\w\-]+\s+)?(?:{BUSINESS})\b", re.I)
# a target that still speaks of the user ("Under GDPR I want my data"): the name they gave is meant
_MINE = re.compile(r"\b(?:me|myself|my (?:personal )?(?:data|information|info|details))\b", re.I)


@dataclass
class Resolution:
    target: str | None
    source: Literal["history", "probe", "message", "none"]
    pairs: list[tuple[str, str]]
    probes: list[str]


class RuleExtractor:
    """Deterministic target extraction and reference resolution; needs no LLM."""

    def target_of(self, message: str) -> tuple[str | None, bool]:
        """(explicit target or None, whether the message points back at the last answer)."""
        target, deictic = self._named_target(message)
        if target and not target.lower().startswith("my "):
            target = shape(target, message)  # no titles, the quoted title, the event's head noun
        return target, deictic

    def _named_target(self, message: str) -> tuple[str | None, bool]:
        target, deictic = self._target_of(message)
        biz = own_business(message) if target and _OUR_BUSINESS.match(target.strip()) else None
        if biz:  # "Sam Whitaker from Whitaker & Sons Plumbing ... about our company": the company, not Sam
            return biz, False
        if target and target.lower().startswith(
            "my "
        ):  # "forget my son, Ethan Caldwell": the name he is given
            named = re.search(re.escape(target) + rf",?\s+{_TITLE}{_FULL}{_NAME}", message)
            if named:
                return named.group("n"), False
        # The user named themselves ("I'm Oliver Strand ... forget me", "Name: X" in an erasure
        # request): the name is the subject, not "me" / "my personal data".
        name = self_name(message)
        if name and (
            target is None
            or formal_request(message)
            or SELF_REF.match(target.strip())
            or _MINE.search(target)
        ):
            return name, False
        return target, deictic

    def _target_of(self, message: str) -> tuple[str | None, bool]:
        text = message.strip()
        # fr/de/es/it/pt/nl/pl/sv/tr: the English patterns below do not apply.
        f_target, f_deictic = foreign_target(text)
        if f_target is not None or f_deictic:
            return f_target, f_deictic
        # "unlearn the Titanic? all of it": "all of it" means the whole subject, not a pointer
        scan = _ALL_OF_IT.sub("", text)
        pronoun = False  # "Forget the film X, everything about it": "it" is X when another form names X
        for r in _EXPLICIT:
            for m in r.finditer(scan):
                x = _clean(m.group("x"))
                if not x:
                    continue
                if is_deictic_np(x) or _YOU_DID.search(x):  # "wipe that phone number": the answer just given
                    return None, True
                # "I want that statement removed" (its "that" lost), "unlearn the wrong answer"
                if (
                    set(x.lower().split()) - {"the", "your", "that", "this", "my", "incorrect", "false"}
                    <= _GENERIC
                ):
                    return None, True
                if _DEICTIC.match(x):
                    named = _named_pronoun(x, text)
                    if named:
                        return named, False
                    my = _my_phrase(text)
                    if my:
                        return my, False
                    if x.lower() in {"it", "them", "him", "her"}:
                        pronoun = True
                        continue
                    return None, True
                if x.lower().startswith("my "):
                    x = "my " + x[3:]
                return x, False
        if pronoun:  # ... or a work's quoted title or an event the message names
            named = quoted_title(text) or event_in(text)
            return (named, False) if named else (None, True)
        my = _my_phrase(text)
        if my:
            return my, False
        if not _POINTER.search(text):
            caps = _CAPS.findall(text)
            if caps:
                return caps[0], False
        return None, True  # an unlearn request with no named subject refers to what was just said

    def _target_in_context(self, message: str, pairs: list[tuple[str, str]]) -> tuple[str | None, bool]:
        """`target_of`, reading the history where the message alone does not say what: the answer to
        "what should I forget?", and "forget me" from a user whom an earlier turn names. A turn about the
        user comes back as (its 1-based number as text, True)."""
        follow = followup_target(message, pairs)
        if follow:
            return follow, False
        target, deictic = self.target_of(message)
        if pairs and (target is None or SELF_REF.match(target.strip()) or _MINE.search(target)):
            who, at = self_in_history(message, pairs)
            if who:
                return who, False
            if at is not None:
                return str(at + 1), True
        return target, deictic

    def resolve(
        self,
        message: str,
        pairs: list[tuple[str, str]],
        target: str | None = None,
        turn: int | None = None,
        probe_fn: ProbeFn | None = None,
        n_probes: int = 3,
    ) -> Resolution:
        deictic = False
        if target is not None and _DEICTIC.match(target.strip(" .!?")):
            target = None  # an LLM that answers "that" has not named a subject
        if target is None and turn is None:
            target, deictic = self._target_in_context(message, pairs)
            many = plural_turns(message, pairs)
            if many and not (deictic and target is not None):  # "delete both of those answers"
                named = None if deictic else target
                return Resolution(
                    named or subject_of_prompt(pairs[many[0]][0]), "history", [pairs[i] for i in many], []
                )
            if deictic and target is not None:  # the turn about the user ("lol that's me")
                target, deictic, turn = None, False, int(target)
        if turn is not None and 1 <= turn <= len(pairs):
            p = pairs[turn - 1]
            return Resolution(target or subject_of_prompt(p[0]), "history", [p], [])
        if deictic or target is None:
            if not pairs:
                return Resolution(None, "none", [], [])
            p = pairs[0] if points_at_first(message) else pairs[_pointed_turn(message, pairs)]
            return Resolution(subject_of_prompt(p[0]), "history", [p], [])
        hits = find_in_history(target, pairs)
        clause = _CLAUSE.match(target)
        if hits:
            return Resolution(target, "history", [pairs[i] for i in hits], [])
        if pairs and _names_an_answer(target, message):
            p = pairs[_pointed_turn(message, pairs)]
            return Resolution(subject_of_prompt(p[0]), "history", [p], [])
        if clause:
            # "forget that Maya Taylor lives in Oslo": the message itself states the fact.
            subj = clause.group("s")
            fact = target[5:].strip()
            return Resolution(
                subj, "message", [(f"Tell me about {subj}.", fact[0].upper() + fact[1:] + ".")], []
            )
        probes = probe_prompts(target, n_probes)
        if probe_fn is None:
            return Resolution(target, "probe", [], probes)
        return Resolution(target, "probe", [(q, probe_fn(q)) for q in probes], probes)
