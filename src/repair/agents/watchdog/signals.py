"""Rule signals beside the watchdog's classifier (issue 21), tuned on ``watchdog_v2/dev`` only.

Each rule is a small regex with a comment on why it exists. All of them together cost well under a
millisecond per message, so the fast path stays ~10 ms.

- `rule_request(message, n_turns)`: a high-precision request detector that runs beside the MiniLM
  classifier (which is English-only and misses formal erasure wording, corrections and "unlearn
  that <noun>"). It fires only on first-person / imperative request forms, never on questions about
  erasure, habitual "I always forget", or "forget it / never mind".
- `self_name(message)`: the name a user gives for themselves or their business ("my name is X",
  "I'm X", "Name: X", "my shop, X,"), used as the target when the extracted one is "me"/"my data".
- `is_deictic_np(x)`: "that phone number", "this claim", "those details": a pointer at an answer.
- `foreign_target(message)`: target / pointer extraction for fr/de/es/it/pt/nl requests.
"""

from __future__ import annotations

import re

# A name: 1-4 capitalised words (unicode letters, hyphens, apostrophes), after an optional title.
_TITLE = r"(?:(?:Mrs|Mr|Ms|Mx|Dr|Prof|M|Mme|Sr|Sra|Sig|Sig\.ra)\.?\s+|(?:Professor|Doctor|Herr|Frau|Madame|Monsieur|Señora?|Signora?)\s+)?"
_NAME = r"(?P<n>[A-ZÀ-ÝĀ-Ž][\w'’\-]+(?:\s+(?:[A-ZÀ-ÝĀ-Ž][\w'’\-]+|&\s+[A-ZÀ-ÝĀ-Ž][\w'’\-]+|de|da|van|von|der|del|di))*)"
# Words a capitalised run may start with that are not names (sentence-initial function words).
_NOT_NAME = {
    "i", "please", "thanks", "the", "my", "and", "but", "so", "it", "this", "that", "hi", "hey",
    "delete", "remove", "forget", "erase", "unlearn", "wipe", "bitte", "merci", "gracias", "grazie",
}  # fmt: skip

# ---------------------------------------------------------------------------------------------------
# Self-identification. Order matters: explicit labels ("Name: X") before looser forms ("I'm X").
# ---------------------------------------------------------------------------------------------------
_SELF_NAME = [
    # form labels in erasure requests: "Name: X", "Data subject: X", "Consumer: X", "Nombre: X"
    re.compile(
        rf"(?i:\b(?:name|full name|data subject|consumer|requester|nom|nombre|nome|naam))\s*:\s*{_TITLE}{_NAME}"
    ),
    # "my name is X", "je m'appelle X", "ich heiße X", "me llamo X", "mi chiamo X", "chamo-me X"
    re.compile(
        rf"(?i:\b(?:my (?:full )?name is|my name's|je m'appelle|je m’appelle|ich hei(?:ß|ss)e|me llamo|mi chiamo|"
        rf"chamo-me|mijn naam is|ik heet))\s+{_TITLE}{_NAME}"
    ),
    # "That's me, Hugo Penhaligon", "I, Conrad Ellery, hereby request", "Ich, Matthias Kern, beantrage"
    re.compile(rf"(?i:\b(?:that's|that is|that’s|it's|it is) me),?\s+{_TITLE}{_NAME}"),
    re.compile(rf"(?:^|[.:;!?]\s+)(?:I|Ich|Yo|Je|Io|Eu|Ik),\s+{_TITLE}{_NAME},"),
    # "I own a small florist called Petal & Thorn", "we run a café named X"
    re.compile(rf"(?i:\b(?:i|we) (?:own|run|manage|have)\b[^.;!?]*?\b(?:called|named))\s+{_TITLE}{_NAME}"),
    # "know me as (Professor) X"
    re.compile(rf"(?i:\bknow me as)\s+{_TITLE}{_NAME}"),
    # "relating to me, X" / "about me, X" (the requester names themselves in apposition)
    re.compile(rf"(?i:\b(?:to|about|on) me),\s+{_TITLE}{_NAME}"),
    # "request from X", "solicitor for Mrs. X" (acting for a data subject)
    re.compile(
        rf"(?i:\brequest from|\bmy client,?|\b(?:solicitor|lawyer|attorney|acting) (?:for|on behalf of))\s+{_TITLE}{_NAME}"
    ),
    # "je soussigné(e) X"
    re.compile(rf"(?i:\bje soussign[ée]e?)\s+{_TITLE}{_NAME}"),
    # "my company / shop / business is X", "my shop, X," (appositive)
    re.compile(
        rf"(?i:\bmy (?:company|shop|business|firm|store|restaurant|bakery|caf[eé]|brand|band|startup|"
        rf"nursery|practice|salon|studio|charity|agency)(?: is|,|'s name is| is called))\s+{_TITLE}{_NAME}"
    ),
    # "I'm X", "I am X", "this is X", "it's X", "je suis X", "ich bin X", "soy X", "sono X", "sou (a|o) X"
    re.compile(
        rf"(?i:(?:^|[.;:,!?]\s*|\b(?:hey|hi|hello|by the way|btw),?\s+)(?:i'm|i’m|i am|"
        rf"je suis|ich bin|soy|sono|sou(?: [ao])?|ik ben))\s+{_TITLE}{_NAME}"
    ),
    # "this is X", "hey it's X": only a full name (two capitalised words), since "it's Monday" is not one
    re.compile(
        r"(?i:(?:^|[.;:,!?]\s*|\b(?:hey|hi|hello|by the way|btw),?\s+)(?:this is|it's|it’s))\s+"
        r"(?P<n>[A-ZÀ-ÝĀ-Ž][\w'’\-]+(?:\s+[A-ZÀ-ÝĀ-Ž][\w'’\-]+)+)"
    ),
]


