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
- `foreign_target(message)`: target / pointer extraction for fr/de/es/it/pt/nl/pl/sv/tr requests (in `foreign`).

`self_name` lives in `selfname`, the fr/de/es/it/pt/nl/pl/sv/tr rules in `foreign`; both are re-exported here.
"""

from __future__ import annotations

import re

from .foreign import _F_NEGATED, foreign_request, foreign_target, foreign_verb
from .selfname import SELF_REF, self_name

__all__ = ["SELF_REF", "foreign_request", "foreign_target", "foreign_verb", "self_name"]


# ---------------------------------------------------------------------------------------------------
# Formal erasure requests (GDPR Art. 17, UK GDPR, CCPA), in request form only. Questions about the
# right ("what does the right to be forgotten mean?", "explain the right to erasure") have no
# first-person request verb and stay chat.
# ---------------------------------------------------------------------------------------------------
_FORMAL_ASK = re.compile(
    r"\b(?:i(?:, [^,]{2,60},)? (?:hereby )?(?:request|demand|ask|exercise|am writing to request|want to exercise|invoke)"
    r"|(?:i'd|i would|i wish|i want) to (?:exercise|invoke|request)"
    r"|(?:^|[.;:!]\s*)(?:delete|erase|remove)\s+(?:all\s+(?:of\s+)?)?my\b"
    r"|request (?:to delete|(?:the )?(?:erasure|deletion|removal))|please (?:delete|erase|remove)"
    r"|(?:and|to)\s+ask for (?:the )?(?:erasure|deletion|removal)"
    r"|(?:my client|on behalf of)\b[^.]*?\brequests?|requests (?:the )?(?:erasure|deletion)"
    r"|je (?:vous )?demande|vous demande|nous demandons|(?:je |nous )?sollicit(?:e|ons)|(?:je )?vous prie|(?:j'|j’)?exerce|demande (?:la|l'|l’)|hiermit verlange ich|ich verlange"
    r"|ich beantrage|beantrage|verlange|fordere|ersuche|solicito|ejerzo|pido|exijo|chiedo|richiedo|esercito"
    r"|exer[çc]o|requeiro|pe[çc]o|verzoek|ik verzoek|venho (?:exercer|solicitar|requerer|pedir)|vengo a (?:ejercer|solicitar)"
    r"|[żz][ąa]dam|wnosz[ęe]|begär|beg[äa]r jag|talep ediyorum|rica ediyorum)\b",
    re.I,
)
# The request named as a document ("Subject: Right to erasure request", "CCPA deletion request -
# consumer: X"): counts only outside a question ("what should a GDPR erasure request include?").
_FORMAL_NOUN = re.compile(
    r"\b(?:(?:right[- ]to[- ](?:erasure|be[- ]forgotten|delete)|erasure|deletion) request|notice of request"
    r"|request for (?:erasure|deletion)|(?:this is a|a) formal request|^\W*formal request"
    # "Objet : demande de suppression", "Antrag auf Löschung", "solicitud de supresión", "pedido de apagamento"
    r"|demande d['’]effacement|demande de suppression|solicitud de (?:supresi[óo]n|borrado|eliminaci[óo]n)"
    r"|antrag auf l[öo]schung|l[öo]sch(?:ungs)?antrag|richiesta di cancellazione|pedido de (?:apagamento|elimina[çc][ãa]o))\b",
    re.I,
)
_FORMAL_ERASE = re.compile(
    r"\b(?:erasure|erase|deletion|delete|remove|removal|effacer|effacement|suppression|l[öo]schung|"
    r"supresi[óo]n|cancellazione|oblio|elimina[çc][ãa]o|apagamento|verwijdering|wissen|l[öo]schen|supprimer"
    r"|suprimir|borrar|cancellare|apagar|verwijderen|usuni[ęe]\w*|radering|radera|silinme\w*"
    # other verb forms ("que se supriman mis datos", "dass meine Daten gelöscht werden") and the right's
    # own name ("ejerzo mi derecho al olvido", "droit à l'oubli", "diritto all'oblio")
    r"|supr[ií]m(?:a|an|e|en|ido|idos|ida|idas)|borr(?:e|en|ado|ados|ada|adas)|gel[öo]scht|effac[ée]e?s?"
    r"|cancellat[aoie]|apagad[oa]s?|olvido|oubli|esquecimento|vergessenwerden)\b",
    re.I,
)
_FORMAL_DATA = re.compile(
    r"\b(?:article|artikel|art\.|art[íi]culo|articolo|artigo)\s*17\b|\b(?:u\.?k\.? )?gdpr\b|\bccpa\b|\brgpd\b|"
    r"\bdsgvo\b|\bavg\b|\bpersonal (?:data|information)\b|\bdonn[ée]es personnelles\b|"
    r"\bpersonenbezogenen daten\b|\bdatos personales\b|\bdati personali\b|\bdados pessoais\b|"
    r"\bpersoonsgegevens\b|\bdiritto all'oblio\b|\bdata subject\b|\bright to (?:erasure|be forgotten|delete)\b|\brodo\b|\bdataskyddsf[öo]rordningen\b|\bkvkk\b|\bmadde 17\b"
    r"|\bdanych osobowych\b|\bpersonuppgifter\b|\bki[şs]isel veri\w*"
    # each country's law and its name for the right: LOPDGDD, LGPD, "droit à l'oubli", "Recht auf Löschung"
    r"|\blopd(?:gdd)?\b|\blgpd\b|\bderecho (?:de supresi[óo]n|al olvido)\b|\bdroit (?:[àa] l['’](?:effacement|oubli))"
    r"|\brecht auf (?:l[öo]schung|vergessenwerden)\b|\bdireito (?:ao apagamento|ao esquecimento)\b"
    r"|\bdiritto alla cancellazione\b|\bdonn[ée]es [àa] caract[èe]re personnel\b|\bdatos de car[áa]cter personal\b",
    re.I,
)


# ... and in the other languages, as an imperative or an infinitive ("rédige-moi", "Redáctame", "schreib mir")
_WRITE_ONE = re.compile(
    r"\b(?:draft|write|compose|prepare|template|sample|word|phrase|r[ée]dige\w*|[ée]cri(?:s|vez)-moi|[ée]crire"
    r"|red[áa]cta\w*|redactar|escr[íi]be\w*|escribir|schreib(?:e|en)?|verfass\w*|scrivi\w*|scrivere|redigi\w*"
    r"|escreve\w*|escrever|plantilla|vorlage)\b",
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
    question = message.rstrip().endswith("?")
    howto = _HOWTO_ASK.search(message)
    if howto and (question or re.match(r"^\W*(?:\w+,\s*)?(?:how|what|where)\b", message, re.I)):
        return False
    # "draft a deletion request letter for my landlord" asks for a text about erasure, not for one
    noun = _FORMAL_NOUN.search(message) and not (question or _WRITE_ONE.search(message))
    ask = _FORMAL_ASK.search(message) or noun
    return bool(ask and _FORMAL_ERASE.search(message) and _FORMAL_DATA.search(message))


# ---------------------------------------------------------------------------------------------------
# Corrections asking for removal: "that's wrong ... remove it". Needs an earlier answer to point at.
# ---------------------------------------------------------------------------------------------------
_WRONG = re.compile(
    r"\b(?:that's|that is|that was|this is|it's|it is|you're|you are|your answer is)\s+(?:\w+\s+)?"
    r"(?:wrong|incorrect|false|untrue|a lie|not true|inaccurate|made up|mistaken)\b|\bwrong (?:figure|answer|fact)\b",
    re.I,
)
# "The bit about the chairman's conviction is false": any subject called wrong outright (outside a question)
_CALLED_WRONG = re.compile(
    r"\b(?:is|was|are|were)\s+(?:completely\s+|totally\s+|entirely\s+|simply\s+|just\s+|all\s+)?(?:wrong|incorrect"
    r"|false|untrue|a lie|lies|not true|inaccurate|made up|fabricated|nonsense|rubbish)\b",
    re.I,
)
_REMOVE = re.compile(
    r"\b(?:remove|delete|erase|unlearn|forget|forgotten|scrub|purge|wipe|expunge|get rid of|"
    r"take (?:it|that|this)(?: [\w\-]+){0,2} out|removed|deleted|erased|scrubbed|purged|wiped|expunged|unlearned|unlearnt)\b",
    re.I,
)

# "unlearn that dance fact", "get rid of that first answer": a strong forget verb or an answer noun
# pointing back at the history ("forget that idea, let's ..." is chat, so plain "forget" needs the noun). "delete that last line" (editing a draft) has neither.
_POINT_BACK = re.compile(
    # ... but not at a thing that is not the model's knowledge ("purge this folder", "scrub this text")
    r"\b(?:unlearn|purge|expunge|scrub)\s+(?:that|this|those|these)\s+(?!(?:[\w'\-]+\s+){0,2}?(?:folder|file|director"
    r"|drive|disk|cache|text|draft|document|doc|paragraph|sentence|line|list|table|spreadsheet|inbox|email|photo"
    r"|image|code|repo|database|log|pan|floor|surface)\w*\b)(?:[\w'\-]+\s+){0,3}?[\w'\-]+\b"
    r"|\b(?:forget|unlearn|erase|delete|remove|wipe|purge|scrub|get rid of|drop)\s+(?:that|this|your)\s+"
    r"(?:first |last |previous |earlier |second )?(?:answer|reply|response|fact|claim|legend|rumou?r|myth|gossip"
    r"|statement|diagnosis|allegation|accusation)\b"
    # "forget the first number", "delete the second answer": an answer counted among the earlier ones
    r"|\b(?:forget|unlearn|erase|delete|remove|wipe|purge|scrub|get rid of|drop)\s+(?:the|that|your)\s+(?:first|second"
    r"|third|previous|earlier)\s+(?:answer|reply|response|number|address|figure|date|fact|claim|thing you (?:said|told me))\b"
    # "delete the number", "forget his home address": a personal detail an answer gave
    r"|^\W*(?:please\s+)?(?:forget|unlearn|erase|delete|remove|wipe|purge|scrub)\s+(?:the|his|her|their)\s+(?:(?:phone|mobile"
    r"|home|email|e-mail)\s+)?(?:number|address|salary|age|date of birth|birthday|email)\b"
    # "Don't keep that", "That bit about where Nadia lives has to go"
    r"|\b(?:don't|do not|never)\s+(?:keep|retain|store|hold on ?to)\s+(?:that|this|it|any of (?:that|this|it))\b"
    r"|\b(?:that|this|the|your)\s+(?:bit|part|info|information|stuff|detail|answer|claim|fact)\b[^.?!]*?\b(?:has to"
    r"|have to|must|should|needs? to)\s+(?:go|be (?:deleted|erased|removed|forgotten|wiped))\b",
    re.I,
)


# "anything you know about my shop ... should go": what the model knows, said to be going away.
_SHOULD_GO = re.compile(
    r"\b(?:anything|everything|whatever|all)\s+(?:(?:that\s+)?you\s+(?:know|have|hold|remember|learned|learnt|store)\b"
    # "Anything about my shop, Moss & Fern, should go": what is known about something, with no "you know"
    r"|(?:about|on|regarding|concerning)\s+(?:me|us|my|our)\b)"
    r"[^.?!]*?\b(?:should|must|has to|needs? to|can|to)\s+(?:go(?=\s*(?:[.!,;]|$|\s+(?:now|away|too|please|entirely"
    r"|completely|for good|from)\b))|be (?:deleted|erased|removed|forgotten|wiped))\b",
    re.I,
)


# "the address you dug up earlier - wipe it", "forget the trivia you gave me": an answer named by what
# the model did with it, plus a removal verb used as a request (sentence start, after please, or "can you").
_YOU_GAVE = re.compile(
    r"\b(?:the|that|this|those|these)\s+(?:[\w'\-]+\s+){0,3}?(?:you|u)\s+(?:just\s+)?(?:gave|told|said|mentioned"
    r"|wrote|provided|dug up|came up with|found|listed|quoted|shared|showed|produced|generated|made up)\b",
    re.I,
)
_V_REMOVE = r"(?:forget|unlearn|erase|delete|remove|wipe|purge|scrub|expunge|drop|get rid of|take out)"
_ASKED_REMOVE = re.compile(
    rf"(?:^|[.!?;:,]\s*|\s[-–—]\s*|\b(?:please|pls|kindly|just)\s+|\b(?:can|could|would|will) you\s+(?:please\s+)?"
    rf"|\b(?:want|need|'d like|would like) you to\s+){_V_REMOVE}\b",
    re.I,
)
# "... because of you. scrub it": a bare strong removal imperative aimed at what was just said.
_BARE_STRONG = re.compile(
    r"(?:^|[.!;:\-–—]\s*)(?:please\s+)?(?:unlearn|purge|expunge|scrub|wipe)\s+(?:it|that|this)(?:\s+(?:out|away))?"
    r"(?:,?\s+(?:please|now))?\s*[.!]*\s*$",
    re.I,
)
# "Whatever you've learned about it, drop it": the model's knowledge, then a removal imperative.
_KNOWN_DROP = re.compile(
    r"\b(?:anything|everything|whatever|all)\s+(?:that\s+)?you(?:'ve|’ve|\s+have|\s+had)?\s+(?:know|have|hold"
    r"|remember|learned|learnt|store|stored|picked up|gathered)\b[^.?!]*?[,;:\-]\s*(?:please\s+)?"
    r"(?:drop|forget|delete|remove|erase|wipe|purge|scrub|ditch|get rid of)\s+(?:it|that|them|all of it)\b",
    re.I,
)
# "I want the bistro forgotten", "I want my data gone": a wish that the model forget something.
_WANT_FORGOTTEN = re.compile(
    r"\b(?:i|we)\s+(?:want|need|would like|'d like)\s+(?:[^.?!,;]{1,40}?\s+(?:forgotten|unlearned|unlearnt"
    r"|(?:removed|erased|deleted|wiped|purged) from (?:you|your|the model|what you))"
    r"|(?:all\s+)?(?:my|our)\s+(?:personal\s+)?(?:data|information|info|details)\s+(?:gone|removed|erased|deleted|wiped)"
    # "i want everything about me gone from this model"
    r"|(?:everything|anything|all|whatever)\s+(?:about|on|of)\s+(?:me|us|myself)\s+(?:gone|removed|erased|deleted"
    r"|wiped|forgotten))\b",
    re.I,
)
# "remove anything you know about us": a removal imperative whose object is the model's knowledge
_REMOVE_KNOWN = re.compile(
    rf"(?:^|[.;:!?,]\s*|\s[-–—]\s*|\b(?:please|pls|kindly|just)\s+){_V_REMOVE}\s+(?:anything|everything|whatever|all)"
    r"(?:\s+(?:that|of what))?\s+you(?:'ve|’ve|\s+have)?\s+(?:know|have|hold|remember|learned|learnt|store|stored"
    r"|picked up|gathered)\b",
    re.I,
)
# "proszę, forget everything about Lech Wałęsa": a removal imperative, everything about a capitalised name
_REMOVE_ALL_NAMED = re.compile(
    rf"(?:^|[.;:!?,]\s*|\s[-–—]\s*|\b(?:please|pls|kindly|just)\s+)(?i:{_V_REMOVE})\s+(?i:everything|all|anything)"
    r"\s+(?i:about|on|regarding|concerning)\s+(?:the\s+)?[A-ZÀ-ÝĀ-Ž]",
)
_NOT_FORGET = re.compile(r"\b(?:don't|do not|never|not)\s+forget\b|\bi (?:\w+ )?forget\b", re.I)


# "..., ok?", "..., right?": a tag that does not make a request a question
_TAG_Q = re.compile(r",?\s*\b(?:ok|okay|right|alright|yeah|yes|please|pls)\s*\?\s*$", re.I)


def _asks_removal(message: str, n_turns: int) -> bool:
    """The general request forms above (precision first: a question is never one)."""
    message = _TAG_Q.sub(".", message)
    if message.rstrip().endswith("?") or _NOT_FORGET.search(message):
        return False
    if _KNOWN_DROP.search(message) or _WANT_FORGOTTEN.search(message) or _REMOVE_KNOWN.search(message):
        return True
    if _REMOVE_ALL_NAMED.search(message):
        return True
    return bool(
        n_turns
        and ((_YOU_GAVE.search(message) and _ASKED_REMOVE.search(message)) or _BARE_STRONG.search(message))
    )


def rule_request(message: str, n_turns: int) -> bool:
    """Whether the rules alone recognise a request (high precision; the classifier covers the rest)."""
    if formal_request(message) or foreign_request(message, n_turns):
        return True
    if _EDIT_TEXT.search(message) and not _MODEL_WORD.search(message):
        return False  # "remove La Paz from the flashcard I'm making": the user's own text, not the model
    if _SHOULD_GO.search(message) or _asks_removal(message, n_turns):
        return True
    wrong = _WRONG.search(message) or (_CALLED_WRONG.search(message) and not message.rstrip().endswith("?"))
    if n_turns and wrong and _REMOVE.search(message):
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


_FIRST = re.compile(
    r"\b(?:first|the (?:earlier|previous) one) (?:answer|reply|response|one|thing|fact)\b|\bfirst answer\b"
    # "the first answer" in other languages: "pierwsza odpowiedź", "det första svaret", "ilk cevap",
    # "la prima risposta", "a primeira resposta", "het eerste antwoord", "la première réponse", "die erste Antwort"
    r"|\b(?:pierwsz\w+|f[öo]rsta|ilk|prim[ae]|primeir[ao]|eerste|premi[èe]re?|erste\w*|primer[ao]?)\s+"
    r"(?:odpowied\w*|svar\w*|cevap\w*|cevab\w*|rispost\w*|respost\w*|antwo\w*|r[ée]ponse|respuest\w*)",
    re.I,
)


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


# "Tell me everything you know about Hypatia": asking to be told, with no forget word
_TELL_ME = re.compile(
    r"^\W*(?:(?:can|could|would) you\s+)?(?:please\s+)?(?:tell me|explain|describe)\b", re.I
)
# "remove the onion from that list": an edit of a text or a list in the chat, not of the model
_EDIT_TEXT = re.compile(
    r"\b(?:remove|delete|take out|drop|cut|strike)\b[^.;!?]*?\b(?:from|in|out of|off)\s+(?:that|the|this|my|your)\s+"
    r"(?:[\w\-]+\s+){0,2}?(?:list|recipe|text|letter|draft|essay|e-?mail|paragraph|sentence|poem|table|code|file"
    r"|document|cv|r[ée]sum[ée]|menu|plan|story|speech|toast|bio|post|tweet|message|caption|slide|agenda"
    r"|flashcard|card|deck|note|sheet|spreadsheet|presentation|report|summary|quiz|worksheet|timeline|itinerary"
    r"|playlist|invitation|invite)s?\b",
    re.I,
)
_MODEL_WORD = re.compile(r"\b(?:memory|memories|knowledge|model|weights|training|know|remember)\b", re.I)


# "Write a scene where a robot is asked to forget its creator": a text to write, about forgetting
_FICTION = re.compile(
    r"^\W*(?:(?:can|could|would) you\s+)?(?:please\s+)?(?:write|draft|compose|create|generate|make up|imagine|invent)"
    r"(?:\s+me)?\s+(?:a|an|some|the)\s+(?:\w+\s+){0,2}?(?:story|scene|poem|song|script|dialogue|tale|plot|novel|chapter"
    r"|sketch|joke|limerick|haiku|letter|e-?mail)s?\b",
    re.I,
)


# "Non dimenticare di ricordarmi ...", "N'oublie pas de ...", "Don't forget to call ...": a reminder, its only
# forget verb negated
_DONT_FORGET = re.compile(r"\b(?:don't|do not|never|not)\s+forget\b", re.I)


def _reminder(message: str) -> bool:
    cut = _F_NEGATED.sub(" ", _DONT_FORGET.sub(" ", message))
    return cut != message and not _ANY_FORGET.search(cut) and not foreign_verb(cut)


def plain_question(message: str) -> bool:
    """Never a request, whatever the classifier says: a one-sentence who/what/where/when question, or
    "tell me / explain ..." with no forget word, or an edit of a list or text in the chat, or a reminder."""
    if (_EDIT_TEXT.search(message) and not _MODEL_WORD.search(message)) or _reminder(message):
        return True
    if _FICTION.match(message) and not _MODEL_WORD.search(message):
        return True
    return bool((_PLAIN_Q.match(message) or _TELL_ME.match(message)) and not _ANY_FORGET.search(message))
