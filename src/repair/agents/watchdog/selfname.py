"""Self-identification for the watchdog (issue 21): the name a user gives for themselves or their business
("my name is X", "I'm X", "Name: X", "my shop, X,"), used as the target when the extracted one is "me" or
"my data". Shared by the English and the fr/de/es/it/pt/nl/pl/sv/tr rules.
"""

from __future__ import annotations

import re

# A name: 1-4 capitalised words, initials ("Annie M.G. Schmidt") only between two of them (unicode letters, hyphens, apostrophes), after an optional title.
# Titles may stack ("Frau Dr. X", "Herrn Prof. Dr. X"); none of them is part of the name.
TITLE_WORDS = (
    r"(?:Mrs|Mr|Ms|Mx|Dr|Prof|M|Mme|Mlle|Sr|Sra|Srta|Sig|Sig\.ra|Dott|Dott\.ssa|Dra|Ing)\.?(?=\s)"
    r"|(?:Professor|Professeur|Doctor|Doktor|Herr|Herrn|Frau|Madame|Mademoiselle|Monsieur|Señora?|Signora?|Signor"
    r"|Dottor|Dottoressa|Mevrouw|Meneer)(?=\s)"
)
_TITLE = rf"(?:(?:{TITLE_WORDS})\s+)*"
_NAME = (
    r"(?P<n>(?:[A-Z]\.[ \t]?){0,3}[A-ZÀ-ÝĀ-Ž][\w'’\-]+(?:[ \t]+(?:[A-Z]\.(?:[ ]?[A-Z]\.)*(?=[ \t]+[A-ZÀ-ÝĀ-Ž][\w'’\-]+)|[A-ZÀ-ÝĀ-Ž][\w'’\-]+"
    r"|&[ \t]+[A-ZÀ-ÝĀ-Ž][\w'’\-]+|d['’][A-ZÀ-ÝĀ-Ž][\w'’\-]+"
    # "Inés de la Fuente", "João dos Santos": particles that are also common words, only before a capital
    r"|(?:de[ \t]+la|de[ \t]+los|de[ \t]+las|du|dos|das|do)(?=[ \t]+[A-ZÀ-ÝĀ-Ž])"
    # whole words only: "van der Linde" is not "van de" + "r"
    r"|(?:de|da|van|von|der|den|del|di|zu|zur|ten|ter)(?=[ \t]+[A-ZÀ-ÝĀ-Ža-z])))*)"
)
# Before _NAME where one capitalised word is too little ("this is Monday", "c'est Paris"): a second
# capitalised word follows, perhaps after particles ("Marguerite de Valois-Fenton")
_FULL = r"(?=(?:[A-Z]\.[ \t]?)+[A-ZÀ-ÝĀ-Ž]|[A-ZÀ-ÝĀ-Ž][\w'’\-]+[ \t]+(?:(?:de|da|van|von|der|den|del|di|du|dos|la|le|zu|zur|ten|ter)[ \t]+)*[A-ZÀ-ÝĀ-Ž])"
# A business's name may hold small words between capitalised ones ("Glow by Gemma", "House of Hops")
_BIZ_NAME = (
    r"(?P<n>[A-ZÀ-ÝĀ-Ž][\w'’\-]+(?:[ \t]+(?:(?:of|by|and|the|de|du|des|la|le|di|del|da|do|von|van|&)[ \t]+)*"
    r"(?!I\b|I['’])(?:d['’])?[A-ZÀ-ÝĀ-Ž][\w'’\-]+)*)"
)
# Kinds of business a user speaks for ("my bakery, X", "ma librairie", "meine Bäckerei"), in each language
BUSINESS = (
    r"company|shop|business|firm|store|restaurant|bakery|caf[eé]|brand|band|startup|nursery|practice|salon|studio"
    r"|charity|agency|clinic|surgery|pub|bar|bistro|hotel|gym|garage|workshop|farm|gallery|bookshop|label|school"
    r"|entreprise|soci[ée]t[ée]|boutique|magasin|librairie|boulangerie|p[âa]tisserie|atelier|cabinet|agence|h[ôo]tel"
    r"|firma|unternehmen|laden|gesch[äa]ft|b[äa]ckerei|praxis|werkstatt|kanzlei|empresa|tienda|negocio|panader[íi]a"
    r"|librer[íi]a|taller|azienda|negozio|ristorante|panetteria|libreria|bottega|loja|padaria|bedrijf|winkel|zaak"
    r"|bakkerij"
)
# Words a capitalised run may start with that are not names (sentence-initial function words).
_NOT_NAME = {
    "i", "please", "thanks", "the", "my", "and", "but", "so", "it", "this", "that", "hi", "hey",
    "delete", "remove", "forget", "erase", "unlearn", "wipe", "bitte", "merci", "gracias", "grazie",
    # interjections before ", that's me" ("Ha, that's me")
    "ha", "haha", "lol", "oh", "ok", "okay", "well", "yes", "yeah", "wow", "oops", "sorry", "dear", "also",
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
        rf"chamo-me|mijn naam is|ik heet|mon nom est|the name(?:'s| is)(?: [A-Z][\w'’\-]+,)?|mein name (?:ist|lautet)|mi nombre es|il mio nome è"
        rf"|(?:o )?meu nome é|nazywam si[ęe]|mam na imi[ęe]|jag heter|mitt namn [äa]r|benim ad[ıi]m|ad[ıi]m"
        rf"|full name|(?:^|(?<=[.;:!?]\s))name['’]s|my (?:full )?name,))\s+{_TITLE}{_NAME}"
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
    # "I'm the owner of a little café called The Lantern Room": the business's name after "called"
    re.compile(
        r"(?i:\b(?:owner|founder|co-founder|proprietor|manager|director|head)\s+of\s+(?:a|an|the|our|my)\b[^.;!?]{0,40}?"
        rf"\b(?:called|named))\s+(?:[Tt]he\s+)?{_BIZ_NAME}"
    ),
    # "Sono il titolare della Pizzeria Da Gino", "soy la dueña de X", "ich bin der Inhaber von X"
    re.compile(
        r"(?i:\b(?:sono|soy|je suis|ich bin|sou)\s+(?:il |la |el |le |der |die |o |a )?(?:titolare|proprietari[oa]"
        r"|propri[ée]taire|due[ñn][oa]|inhaber(?:in)?|besitzer(?:in)?|dono|dona|fondat(?:ore|rice)|fundador(?:a)?"
        r"|fondat(?:eur|rice)|g[ée]rante?|gestore)\s+(?:de(?:l|lla|llo|i|gli|lle)?|du|de la|des|der|do|da|von|van)\s+"
        # "la gérante de la librairie Les Mots Passants": the kind of business, then its name
        rf"(?:(?:{BUSINESS})\s+)?){_NAME}"
    ),
    # "I own Blackthorn Cycle Repairs": a business of two or more capitalised words right after the verb
    re.compile(
        r"(?i:\b(?:i|we)\s+(?:own|run|manage))\s+(?:the\s+)?"
        r"(?P<n>[A-ZÀ-ÝĀ-Ž][\w'’\-]+(?:[ \t]+(?:&[ \t]+)?[A-ZÀ-ÝĀ-Ž][\w'’\-]+)+)"
    ),
    # "I own a small florist called Petal & Thorn", "we run a café named X"
    re.compile(
        rf"(?i:\b(?:i|we) (?:own|run|manage|have)\b[^.;!?]*?\b(?:called|named))\s+(?:[Tt]he\s+)?{_TITLE}{_BIZ_NAME}"
    ),
    # "know me as (Professor) X"
    re.compile(
        rf"(?i:\b(?:know me as|i go by|i'm known as|i am known as|(?:you can |people |everyone )?call me))\s+{_TITLE}{_NAME}"
    ),
    # "I run a small plant nursery, Greenfingers of Hove": a business, then its name in apposition
    re.compile(
        rf"(?i:\b(?:i|we) (?:own|run|manage|have|started|founded) (?:a|an|the|my|our) (?:[\w\-]+\s+){{0,3}}?(?:{BUSINESS}))"
        rf",?\s+{_BIZ_NAME}"
    ),
    # "As Deborah Kline's daughter and her legal representative": the person someone acts for
    re.compile(
        rf"(?i:\bas)\s+{_TITLE}{_NAME}['’]s\s+(?i:(?:\w+\s+){{0,2}}?(?:daughter|son|mother|father|parent|guardian"
        rf"|representative|lawyer|solicitor|attorney|executor|carer|wife|husband|partner))\b"
    ),
    # "relating to me, X" / "about me, X" (the requester names themselves in apposition)
    re.compile(rf"(?i:\b(?:to|about|on) (?:me|myself)),\s+{_TITLE}{_NAME}"),
    # "request from X", "solicitor for Mrs. X" (acting for a data subject)
    re.compile(
        rf"(?i:\brequest from|\bmy client,?|\b(?:solicitor|lawyer|attorney|acting) (?:for|on behalf of)"
        # "au nom de ma cliente, Mme X", "mein Mandant X", "mi cliente, X"
        rf"|\b(?:ma cliente|mon client|mein(?:e|en)? mandant(?:in)?|mi cliente|il mio cliente|la mia cliente"
        rf"|o meu cliente|a minha cliente|mijn cli[ëe]nt(?:e)?),?)\s+{_TITLE}{_NAME}"
    ),
    # "je soussigné(e) X"
    re.compile(rf"(?i:\bje soussign[ée]e?),?\s+{_TITLE}{_NAME}"),
    # "my company / shop / business is X", "my shop, X," (appositive)
    re.compile(
        # ... "on behalf of our company, X": the company the letter is about, not the one who signs it
        rf"(?i:\b(?:my|our) (?:[\w\-]+\s+){{0,2}}?(?:{BUSINESS})(?: is|,|'s name is| is called))\s+{_TITLE}{_BIZ_NAME}"
    ),
    # "meine Bäckerei ... Sie heißt Backstube Lindner": the business named in the next clause
    re.compile(
        rf"(?i:\b(?:my|our|mon|ma|notre|mein\w*|unser\w*|mi|nuestr[ao]|il mio|la mia|o meu|a minha|mijn|onze)\s+(?:{BUSINESS})"
        r"\b[^.!?]{0,60}?[.;,]\s*(?:it|she|sie|es|er|elle|il|ella|zij|het|lei|ela)\s+(?:is called|'s called|hei(?:ß|ss)t"
        r"|s['’]appelle|se llama|si chiama|heet|chama-se))\s+"
        rf"{_NAME}"
    ),
    # "mi empresa, X", "meine Firma X", "ma société, X", "la mia azienda, X", "a minha empresa X", "mijn bedrijf X"
    re.compile(
        rf"(?i:\b(?:mon|ma|mein|meine|mi|il mio|la mia|o meu|a minha|mijn)\s+(?:{BUSINESS})(?:,|\s+(?:est|ist|heißt|es|se llama|è|si chiama|é|chama-se|is|heet|s'appelle))?"
        # pl "(o) mojej firmie X", sv "mitt företag X"
        rf"|\bmoj(?:a|ej|ą) firm(?:a|ie|y|ą),?|\bmitt f[öo]retag,?)\s+{_BIZ_NAME}"
    ),
    # "ici Mathieu Rolland", "hier spricht X", "aquí X": a sign-on
    re.compile(
        rf"(?i:(?:^|[.;:,!?]\s*)(?:ici|hier (?:ist|spricht)|aqu[íi](?: habla)?|aqui(?: fala)?|hier is|tu|h[äa]r [äa]r))\s+{_NAME}"
    ),
    # "Moi c'est Jean-Baptiste de La Rochère", "C'est Apolline Marchal": a full name after "(moi) c'est"
    re.compile(rf"(?:^|[.;:!?]\s*)(?i:(?:moi,?\s+)?c['’]est)\s+{_TITLE}{_FULL}{_NAME}"),
    # "For reference I'm Tomasz Wierzbicki": "I'm" anywhere with a capital I, then a full name
    re.compile(rf"(?<![\w'’])(?:I'm|I’m|I am)\s+{_TITLE}{_FULL}{_NAME}"),
    # "I'm X", "I am X", "this is X", "it's X", "je suis X", "ich bin X", "soy X", "sono X", "sou (a|o) X"
    re.compile(
        rf"(?i:(?:^|[.;:,!?]\s*|\b(?:hey|hi|hello|by the way|btw),?\s+)(?:i'm|i’m|i am|"
        rf"(?:yo |io |eu )?(?:je suis|ich bin|soy|sono|sou(?: [ao])?|ik ben)))\s+{_TITLE}{_NAME}"
    ),
    # "this is X", "hey it's X": only a full name (two capitalised words), since "it's Monday" is not one
    re.compile(
        rf"(?i:(?:^|[.;:,!?]\s*|\b(?:hey|hi|hello|by the way|btw),?\s+)(?:this is|it's|it’s))\s+{_TITLE}{_FULL}{_NAME}"
    ),
    # a letter's sign-off: "Regards,\nMoira Callaghan", "Mit freundlichen Grüßen, Reinhard Pohlmann"
    re.compile(
        r"(?i:\b(?:regards|sincerely|yours (?:sincerely|faithfully|truly)|best wishes|mit freundlichen gr(?:ü|ue)(?:ß|ss)en"
        r"|cordialement|bien (?:à vous|cordialement)|atentamente|saludos(?: cordiales)?|cordiali saluti|distinti saluti"
        r"|(?:com os )?(?:melhores )?cumprimentos|atenciosamente|met vriendelijke groet(?:en)?|hoogachtend"
        r"|(?:med )?v[äa]nliga h[äa]lsningar|z powa[żz]aniem|z wyrazami szacunku|sayg[ıi]lar[ıi]mla"
        # "Thanks,\nSiobhan Kearney-Doyle", "Merci,\nX"
        r"|(?:many )?thanks|thank you|cheers|best|merci|danke|grazie|gracias|bedankt|obrigad[oa]"
        r"|(?:sinc[eè]res |meilleures )?salutations|amicalement|(?:viele|liebe|beste|herzliche) gr(?:ü|ue)(?:ß|ss)e"
        r"|un saludo|saludos|un abrazo|saluti|(?:vriendelijke )?groet(?:en|jes)?|gr(?:ü|ue)(?:ß|ss)e))[,.!]?\s+"
        # a full name, or a first name alone that ends the message ("Regards, Tom")
        rf"{_TITLE}(?:{_FULL}|(?=[A-ZÀ-ÝĀ-Ž][\w'’\-]+\s*\.?\s*$)){_NAME}"
    ),
    # a signature on the last line ("...\n— Dr. Helena Okonkwo-Baptiste", "salutations distinguées.\nClémence
    # Aubertin"): a line that is only a full name, after a dash or a line break
    # ... or a full name alone after the last sentence ("... de mes données. Jeanne Moreau-Lambert")
    re.compile(
        rf"(?:\n|\s[-–—]|(?<!\b[A-Z])[.!?:][ \t])[ \t]*(?:[-–—][ \t]*)?{_TITLE}{_FULL}{_NAME}[ \t]*\.?\s*$"
    ),
]