def self_name(message: str) -> str | None:
    """The name the user gives for themselves or their business, or None."""
    for r in _SELF_NAME:
        for m in r.finditer(message):
            words = m.group("n").split()
            while words and words[-1].lower() in {"de", "da", "van", "von", "der", "del", "di"}:
                words.pop()
            if words and words[0].lower() not in _NOT_NAME:
                return " ".join(words)
    return None


# The extracted target is the user themselves: replace it with their name when they give one.
SELF_REF = re.compile(
    r"^(?:me|myself|us|it|moi|mich|mim|m[ií]|me removed|(?:anything|everything|all|whatever)(?: and everything)?"
    r"(?: about| on| relating to)? me|(?:all |any )?(?:my|our|her|his)\s+(?:personal\s+)?"
    r"(?:data|information|info|details|records?)\b.*|(?:all |any )?personal (?:data|information)\b.*"
    # "anything you know about my shop, Blue Heron Books": the business the user then names
    r"|(?:my|our)\s+(?:company|shop|business|firm|store|restaurant|bakery|caf[eé]|brand|band|startup|nursery"
    r"|practice|salon|studio|charity|agency))$",
    re.I,
)

# ---------------------------------------------------------------------------------------------------
# Formal erasure requests (GDPR Art. 17, UK GDPR, CCPA), in request form only. Questions about the
# right ("what does the right to be forgotten mean?", "explain the right to erasure") have no
# first-person request verb and stay chat.
# ---------------------------------------------------------------------------------------------------
_FORMAL_ASK = re.compile(
    r"\b(?:i (?:hereby )?(?:request|demand|ask|exercise|am writing to request|want to exercise|invoke)"
    r"|(?:i'd|i would|i wish|i want) to (?:exercise|invoke|request)"
    r"|(?:^|[.;:!]\s*)(?:delete|erase|remove)\s+(?:all\s+(?:of\s+)?)?my\b"
    r"|request (?:to delete|for (?:erasure|deletion)|(?:the )?(?:erasure|deletion|removal))|(?:right[- ]to[- ](?:erasure|be[- ]forgotten|delete)|"
    r"erasure|deletion) request|notice of request|please (?:delete|erase|remove)"
    r"|(?:my client|on behalf of)\b[^.]*?\brequests?|requests (?:the )?(?:erasure|deletion)"
    r"|je (?:vous )?demande|vous demande|hiermit verlange ich|ich verlange|ich beantrage|beantrage|verlange|solicito|ejerzo|"
    r"chiedo|esercito|exer[çc]o|solicito|verzoek|ik verzoek)\b",
    re.I,
)
_FORMAL_ERASE = re.compile(
    r"\b(?:erasure|erase|deletion|delete|remove|removal|effacer|effacement|suppression|l[öo]schung|"
    r"supresi[óo]n|cancellazione|oblio|elimina[çc][ãa]o|apagamento|verwijdering|wissen)\b",
    re.I,
)
_FORMAL_DATA = re.compile(
    r"\b(?:article|artikel|art\.|art[íi]culo|articolo|artigo)\s*17\b|\b(?:u\.?k\.? )?gdpr\b|\bccpa\b|\brgpd\b|"
    r"\bdsgvo\b|\bavg\b|\bpersonal (?:data|information)\b|\bdonn[ée]es personnelles\b|"
    r"\bpersonenbezogenen daten\b|\bdatos personales\b|\bdati personali\b|\bdados pessoais\b|"
    r"\bpersoonsgegevens\b|\bdiritto all'oblio\b",
    re.I,
)


