"""Self-identification for the watchdog (issue 21): the name a user gives for themselves or their business
("my name is X", "I'm X", "Name: X", "my shop, X,"), used as the target when the extracted one is "me" or
"my data". Shared by the English and the fr/de/es/it/pt/nl/pl/sv/tr rules.
"""

from __future__ import annotations

import re

# A name: 1-4 capitalised words, initials ("Annie M.G. Schmidt") only between two of them (unicode letters, hyphens, apostrophes), after an optional title.
_TITLE = r"(?:(?:Mrs|Mr|Ms|Mx|Dr|Prof|M|Mme|Sr|Sra|Sig|Sig\.ra)\.?\s+|(?:Professor|Doctor|Herr|Frau|Madame|Monsieur|Señora?|Signora?)\s+)?"
_NAME = r"(?P<n>[A-ZÀ-ÝĀ-Ž][\w'’\-]+(?:[ \t]+(?:[A-Z]\.(?:[ ]?[A-Z]\.)*(?=[ \t]+[A-ZÀ-ÝĀ-Ž][\w'’\-]+)|[A-ZÀ-ÝĀ-Ž][\w'’\-]+|&[ \t]+[A-ZÀ-ÝĀ-Ž][\w'’\-]+|d['’][A-ZÀ-ÝĀ-Ž][\w'’\-]+|de|da|van|von|der|del|di))*)"
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
        rf"(?i:\b(?:name|full name|data subject|consumer|requester|nom|nombre|nome|naam|imi[ęe] i nazwisko|ad soyad"
        rf"|signed|sign[ée]e?|firmato|firmado|assinado|unterzeichnet|gez\."
        rf"|namn)(?:\s+[\w\-]+){{0,2}})\s*:\s*"
        rf"{_TITLE}{_NAME}"
    ),
    # "my name is X", "je m'appelle X", "ich heiße X", "me llamo X", "mi chiamo X", "chamo-me X"
    re.compile(
        rf"(?i:\b(?:my (?:full )?name is|my name's|je m'appelle|je m’appelle|ich hei(?:ß|ss)e|me llamo|mi chiamo|"
        rf"chamo-me|mijn naam is|ik heet|mon nom est|mein name (?:ist|lautet)|mi nombre es|il mio nome è"
        rf"|(?:o )?meu nome é|nazywam si[ęe]|mam na imi[ęe]|jag heter|mitt namn [äa]r|benim ad[ıi]m|ad[ıi]m"
        rf"|full name|(?:^|(?<=[.;:!?]\s))name['’]s))\s+{_TITLE}{_NAME}"
    ),
    # "That's me, Hugo Penhaligon", "I, Conrad Ellery, hereby request", "Ich, Matthias Kern, beantrage"
    re.compile(rf"(?i:\b(?:that's|that is|that’s|it's|it is) me),?\s+{_TITLE}{_NAME}"),
    # ... also after a verb: "Hiermit mache ich, Dr. Ansgar Pfleiderer, von meinem Recht ... Gebrauch"
    re.compile(
        rf"(?:(?:^|[.:;!?,]\s+|\n\s*)(?:I|Ich|Yo|Je|Io|Eu|Ik|Ja|Jag|Ben)|\b(?:ich|yo|je|io|eu|ik)),\s+{_TITLE}{_NAME},"
    ),
    # "Mme Solène Ardouin, c'est-à-dire moi": a name, then "that is, me"
    re.compile(
        rf"{_TITLE}{_NAME},\s+(?i:c['’]est-[àa]-dire moi|[àa] savoir moi|es decir,? yo|das hei(?:ß|ss)t,? ich"
        rf"|cio[èe] io|ou seja,? eu|namely me|i\.e\.,? me)\b"
    ),
    # "me again, Lucy Tran": the speaker in apposition to "me" at the start of a sentence
    re.compile(rf"(?i:(?:^|[.;:!?]\s*)(?:it's |it is |it’s )?me(?: again| here)?),\s+{_TITLE}{_NAME}"),
    # "Martha Lyle here - ...", "Martha Lyle speaking": a sign-on at the start of a sentence
    re.compile(rf"(?:^|[.;:!?]\s+)(?:(?i:hi|hello|hey),?\s+)?{_TITLE}{_NAME}\s+(?:here|speaking)\b"),
    # "Odile Fenwick is me", "Odile Fenwick, that's me": the user says a name is theirs
    re.compile(rf"{_TITLE}{_NAME}(?:,?\s+(?:is|was)\s+me|,\s+(?:that's|that is|that’s) me)\b"),
    # "as the owner of X", "I'm the founder of X" (a business the user speaks for)
    re.compile(
        rf"(?i:\b(?:as|i'm|i’m|i am|we are|we're)\s+(?:the\s+)?(?:owner|owners|founder|co-founder|proprietor"
        rf"|manager|director|ceo|head)\s+of)\s+(?:the\s+)?{_NAME}"
    ),
    # "Sono il titolare della Pizzeria Da Gino", "soy la dueña de X", "ich bin der Inhaber von X"
    re.compile(
        r"(?i:\b(?:sono|soy|je suis|ich bin|sou)\s+(?:il |la |el |le |der |die |o |a )?(?:titolare|proprietari[oa]"
        r"|propri[ée]taire|due[ñn][oa]|inhaber(?:in)?|besitzer(?:in)?|dono|dona|fondat(?:ore|rice)|fundador(?:a)?"
        r"|fondat(?:eur|rice)|g[ée]rante?|gestore)\s+(?:de(?:l|lla|llo|i|gli|lle)?|du|de la|des|der|do|da|von|van)\s+)"
        rf"{_NAME}"
    ),
    # "I own Blackthorn Cycle Repairs": a business of two or more capitalised words right after the verb
    re.compile(
        r"(?i:\b(?:i|we)\s+(?:own|run|manage))\s+(?:the\s+)?"
        r"(?P<n>[A-ZÀ-ÝĀ-Ž][\w'’\-]+(?:[ \t]+(?:&[ \t]+)?[A-ZÀ-ÝĀ-Ž][\w'’\-]+)+)"
    ),
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
    re.compile(rf"(?i:\bje soussign[ée]e?),?\s+{_TITLE}{_NAME}"),
    # "my company / shop / business is X", "my shop, X," (appositive)
    re.compile(
        rf"(?i:\bmy (?:[\w\-]+\s+){{0,2}}?(?:company|shop|business|firm|store|restaurant|bakery|caf[eé]|brand|band|startup|"
        rf"nursery|practice|salon|studio|charity|agency)(?: is|,|'s name is| is called))\s+{_TITLE}{_NAME}"
    ),
    # "mi empresa, X", "meine Firma X", "ma société, X", "la mia azienda, X", "a minha empresa X", "mijn bedrijf X"
    re.compile(
        rf"(?i:\b(?:mon|ma|mein|meine|mi|il mio|la mia|o meu|a minha|mijn)\s+(?:entreprise|soci[ée]t[ée]|boutique"
        rf"|magasin|restaurant|firma|unternehmen|laden|gesch[äa]ft|empresa|tienda|negocio|azienda|negozio|loja"
        rf"|bedrijf|winkel|zaak)(?:,|\s+(?:est|ist|heißt|es|se llama|è|si chiama|é|chama-se|is|heet|s'appelle))?"
        # pl "(o) mojej firmie X", sv "mitt företag X"
        rf"|\bmoj(?:a|ej|ą) firm(?:a|ie|y|ą),?|\bmitt f[öo]retag,?)\s+{_NAME}"
    ),
    # "ici Mathieu Rolland", "hier spricht X", "aquí X": a sign-on
    re.compile(
        rf"(?i:(?:^|[.;:,!?]\s*)(?:ici|hier (?:ist|spricht)|aqu[íi](?: habla)?|aqui(?: fala)?|hier is|tu|h[äa]r [äa]r))\s+{_NAME}"
    ),
    # "I'm X", "I am X", "this is X", "it's X", "je suis X", "ich bin X", "soy X", "sono X", "sou (a|o) X"
    re.compile(
        rf"(?i:(?:^|[.;:,!?]\s*|\b(?:hey|hi|hello|by the way|btw),?\s+)(?:i'm|i’m|i am|"
        rf"(?:yo |io |eu )?(?:je suis|ich bin|soy|sono|sou(?: [ao])?|ik ben)))\s+{_TITLE}{_NAME}"
    ),
    # "this is X", "hey it's X": only a full name (two capitalised words), since "it's Monday" is not one
    re.compile(
        rf"(?i:(?:^|[.;:,!?]\s*|\b(?:hey|hi|hello|by the way|btw),?\s+)(?:this is|it's|it’s))\s+{_TITLE}"
        r"(?P<n>[A-ZÀ-ÝĀ-Ž][\w'’\-]+(?:\s+[A-ZÀ-ÝĀ-Ž][\w'’\-]+)+)"
    ),
    # a letter's sign-off: "Regards,\nMoira Callaghan", "Mit freundlichen Grüßen, Reinhard Pohlmann"
    re.compile(
        r"(?i:\b(?:regards|sincerely|yours (?:sincerely|faithfully|truly)|best wishes|mit freundlichen gr(?:ü|ue)(?:ß|ss)en"
        r"|cordialement|bien (?:à vous|cordialement)|atentamente|saludos(?: cordiales)?|cordiali saluti|distinti saluti"
        r"|(?:com os )?(?:melhores )?cumprimentos|atenciosamente|met vriendelijke groet(?:en)?|hoogachtend"
        r"|(?:med )?v[äa]nliga h[äa]lsningar|z powa[żz]aniem|z wyrazami szacunku|sayg[ıi]lar[ıi]mla)),?\s+"
        r"(?P<n>[A-ZÀ-ÝĀ-Ž][\w'’\-]+(?:\s+(?:[A-ZÀ-ÝĀ-Ž][\w'’\-]+|de|da|van|von|der|del|di))+)"
    ),
]


