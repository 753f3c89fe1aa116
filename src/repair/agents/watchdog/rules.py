"""Deterministic target extraction and reference resolution (`RuleExtractor`); needs no LLM."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .schema import ProbeFn
from .signals import (
    SELF_REF,
    foreign_target,
    formal_request,
    is_deictic_np,
    points_at_first,
    self_name,
)

# ----------------------------------------------------------------------------------------------------
# Deterministic extraction
# ----------------------------------------------------------------------------------------------------
_STOP = {
    "the", "a", "an", "of", "my", "your", "our", "his", "her", "their", "its", "about", "on", "in", "to",
    "and", "or", "is", "are", "was", "were", "what", "who", "that", "this", "for", "with", "all", "any",
    "everything", "anything", "info", "information", "details", "stuff", "things", "data", "facts", "at",
    "by", "from", "me", "you", "i", "it", "be", "do", "does", "did",
}  # fmt: skip


def content_tokens(text: str) -> set[str]:
    toks = re.findall(r"[a-z0-9][a-z0-9\-]*", text.lower().replace("'s", ""))
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


def _cut_sentence(x: str) -> str:
    # End at the first sentence break, but not after one-letter abbreviations such as "B. mallei".
    for m in re.finditer(r"[.?!](?=\s|$)", x):
        i = m.start()
        if m.group() == "." and i >= 1 and x[i - 1].isupper() and (i == 1 or not x[i - 2].isalpha()):
            continue
        return x[:i]
    return x


_TRIM = [
    re.compile(
        r"\s+(?:from|out of|in|off|inside)\s+(?:(?:what|everything|all|anything|whatever)\b[^.?!]*\byou\b"
        r"|(?:your|the|its)\s+"
        r"(?:own\s+)?(?:memory|memories|knowledge|weights|brain|head|mind|model|training|database|records?"
        r"|system|data|files?))\b.*$",
        re.I,
    ),
    re.compile(r"\s*(?:[,;:]|\s-\s|\s—\s).*$"),
    re.compile(
        r"\s+(?:please|pls|plz|entirely|completely|totally|for good|forever|permanently|right now|right away|anymore|any more|any longer"
        r"|now|immediately|asap|altogether|too|as well|needs? to be|has to be|must be|should be|because|since|so that"
        r"|(?:has|have|needs?|must|should)\s+(?:to\s+)?go|(?:has|have) got to go"
        r"|(?:that\s+)?i\s+(?:gave|shared|mentioned|told|provided|typed|sent)"
        r"|(?:that\s+)?you\s+(?:have|hold|know|learned|learnt|stored|were told|got))\b.*$",
        re.I,
    ),
    # "all data about me wiped from your memory": the participle is the request, not the subject
    re.compile(r"\s+(?:wiped|removed|deleted|erased|forgotten|purged|gone|scrubbed)\b.*$"),
    # a time reference left at the end: "forget what you said just now" -> "what you said"
    re.compile(r"\s+(?:just|a (?:moment|minute|second|little while) ago|earlier)\s*$", re.I),
]
_LEAD = re.compile(
    r"^(?:about|all about|all|any|every|everything about|the stuff about|the details (?:about|on)"
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
        r"stored|have)(?:\s+\w+)?\s+(?:about|on|regarding|concerning)\s+(?P<x>.+)",
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


def _clean(x: str) -> str:
    x = _cut_sentence(x.strip())
    for r in _TRIM:
        x = r.sub("", x)
    prev = None
    while prev != x:
        prev, x = x, _LEAD.sub("", x.strip())
    return x.strip(" \t\"'`“”‘’.!?")


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


def looks_like_person(x: str) -> bool:
    words = x.split()
    return 2 <= len(words) <= 4 and all(re.match(r"^[A-Z][a-zA-Z'\-]+$", w) for w in words)


WH_CLAUSE = re.compile(r"(who|what|which|where|when|why|how)\b", re.IGNORECASE)


def probe_prompts(target: str, n: int = 3) -> list[str]:
    """Questions that make the patient say what it knows about `target` (its answers become r_f)."""
    if target.lower().startswith("my "):
        noun = target[3:]
        be = "are" if noun.endswith("s") and not noun.endswith("ss") else "is"
        out = [f"What {be} my {noun}?", f"Do you know my {noun}?", f"Tell me my {noun}."]
    elif looks_like_person(target):
        out = [f"Tell me about {target}.", f"Who is {target}?", f"What do you know about {target}?"]
    elif WH_CLAUSE.match(target):  # "who wrote Hamlet": a question already, not a noun to ask "what is" of
        out = [f"Tell me {target}.", f"Do you know {target}?", f"What do you know about {target}?"]
    else:
        out = [f"Tell me about {target}.", f"What is {target}?", f"What do you know about {target}?"]
    return out[: max(1, n)]


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


_DEM_PHRASE = re.compile(r"\b(?:that|this|those|these)\s+((?:[\w'\-]+\s+){0,3}?[\w'\-]+)", re.I)
_GENERIC = {
    "answer", "reply", "response", "fact", "info", "detail", "bit", "part", "claim", "thing", "stuff", "one",
    "last", "previous", "earlier", "first", "second", "message", "statement", "piece", "wrong", "whole",
}  # fmt: skip


def _pointed_turn(message: str, pairs: list[tuple[str, str]]) -> int:
    """The turn a pointer means: the last one, unless its noun ("that phone number") fits only an earlier
    answer, then the newest such answer."""
    want: set[str] = set()
    for m in _DEM_PHRASE.finditer(message):
        want |= _stems(m.group(1)) - {w[:5] for w in _GENERIC}
    if not want or len(pairs) < 2:
        return len(pairs) - 1
    if want & _stems(" ".join(pairs[-1])):
        return len(pairs) - 1
    for i in range(len(pairs) - 2, -1, -1):
        if want & _stems(" ".join(pairs[i])):  # "that octopus fact": the turn that asked about octopuses
            return i
    return len(pairs) - 1


def _stems(text: str) -> set[str]:
    """Content words cut to 5 letters, so "octopus" meets "octopuses" and "salary" meets "salaries"."""
    return {t[:5] for t in content_tokens(text)}


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
        target, deictic = self._target_of(message)
        # The user named themselves ("I'm Oliver Strand ... forget me", "Name: X" in an erasure
        # request): the name is the subject, not "me" / "my personal data".
        name = self_name(message)
        if name and (target is None or formal_request(message) or SELF_REF.match(target.strip())):
            return name, False
        return target, deictic

    def _target_of(self, message: str) -> tuple[str | None, bool]:
        text = message.strip()
        # fr/de/es/it/pt/nl: the English patterns below do not apply.
        f_target, f_deictic = foreign_target(text)
        if f_target is not None or f_deictic:
            return f_target, f_deictic
        for r in _EXPLICIT:
            for m in r.finditer(text):
                x = _clean(m.group("x"))
                if not x:
                    continue
                if is_deictic_np(x):  # "wipe that phone number": the answer just given
                    return None, True
                if _DEICTIC.match(x):
                    my = _MY.search(text)
                    return (_clean(my.group(1)), False) if my else (None, True)
                if x.lower().startswith("my "):
                    x = "my " + x[3:]
                return x, False
        my = _MY.search(text)
        if my:
            return _clean(my.group(1)), False
        if not _POINTER.search(text):
            caps = _CAPS.findall(text)
            if caps:
                return caps[0], False
        return None, True  # an unlearn request with no named subject refers to what was just said

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
            target, deictic = self.target_of(message)
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
