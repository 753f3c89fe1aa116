"""Pointers at more than one earlier answer (issue 21, dev7): "both of those answers are wrong", "delete them
both", "the first two things you said", "ces deux réponses", "las dos respuestas", "le prime due risposte",
and "those answers about him" (the turns that asked about one person, by name and then by pronoun).
"""

from __future__ import annotations

import re

_TWO = r"(?:both|two|deux|dos|due|zwei|beiden?|beide|ambas|ambos|entramb[ei]|twee|duas|dois)"
_FIRST = r"(?:first|premi[eè]re?s?|primer[ao]s|prim[ei]|primeir[ao]s|erste[nr]?|eerste)"
_LAST = r"(?:last|derni[eè]re?s|[úu]ltim[ao]s|ultim[ei]|letzte[nr]?|laatste)"
_ANSWERS = (
    r"(?:answers|replies|responses|things|facts|claims|ones|r[ée]ponses|choses|infos|respuestas|cosas|datos"
    r"|risposte|cose|antworten|dinge|angaben|respostas|coisas|antwoorden|dingen)"
)
_DET = (
    r"(?:those|these|the|your|ces|les|vos|tes|las|los|esas|esos|estas|estos|tus|sus|le|queste|quelle|tue|die"
    r"|diese|deine|ihre|as|os|essas|esses|tuas|de|deze|je)"
)
_COUNTED = re.compile(
    # "both of those answers", "beide Antworten", "entrambe le risposte"
    rf"\b(?:both|beiden?|ambas|ambos|entramb[ei]|les deux|tutte e due|as duas|os dois)\s+(?:of\s+)?(?:{_DET}\s+)?"
    rf"{_ANSWERS}\b"
    # "delete them both", "remove both."
    r"|\b(?:them|those|these)\s+both\b|\b(?:delete|remove|erase|forget|scrub|unlearn|wipe)\s+both(?=\s*(?:[.!,;]|$))"
    # "the first two things", "ces deux réponses", "le prime due risposte", "die ersten beiden Antworten"
    rf"|\b{_DET}\s+(?:(?:{_FIRST}|{_LAST})\s+)?{_TWO}\s+(?:(?:{_FIRST}|{_LAST})\s+)?{_ANSWERS}\b"
    rf"|\b{_DET}\s+(?:{_FIRST}|{_LAST})\s+{_TWO}\b|\b{_DET}\s+{_TWO}\s+(?:{_FIRST}|{_LAST})\b",
    re.I,
)
_FIRST_RE = re.compile(rf"\b{_FIRST}\b", re.I)
# "those answers about him": answers, plural, about a person named in the history
_THOSE = re.compile(
    r"\b(?:those|these|all (?:those|these|the|your)|ces|toutes ces|diese|alle diese|esas|esos|estas|todas esas"
    rf"|quelle|queste|tutte quelle|essas|esses|todas essas|deze)\s+(?:\w+\s+)?{_ANSWERS}\b",
    re.I,
)
_PRONOUN = re.compile(
    r"\b(?:he|she|him|her|his|il|elle|lui|er|sie|ihn|ihm|él|ella|lei|ele|ela|hij|zij|hem|haar)\b", re.I
)
# a capitalised word that does not start a sentence: a name
_CAPITAL = re.compile(r"(?<!^)(?<![.?!]\s)(?<![¿¡])\b[A-ZÀ-ÝĀ-Ž][\w'’\-]+")


def _thread(pairs: list[tuple[str, str]]) -> list[int] | None:
    """The newest run of turns about one person: a question that names them, then questions by pronoun."""
    for i in range(len(pairs) - 2, -1, -1):
        if _CAPITAL.search(pairs[i][0]) and _PRONOUN.search(pairs[i + 1][0]):
            j = i + 1
            while (
                j + 1 < len(pairs)
                and _PRONOUN.search(pairs[j + 1][0])
                and not _CAPITAL.search(pairs[j + 1][0])
            ):
                j += 1
            return list(range(i, j + 1))
    return None


def plural_turns(message: str, pairs: list[tuple[str, str]]) -> list[int] | None:
    """The turns a pointer at several answers means (oldest first), or None when it points at one."""
    if len(pairs) < 2:
        return None
    m = _COUNTED.search(message)
    if m:
        return [0, 1] if _FIRST_RE.search(m.group()) else [len(pairs) - 2, len(pairs) - 1]
    if _THOSE.search(message) and _PRONOUN.search(message):
        return _thread(pairs)
    return None