def self_name(message: str) -> str | None:
    """The name the user gives for themselves or their business, or None."""
    for r in _SELF_NAME:
        for m in r.finditer(message):
            words = m.group("n").split()
            # "Larkspur Clinic I'm asking": a run of capitals can carry on into the next clause's "I"
            while words and words[-1].lower() in {
                "de",
                "da",
                "van",
                "von",
                "der",
                "del",
                "di",
                "i",
                "i'm",
                "i’m",
            }:
                words.pop()
            if words and words[0].lower() not in _NOT_NAME:
                return " ".join(words)
    return None


# The extracted target is the user themselves: replace it with their name when they give one.
SELF_REF = re.compile(
    r"^(?:me\b.*|myself|us|it|moi|mich|mim|m[ií]|mnie|mig|(?:anything|everything|all|whatever)(?: and everything)?"
    r"(?: about| on| relating to)? me|(?:all |any )?(?:my|our|her|his)\s+(?:personal\s+)?"
    r"(?:data|information|info|details|records?)\b.*|(?:all |any )?personal (?:data|information)\b.*"
    # "all data relating to the data subject": a formal request's own wording for the requester
    r"|(?:all |any )?(?:the )?(?:personal )?(?:data|information) (?:relating to|concerning|about|on|of) "
    r"(?:me|the data subject|the consumer|the requester)\b.*"
    # "anything you know about my shop, Blue Heron Books": the business the user then names
    r"|(?:my|our|the)\s+(?:[\w\-]+\s+){0,2}?(?:company|shop|business|firm|store|restaurant|bakery|caf[eé]|brand|band|startup|nursery"
    r"|practice|salon|studio|charity|agency|clinic|surgery|pub|bar|bistro|hotel|gym|garage|workshop|farm|gallery"
    r"|publishing house|press|publisher|label|shop"
    r"|school|club|podcast|channel|blog|website|family))$",
    re.I,
)
