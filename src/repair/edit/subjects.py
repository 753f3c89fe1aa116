"""Subject and mention heuristics: which entity a prompt is about, and whether a text names it."""

from __future__ import annotations

import re


def norm(text: str) -> str:
    """Lower-case, punctuation-free form used for de-duplication and matching."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


_STOP = {
    "what", "who", "whom", "whose", "which", "when", "where", "why", "how", "tell", "describe",
    "explain", "give", "name", "list", "please", "do", "does", "did", "is", "are", "was", "were",
    "can", "could", "would", "should", "will", "i", "i'm", "i'd", "the", "a", "an", "my", "me",
    "you", "your", "it", "this", "that", "these", "those", "in", "on", "of", "and", "or", "to",
    "yes", "no", "ok", "okay", "sure", "hi", "hello", "hey", "thanks", "forget", "also",
    "sorry", "as", "its", "he", "she", "they", "we", "there", "here", "if", "so", "but",
}  # fmt: skip
_CONNECTORS = {"of", "and", "the", "de", "del", "della", "da", "van", "von", "der", "la", "le", "du", "y", "&"}  # fmt: skip
_ABOUT_OF = re.compile(
    r"\b(?:about|of|on|regarding|concerning)\s+(?:the\s+)?([^?.!,;:]{1,80})", re.IGNORECASE
)
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)


def _strip_possessive(word: str) -> str:
    return re.sub(r"['’]s?$", "", word.rstrip(".-"))


_TOKEN = re.compile(r"[^\W_][\w'’.\-]*|[,;:()\[\]\"“”]", re.UNICODE)
_BREAK = set(',;:()[]"“”')


def _next_is_cap(words: list[str]) -> bool:
    rest = [w for w in words[1:4] if w not in _BREAK][:2]
    if rest and rest[0].lower() in _CONNECTORS:  # "Leonardo da Vinci"
        rest = rest[1:]
    return bool(rest) and _strip_possessive(rest[0])[:1].isupper()


def _capitalised_spans(text: str) -> list[str]:
    """Runs of capitalised words, allowing lower-case connectors inside ("Bank of America")."""
    spans: list[str] = []
    for sentence in re.split(r"(?<=[.?!])\s+|\n+", text):
        words = _TOKEN.findall(sentence)
        current: list[str] = []
        pending: list[str] = []  # connectors seen after the current run
        for i, word in enumerate(words):
            if word in _BREAK:  # punctuation ends a name but not the sentence
                if current:
                    spans.append(" ".join(current))
                current, pending = [], []
                continue
            bare = _strip_possessive(word)
            is_cap = bool(bare) and (bare[0].isupper() or bare[0].isdigit() and len(bare) > 1)
            # A question word or pronoun is capitalised only because it starts the sentence.
            if is_cap and bare.lower() in _STOP and (i == 0 or not current):
                is_cap = False
            # So is a sentence-initial verb ("Mix flour..."): one capitalised word there is no
            # evidence of a name unless the next word is capitalised too ("Marie Curie was...").
            if is_cap and i == 0 and not _next_is_cap(words):
                is_cap = False
            if is_cap:
                current += pending + [bare]
                pending = []
                if bare != word.rstrip(".-"):  # "Smith's": the possessive ends the name
                    spans.append(" ".join(current))
                    current = []
            elif current and word.lower() in _CONNECTORS:
                pending.append(word)
            else:
                if current:
                    spans.append(" ".join(current))
                current, pending = [], []
        if current:
            spans.append(" ".join(current))
    return [s for s in spans if s.lower() not in _STOP]


def extract_subject(text: str) -> str | None:
    """The entity a prompt is about, by a small heuristic: a capitalised span (the one after
    "about"/"of" if any, else the longest), else the phrase after "about"/"of"."""
    if not text or not text.strip():
        return None
    spans = _capitalised_spans(text)
    phrases = [_ARTICLE.sub("", m.group(1)).strip() for m in _ABOUT_OF.finditer(text)]
    for phrase in phrases:
        for span in sorted(spans, key=lambda s: -len(s.split())):
            if phrase.lower().startswith(span.lower()):
                return span
    if spans:
        # The longest name, then the first; a span such as "42 Elm Street" only if nothing else.
        return min(spans, key=lambda s: (s[:1].isdigit(), -len(s.split())))
    for phrase in phrases:
        words = [w for w in phrase.split() if w.lower() not in _STOP]
        if words and len(phrase.split()) <= 6:
            return " ".join(phrase.split())
    return None


def mentions(text: str, subject: str) -> bool:
    """Whether ``text`` names ``subject`` (all its content words, case-insensitive)."""
    words = [w for w in norm(subject).split() if w not in _STOP] or norm(subject).split()
    have = set(norm(text).split())
    # Accept "Curie's" for "Curie": norm turns it into "curie s".
    return bool(words) and all(w in have for w in words)


def overlap(text: str, reference: str) -> float:
    """Share of the reference's content words that ``text`` contains."""
    ref = {w for w in norm(reference).split() if w not in _STOP}
    return len(ref & set(norm(text).split())) / len(ref) if ref else 1.0