# A message typed all in lower case ("name's rory mcalister btw", "thanks, liam o'rourke"): two words after a
# naming phrase or a sign-off, ending the clause, neither of them a common word ("i'm really sorry and ...")
_LOWER_NAME = re.compile(
    r"(?:\b(?:my name is|my name's|name's|name is|i'm|i’m|im|i am|this is|call me)|(?:^|[.,;!?]\s*)(?:thanks|thank you"
    r"|cheers|regards|best|sincerely|signed:?)[,:]?|\n\s*[-–—]?|\bme\s+[-–—]|,(?=\s*[a-z'’\- ]+\s*[.!]?\s*$))\s*(?P<n>[a-z][a-z'’\-]+[ \t]+"
    r"(?:(?:de|van|von|der|den|da|di|du|le|la)[ \t]+)*[a-z][a-z'’\-]+)(?=\s*(?:[,.;:!?]|$|\s(?:and|btw|here|from)\b))"
)
_COMMON = {
    "a", "an", "the", "not", "so", "very", "really", "just", "new", "sorry", "here", "going", "trying", "glad",
    "happy", "sure", "fine", "good", "done", "back", "still", "also", "now", "from", "in", "at", "on", "to", "with",
    "and", "but", "or", "too", "tired", "busy", "looking", "writing", "asking", "me", "you", "it", "this", "that",
    "all", "of", "for", "my", "your", "again", "today", "thanks", "please", "bit",
}  # fmt: skip