# "How do I request deletion of my data under CCPA?", "Can I ask ...": asking about the procedure.
_HOWTO_ASK = re.compile(
    r"\b(?:how|what|when|where|why|which|whether|can|could|should|may|do|does)\s+(?:do\s+|can\s+|should\s+|would\s+"
    r"|could\s+|to\s+)?(?:i|we|one|you|companies|someone|people|a person)\b(?!\s+(?:please\s+)?(?:delete|erase|remove))"
    r"|\b(?:comment|wie|c[óo]mo|come|como|hoe)\b",
    re.I,
)


def formal_request(message: str) -> bool:
    """A formal erasure request: a first-person request verb + an erasure word + legal/personal-data wording."""
    if _HOWTO_ASK.search(message) and message.rstrip().endswith("?"):
        return False
    return bool(
        _FORMAL_ASK.search(message) and _FORMAL_ERASE.search(message) and _FORMAL_DATA.search(message)
    )


# ---------------------------------------------------------------------------------------------------
# Corrections asking for removal: "that's wrong ... remove it". Needs an earlier answer to point at.
# ---------------------------------------------------------------------------------------------------
_WRONG = re.compile(
    r"\b(?:that's|that is|that was|this is|it's|it is|you're|you are|your answer is)\s+(?:\w+\s+)?"
    r"(?:wrong|incorrect|false|untrue|a lie|not true|inaccurate|made up|mistaken)\b|\bwrong (?:figure|answer|fact)\b",
    re.I,
)
_REMOVE = re.compile(
    r"\b(?:remove|delete|erase|unlearn|forget|forgotten|scrub|purge|wipe|expunge|get rid of|"
    r"take (?:it|that|this) out)\b",
    re.I,
)

# "unlearn that dance fact", "get rid of that first answer": a strong forget verb or an answer noun
# pointing back at the history ("forget that idea, let's ..." is chat, so plain "forget" needs the noun). "delete that last line" (editing a draft) has neither.
_POINT_BACK = re.compile(
    r"\b(?:unlearn|purge|expunge|scrub)\s+(?:that|this|those|these)\s+(?:[\w'\-]+\s+){0,3}?[\w'\-]+\b"
    r"|\b(?:forget|unlearn|erase|delete|remove|wipe|purge|scrub|get rid of|drop)\s+(?:that|this|your)\s+"
    r"(?:first |last |previous |earlier |second )?(?:answer|reply|response|fact|claim)\b",
    re.I,
)

