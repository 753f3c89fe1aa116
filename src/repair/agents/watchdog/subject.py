"""The shape of a named subject once the rules have found it (issue 21, dev7): a person's name without the
titles before it ("Herrn Dr. Konrad X" -> "Konrad X"), a work by its quoted title rather than its kind
("the novel "X"" -> "X"), and an event by its name with its head noun ("l'affaire X", "the X affair").
Shared by the English and the fr/de/es/it/pt/nl rules.
"""

from __future__ import annotations

import re

from .selfname import _NAME, TITLE_WORDS

# ---------------------------------------------------------------------------------------------------
# Titles. "dr. anselm pike" (typed in lower case) too: a sentence does not end after a title's dot.
# ---------------------------------------------------------------------------------------------------
_LEAD_TITLE = re.compile(rf"^(?:{TITLE_WORDS}|(?i:mrs|mr|ms|dr|prof|mme|herrn?|frau)\.?(?=\s))\s+")
TITLE_DOT = re.compile(r"(?i:\b(?:mrs|mr|ms|mx|dr|prof|mme|mlle|sr|sra|srta|dott|dra|st|sig|ing))$")


def strip_title(name: str) -> str:
    """The name without leading titles, when at least two words are left ("Dr. Seuss" keeps its title)."""
    while (m := _LEAD_TITLE.match(name)) and len(name[m.end() :].split()) >= 2:
        name = name[m.end() :]
    return name


# ---------------------------------------------------------------------------------------------------
# Works: a kind noun, then the title in quotes (straight, curly, guillemets, low-high, markdown stars).
# ---------------------------------------------------------------------------------------------------
_KIND = (
    r"film|movie|novel|book|song|album|single|play|poem|show|series|sitcom|painting|opera|musical|game|article"
    r"|podcast|documentary|story|essay|paper|report|roman|livre|chanson|pi[èe]ce|po[èe]me|s[ée]rie|tableau|op[ée]ra"
    r"|buch|lied|st[üu]ck|gedicht|serie|gem[äa]lde|oper|pel[íi]cula|novela|libro|canci[óo]n|[áa]lbum|obra|poema"
    r"|cuadro|romanzo|canzone|poesia|quadro|filme|romance|livro|can[çc][ãa]o|m[úu]sica|pe[çc]a|boek|nummer"
)
_QUOTED = (
    r"(?:\"(?P<a>[^\"\n]{2,80})\"|“(?P<b>[^”\n]{2,80})”|«\s*(?P<c>[^»\n]{2,80}?)\s*»|„(?P<d>[^“”\n]{2,80})[“”]"
    r"|\*(?P<e>[^*\n]{2,80})\*|(?<!\w)'(?P<f>[^'\n]{2,80})'(?!\w)|‘(?P<g>[^’\n]{2,80})’)"
)
_KIND_QUOTED = re.compile(
    rf"(?i:\b(?:{_KIND})s?)\s+(?:(?i:called|titled|entitled|named|intitul[ée]e?|titulad[ao]|intitolat[ao])\s+)?{_QUOTED}"
)


def quoted_title(text: str) -> str | None:
    """The quoted title after a kind noun ('the song "Paper Moons"' -> 'Paper Moons'), or None."""
    m = _KIND_QUOTED.search(text)
    if not m:
        return None
    title = next(g for g in m.groups() if g is not None).strip()
    return title if title[:1].isupper() or title[:1].isdigit() else None


# ---------------------------------------------------------------------------------------------------
# Events: the head noun is part of the name ("l'affaire Dreyfus", "the Watergate scandal").
# ---------------------------------------------------------------------------------------------------
# German heads are nouns, so capitalised: "Fall" is an event's head, "in the fall" is not
_HEAD_BEFORE = (
    r"(?i:affaire|scandale|proc[èe]s|massacre|catastrophe|caso|affare|scandalo|strage|processo|esc[áa]ndalo"
    r"|masacre|proceso|esc[âa]ndalo|chacina|zaak)|Aff[äa]re|Skandal|Fall|Prozess"
)
_HEAD_AFTER = (
    r"(?i:affair|scandal|case|trial|massacre|incident|disaster|riots?|murders?|kidnapping|bombing|crisis"
    r"|controversy|inquiry|hoax|heist)|Aff[äa]re|Skandal|Prozess"
)
# "l'affaire X", "el caso X", "la strage di X", "die Affäre X": the article is left out of the subject
EVENT_BEFORE = re.compile(
    rf"(?:\b(?i:l['’]|la\s+|le\s+|el\s+|il\s+|lo\s+|o\s+|a\s+|die\s+|der\s+|het\s+|de\s+|the\s+))?"
    rf"(?P<h>{_HEAD_BEFORE})\s+(?P<p>(?i:de|di|du|des|del|della|do|da|d['’]|von|van)\s*)?{_NAME}"
)
_EVENT_AFTER = re.compile(rf"{_NAME}\s+(?P<h>{_HEAD_AFTER})\b")


def event_in(text: str) -> str | None:
    """An event named with its head noun ("l'affaire Stavisky" -> "affaire Stavisky"), or None."""
    m = EVENT_BEFORE.search(text)
    if m:
        return f"{m.group('h')} {m.group('p') or ''}{m.group('n')}".replace("  ", " ")
    m = _EVENT_AFTER.search(text)
    if m and m.group("n").split()[0].lower() not in {"the", "i", "please", "forget"}:
        return f"{m.group('n')} {m.group('h')}"
    return None


def with_head(name: str, text: str) -> str:
    """`name`, with the event head noun the message puts before or after it ("Grégory" -> "affaire Grégory")."""
    event = event_in(text)
    if event and name != event and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", event):
        return event
    return name


def shape(target: str | None, text: str) -> str | None:
    """The subject as the rules should name it: the quoted title it holds, the event it names, no titles."""
    if not target:
        return target
    title = quoted_title(text)
    if title and title in target:
        return title
    return strip_title(with_head(target, text))


# ---------------------------------------------------------------------------------------------------
# Probes: the questions that make the patient say what it knows about a subject.
# ---------------------------------------------------------------------------------------------------
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