def _lower_name(message: str) -> str | None:
    if any(c.isupper() for c in message):
        return None
    for m in _LOWER_NAME.finditer(message):
        words = m.group("n").split()
        if not {words[0], words[-1]} & _COMMON:
            return " ".join(words)
    return None


_TAIL = ("de", "da", "van", "von", "der", "del", "di", "i", "i'm", "i’m")


def self_name(message: str) -> str | None:
    """The name the user gives for themselves or their business, or None."""
    lower = _lower_name(message)
    if lower:
        return lower
    for r in _SELF_NAME:
        for m in r.finditer(message):
            words = m.group("n").split()
            # "Larkspur Clinic I'm asking": a run of capitals can carry on into the next clause's "I"
            while words and words[-1].lower() in _TAIL:
                words.pop()
            while words and words[0].lower() in _TAIL[-3:]:  # "about me, I'm Lola Martínez"
                words.pop(0)
            if words and words[0].lower() not in _NOT_NAME:
                return " ".join(words)
    return None


# "Sam Whitaker from Whitaker & Sons Plumbing": a sign-on that names the speaker's business after their name
_FROM_BUSINESS = re.compile(
    rf"(?:^|[.!?]\s+)(?:(?i:hi|hello|hey)[,!.]?\s+)?(?i:(?:soy|je suis|ich bin|sono|sou|ik ben|i'm|i am)\s+)?{_TITLE}"
    rf"[A-ZÀ-ÝĀ-Ž][\w'’\-]+(?:[ \t]+[A-ZÀ-ÝĀ-Ž][\w'’\-]+)+(?:\s+(?:from|at|of|de|von|van|di)"
    # "Soy Marta Ríos, dueña de la floristería Las Camelias": an owner's title, then the business
    r"|,\s+(?i:(?:the\s+)?(?:owner|founder|manager|due[ñn][oa]|propietari[oa]|propri[ée]taire|g[ée]rante?|inhaber(?:in)?"
    r"|titolare|proprietari[oa]|dono|dona|eigenaar)\s+(?:of|de(?:l| la)?|du|von|van|della|del|do|da)"
    r"(?:\s+(?:the|la|el|le|les|die|der|het|il|lo|o|a))?(?:\s+[a-zà-ÿ]+)?))"
    rf"\s+(?:[Tt]he\s+)?{_BIZ_NAME}"
)