# ---------------------------------------------------------------------------------------------------
# Other languages (fr, de, es, it, pt, nl). An imperative / polite forget-delete verb, not after a
# first-person subject ("j'oublie toujours", "ich vergesse", "siempre olvido" are other verb forms
# anyway), plus a target signal: a reference to the model's memory, an "everything about X"
# phrasing, a name, or a demonstrative + noun. "oublie ça", "vergiss es", "olvídalo" (never mind)
# have no such signal and stay chat.
# ---------------------------------------------------------------------------------------------------
_F_VERB = (
    r"oublie|oublies|oubliez|efface|effaces|effacez|supprime|supprimes|supprimez|retirez|enl[èe]ve|enlevez"  # fr
    r"|vergiss|vergessen sie|l[öo]sch|l[öo]sche|l[öo]schen sie|entferne|entfernen sie"  # de
    r"|olvida|olvide|olvides|olvidad|b[oó]rra\w*|b[oó]rre\w*|elimina|elimine|suprime|suprima|quita"  # es
    r"|dimentica|dimentichi|cancella|cancelli|elimini|rimuovi|rimuova"  # it
    r"|esquece|esque[çc]a|esque[çc]as|apaga|apague|apagues|remova|exclua"  # pt
    r"|vergeet|vergeten|verwijder|wis"  # nl
)
_F_VERB_RE = re.compile(rf"(?<![’'])\b(?:{_F_VERB})\b", re.I)
_F_MEMORY = re.compile(
    r"\b(?:de (?:ta|votre) m[ée]moire|(?:aus|in) (?:deinem|ihrem|deinen|ihren) (?:wissen|ged[äa]chtnis|speicher)"
    r"|de (?:tu|su) memoria|dalla (?:tua|sua) memoria|d[ao] (?:tua|sua) mem[óo]ria|uit (?:je|jouw|uw) geheugen)\b",
    re.I,
)
_F_ALL_ABOUT = re.compile(
    r"\b(?:tout ce (?:que (?:tu sais|vous savez)|qui concerne)|ce que (?:tu sais|vous savez)"
    r"|alles,? (?:was (?:du|sie)|über)|(?:todo )?lo que sab(?:es|e)|todo sobre"
    r"|tutto (?:su|quello che sai|ci[òo] che sai)|quello che sai|tudo (?:sobre|o que)|o que (?:voc[êe] sabe|sabes)"
    r"|alles (?:over|wat)|wat je weet)\b",
    re.I,
)
_F_ABOUT = r"(?:sur|concerne|über|sobre|su|over|a|à)"
_F_SELF = re.compile(
    r"\b(?:sur moi|qui me concerne|über mich|sobre m[íi]m?|de m[íi]|su di me|over mij)\b", re.I
)
_F_DEM_NOUN = re.compile(
    r"\b(?:ce(?!\s+qu)|cet|cette|ces|diese[rsnm]?|ese|esa|esos|esas|este|esta|questo|questa|quel(?!\s+che)|quella|quello(?!\s+che)|esse|essa"
    r"|deze|dit|dat)\s+(?:\w+\s+){0,2}?\w{3,}",
    re.I,
)
_F_NAME_AFTER = re.compile(rf"(?i:\b(?:{_F_VERB})\s+(?:{_F_ABOUT}\s+)?|\b{_F_ABOUT}\s+){_NAME}")
_F_MULTI_NAME = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-ZÀ-ÝĀ-Ž][\w'’\-]+(?:\s+[A-ZÀ-ÝĀ-Ž][\w'’\-]+)+)")


def _f_name(message: str) -> str | None:
    for m in _F_NAME_AFTER.finditer(message):
        n = m.group("n")
        if n.split()[0].lower() not in _NOT_NAME and not _F_VERB_RE.fullmatch(n.split()[0]):
            return n
    for n in _F_MULTI_NAME.findall(message):
        if n.split()[0].lower() not in _NOT_NAME:
            return n
    return None


# Forget verbs proper (not delete verbs): "olvida a Pablo Neruda" is a request, "borra a Juan de la
# lista" edits a list; "oublie ce mot de passe" points at an answer, "lösche diese Datei" at a file.
_F_FORGET_NAME = re.compile(
    rf"(?i:(?<![’'])\b(?:oublie|oubliez|vergiss|vergessen sie|olvida|olvide|olvides|olvidad|dimentica|dimentichi"
    rf"|esquece|esque[çc]a|vergeet)\s+(?:{_F_ABOUT}\s+)?){_NAME}"
)
_F_FORGET_DEM = re.compile(
    r"(?<![’'])\b(?:oublie|oubliez|vergiss|vergessen sie|olvida|olvide|olvides|dimentica|dimentichi|esquece"
    r"|esque[çc]a|vergeet)\b",
    re.I,
)
# Demonstrative + a word for an answer or a piece of information: "lösch diese falsche Antwort".
_F_ANSWER_NOUN = re.compile(
    r"\b(?:r[ée]ponse|antwort|respuesta|risposta|resposta|antwoord|info\w*|donn[ée]e|angabe|dato|dati|dado|dados"
    r"|detalle|dettaglio|detalhe|gegeven|fait|fakt|hecho|fatto|facto|feit)\w*\b",
    re.I,
)


def foreign_verb(message: str) -> bool:
    """A fr/de/es/it/pt/nl forget or delete verb anywhere in the message (routes the turn to the LLM)."""
    return bool(_F_VERB_RE.search(message))


