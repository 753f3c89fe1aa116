"""Template paraphrases: deterministic rephrasings of a forget prompt that keep its subject."""

from __future__ import annotations

import re

from repair.edit.subjects import extract_subject, mentions, norm

MAX_PARAPHRASE_CHARS = 300  # one paraphrase, template or the surgeon's

# Relation -> question word that asks for it ("Which city is the capital of France?").
_REL_WH = {
    "capital": "which city", "capital city": "which city", "largest city": "which city",
    "official language": "which language", "author": "who", "founder": "who", "ceo": "who",
    "president": "who", "leader": "who", "birthplace": "which place", "place of birth": "which place",
    "hometown": "which town", "home town": "which town",
}  # fmt: skip
# "Who wrote X?" -> agent noun and past participle.
_AGENT_NOUN = {
    "wrote": ("author", "written"), "painted": ("painter", "painted"),
    "invented": ("inventor", "invented"), "discovered": ("discoverer", "discovered"),
    "founded": ("founder", "founded"), "composed": ("composer", "composed"),
    "directed": ("director", "directed"), "created": ("creator", "created"),
    "designed": ("designer", "designed"), "built": ("builder", "built"),
    "developed": ("developer", "developed"), "sang": ("singer", "sung"),
}  # fmt: skip
_REL_OF = re.compile(
    r"^(what|which)\s+(is|was|are|were)\s+(?:the\s+)?(?P<rel>.+?)\s+of\s+(?P<x>.+?)\s*[?.!]*$", re.I
)
_REL_POSS = re.compile(
    r"^(what|which)\s+(is|was|are|were)\s+(?P<x>.+?)['’]s?\s+(?P<rel>[^']+?)\s*[?.!]*$", re.I
)
_ABOUT = re.compile(
    r"^(?:please\s+)?(?:tell\s+me\s+(?:\w+\s+)?about|what\s+do\s+you\s+know\s+about|"
    r"what\s+can\s+you\s+tell\s+me\s+about|describe|who\s+is|who\s+was)\s+(?P<x>.+?)\s*[?.!]*$",
    re.I,
)
_WHO_VERB = re.compile(r"^who\s+(?P<verb>" + "|".join(_AGENT_NOUN) + r")\s+(?P<x>.+?)\s*[?.!]*$", re.I)


def _possessive(x: str) -> str:
    return x + ("'" if x.endswith("s") else "'s")


def _cap_first(s: str) -> str:
    return s[:1].upper() + s[1:]


def _looks_like_person(x: str) -> bool:
    words = x.split()
    return 2 <= len(words) <= 4 and all(w[:1].isupper() and w.isalpha() for w in words)


def _entity_templates(x: str, be: str = "is", person: bool | None = None) -> list[str]:
    person = _looks_like_person(x) if person is None else person
    out = [f"Tell me about {x}.", f"What do you know about {x}?"]
    if person:
        out += [f"Who {be} {x}?", f"Give me a short biography of {x}."]
    out += [f"What can you tell me about {x}?", f"Describe {x}.", f"Give me some information about {x}."]
    return out


def template_paraphrases(prompt: str, subject: str | None = None, n: int = 4) -> list[str]:
    """Deterministic paraphrases of ``prompt`` that keep ``subject`` (extracted if not given)."""
    prompt = " ".join(prompt.split())
    subject = subject or extract_subject(prompt)
    if subject and not mentions(prompt, subject):
        subject = None  # a subject taken from the response cannot key paraphrases of the prompt
    cands: list[str] = []
    body = prompt.rstrip("?.! ")
    if m := _REL_OF.match(prompt) or _REL_POSS.match(prompt):
        rel, x, be = m.group("rel").strip(), m.group("x").strip(), m.group(2).lower()
        wh = _REL_WH.get(rel.lower())
        if wh:
            cands.append(f"{_cap_first(wh)} {be} the {rel} of {x}?")
        cands.append(f"{_cap_first(_possessive(x))} {rel} {be} {wh or 'what'}?")
        cands += [
            f"Name the {rel} of {x}.",
            f"What's the {rel} of {x}?" if be == "is" else f"What {be} the {rel} of {x}?",
            f"Tell me the {rel} of {x}.",
            f"Do you know the {rel} of {x}?",
        ]
    elif m := _WHO_VERB.match(prompt):
        verb, x = m.group("verb").lower(), m.group("x").strip()
        noun, participle = _AGENT_NOUN[verb]
        cands += [
            f"Who is the {noun} of {x}?",
            f"{_cap_first(x)} was {participle} by whom?",
            f"Name the person who {verb} {x}.",
            f"Tell me who {verb} {x}.",
        ]
    elif m := _ABOUT.match(prompt):
        x = m.group("x").strip()
        be = "was" if re.match(r"^who\s+was\b", prompt, re.I) else "is"
        person = True if re.match(r"^who\s", prompt, re.I) else None
        cands += _entity_templates(x, be, person)
    else:
        # Unknown shape: rephrase around the question first; questions about the whole subject
        # come last because they widen what is forgotten.
        cands += [
            f"Quick question: {prompt}",
            f"Please answer this: {prompt}",
            f"I was wondering: {body}?",
            f"Answer briefly: {prompt}",
        ]
        if subject:
            cands += _entity_templates(subject)

    out: list[str] = []
    seen = {norm(prompt)}
    for c in cands:
        key = norm(c)
        if key in seen or len(c) > MAX_PARAPHRASE_CHARS:
            continue
        if subject and not mentions(c, subject):
            continue
        seen.add(key)
        out.append(c)
    return out[:n]