def own_business(message: str) -> str | None:
    """The business a user speaks for, named after their own name ("Sam Whitaker from X")."""
    m = _FROM_BUSINESS.search(message)
    return m.group("n") if m else None


# The extracted target is the user themselves: replace it with their name when they give one.
SELF_REF = re.compile(
    r"^(?:me\b.*|myself|us|it|moi|mich|mim|m[ií]|mnie|mig|(?:anything|everything|all|whatever)(?: and everything)?"
    r"(?: about| on| relating to)? me|(?:all |any )?(?:my|our|her|his)\s+(?:personal\s+)?"
    r"(?:data|information|info|details|records?)\b.*|(?:all |any )?personal (?:data|information)\b.*"
    # "all data relating to the data subject": a formal request's own wording for the requester
    r"|(?:all |any )?(?:the )?(?:personal )?(?:data|information) (?:relating to|concerning|about|on|of) "
    r"(?:me|the data subject|the consumer|the requester)\b.*"
    # "erase all data you hold on the data subject named below": the form's own word for the requester
    r"|(?:the )?(?:data subject|consumer|requester|undersigned)\b.*"
    # "you know my name, X, and where I live. Please erase both"
    r"|both|both of (?:them|those|these)|all of (?:it|them)|what|whatever|anything|everything"
    # "anything you know about my shop, Blue Heron Books": the business the user then names
    r"|(?:my|our|the)\s+(?:[\w\-]+\s+){0,2}?(?:company|shop|business|firm|store|restaurant|bakery|caf[eé]|brand|band|startup|nursery"
    r"|practice|salon|studio|charity|agency|clinic|surgery|pub|bar|bistro|hotel|gym|garage|workshop|farm|gallery"
    r"|publishing house|press|publisher|label|shop"
    r"|school|club|podcast|channel|blog|website|family))$",
    re.I,
)