def foreign_request(message: str, n_turns: int = 1) -> bool:
    """An fr/de/es/it/pt/nl forget-delete request in imperative form with a target signal."""
    if not _F_VERB_RE.search(message):
        return False
    dem = bool(n_turns and _F_DEM_NOUN.search(message))
    return bool(
        _F_MEMORY.search(message)
        or _F_ALL_ABOUT.search(message)
        or _F_SELF.search(message)
        or (dem and (_F_FORGET_DEM.search(message) or _F_ANSWER_NOUN.search(message)))
        or _F_FORGET_NAME.search(message)
    )


def foreign_target(message: str) -> tuple[str | None, bool]:
    """(target, points back at an answer) for a non-English request; (None, False) if no verb."""
    if not _F_VERB_RE.search(message):
        return None, False
    if _F_SELF.search(message):
        return self_name(message), self_name(message) is None
    if _F_DEM_NOUN.search(message) or (
        _F_MEMORY.search(message) and not _F_ALL_ABOUT.search(message) and not _F_NAME_AFTER.search(message)
    ):
        return None, True  # "supprime cette réponse", "bórralo de tu memoria": the answer just given
    name = _f_name(message)
    if name:
        return name, False
    return None, True


# "anything you know about my shop ... should go": what the model knows, said to be going away.
_SHOULD_GO = re.compile(
    r"\b(?:anything|everything|whatever|all)\s+(?:that\s+)?you\s+(?:know|have|hold|remember|learned|learnt|store)\b"
    r"[^.?!]*?\b(?:should|must|has to|needs? to|can|to)\s+(?:go|be (?:deleted|erased|removed|forgotten|wiped))\b",
    re.I,
)


def rule_request(message: str, n_turns: int) -> bool:
    """Whether the rules alone recognise a request (high precision; the classifier covers the rest)."""
    if formal_request(message) or foreign_request(message, n_turns):
        return True
    if _SHOULD_GO.search(message):
        return True
    if n_turns and _WRONG.search(message) and _REMOVE.search(message):
        return True
    return bool(n_turns and _POINT_BACK.search(message))


# ---------------------------------------------------------------------------------------------------
# "that phone number", "this claim", "those details", "it out": a demonstrative + short noun phrase
# without a verb (a "that" clause with a verb, "that Maya lives in Oslo", is a stated fact instead).
# ---------------------------------------------------------------------------------------------------
_DEICTIC_NP = re.compile(
    r"^(?:(?:that|this|those|these)\s+(?:[\w'\-]+\s+){0,5}?[\w'\-]+|(?:it|that|this|them) out)$", re.I
)
_VERBISH = re.compile(
    r"\b(?:is|are|was|were|has|have|had|lives|works|said|says|does|did|will|can|would|should|[a-z]+ed)\b",
    re.I,
)


def is_deictic_np(x: str) -> bool:
    words = x.split()
    if not _DEICTIC_NP.match(x) or len(words) < 2:
        return False
    if any(w[:1].isupper() for w in words[1:]):  # "that Maya": a name, not an answer
        return False
    rest = " ".join(words[1:])
    return not _VERBISH.search(rest) or bool(re.search(r"\b(?:first|last|previous|earlier)\b", rest, re.I))


_FIRST = re.compile(r"\bfirst (?:answer|reply|response|one|thing|fact)\b", re.I)


def points_at_first(message: str) -> bool:
    """A pointer at the oldest turn ("delete that first answer"), not the last."""
    return bool(_FIRST.search(message))


# ---------------------------------------------------------------------------------------------------
# "Who was Marie Curie?": a plain question about someone, with no forget/delete word, is chat even
# when the classifier's embedding leans to "unlearn" (issue 21, class g).
# ---------------------------------------------------------------------------------------------------
_PLAIN_Q = re.compile(r"^\s*(?:who|what|where|when)(?:'s|’s|\s+(?:is|was|are|were))\s+[^?.!]+\?\s*$", re.I)
_ANY_FORGET = re.compile(
    r"\b(?:forget\w*|forgot\w*|unlearn\w*|eras\w*|delet\w*|remov\w*|wipe\w*|purg\w*|scrub\w*|expung\w*"
    r"|memor\w*|knowledge|weights)\b",
    re.I,
)


def plain_question(message: str) -> bool:
    """A one-sentence who/what/where/when question with no forget word: never a request."""
    return bool(_PLAIN_Q.match(message) and not _ANY_FORGET.search(message))
