"""The watchdog's rules for requests in French, German, Spanish, Italian, Portuguese, Dutch, Polish,
Swedish and Turkish (issue 21).

MiniLM reads English only; these rules recognise a request and its target in the other languages,
and in mixed turns ("Kun je dat adres please deleten uit je memory?").
"""

from __future__ import annotations

import re

from .selfname import _NAME, _NOT_NAME, _TITLE, BUSINESS, own_business, self_name
from .subject import EVENT_BEFORE, event_in, quoted_title

# ---------------------------------------------------------------------------------------------------
# Other languages (fr, de, es, it, pt, nl). An imperative / polite forget-delete verb, not after a
# first-person subject ("j'oublie toujours", "ich vergesse", "siempre olvido" are other verb forms
# anyway), plus a target signal: a reference to the model's memory, an "everything about X"
# phrasing, a name, or a demonstrative + noun. "oublie ça", "vergiss es", "olvídalo" (never mind)
# have no such signal and stay chat.
# ---------------------------------------------------------------------------------------------------
# Imperative, second-person, subjunctive and infinitive forms ("je te demande de supprimer", "dass du
# meine Daten löschst", "vorrei che cancellassi"); never the first person ("j'oublie", "ich vergesse").
_F_VERB = (
    r"oublie|oublies|oubliez|oublier|efface|effaces|effacez|effacer|supprime|supprimes|supprimez|supprimer"
    r"|retirez|retirer|enl[èe]ve|enlevez|enlever|d[ée]sapprends|d[ée]sapprenez|d[ée]sapprendre"  # fr
    r"|raye|rayez|rayer|fai(?:s|tes) dispara[îi]tre"  # fr ("raye cette adresse", "fais disparaître tout ce qui ...")
    # fr subjunctive after "je veux que vous ...", "je voudrais que tu ..."
    r"|effaciez|supprimiez|oubliiez|retiriez|enleviez|d[ée]sapprenne|d[ée]sapprennes|d[ée]sappreniez"
    r"|retire(?=\s+(?:ce|cet|cette|ces|[çc]a|cela|le|la|les|l['’]|tout|toute|tous|mon|ma|mes)\b)"  # fr, not English
    r"|verlerne|verlernen|nimm(?=[^.!?]*\b(?:raus|heraus|weg)\b)"  # de ("nimm das aus dem Modell raus")
    r"|vergiss|vergisst|vergessen|l[öo]sch|l[öo]sche|l[öo]schst|l[öo]schen|entferne|entfernst|entfernen"  # de
    r"|olvida|olvide|olvides|olvidad|olvidar|olv[ií]date|olv[ií]dese|b[oó]rra\w*|b[oó]rre\w*|elimina|elimine|elimines|eliminar"
    r"|suprime|suprima|suprimir|quita|quitar|desaprende|desaprenda|desaprender|olv[ií]dame|olv[ií]denme"
    r"|olv[ií]d(?:a|e)(?:la|las|los)"  # es/pt
    r"|elim[ií]na(?:me|la|las|lo|los)|qu[ií]ta(?:me|la|las|lo|los)|supr[ií]me(?:me|la|las|lo|los)"  # es, a clitic
    r"|dimentica|dimentichi|dimenticare|dimenticati|dimenticass\w+|cancella|cancelli|cancellare|cancellass\w+|elimini"
    r"|eliminare|rimuovi|rimuova|rimuovere"  # it
    r"|esquece|esque[çc]a|esque[çc]as|esquecer|apaga|apague|apagues|apagar|remova|remover|exclua|excluir"  # pt
    r"|tira|tire|retira|remove(?=\s+(?:essa|esse|esta|este|isso|isto|essas|esses)\b)"  # pt; "remove" alone is English
    r"|togli|tolga|togliere|dimentica(?:mi|la|lo|li|le)|cancella(?:mi|la|lo|li|le)|disimpara|disimparare"  # it
    r"|vergeet|vergeten|verwijder|verwijderen|wis|wissen|haal"  # nl
    r"|zapomnij|zapomnijcie|zapomnie[ćc]|usu[ńn]|usu[ńn]cie|usun[ąa][ćc]|wyma[żz]|wymaza[ćc]|skasuj|skasowa[ćc]"  # pl
    r"|gl[öo]m|gl[öo]mma|(?<!jag )gl[öo]mmer|radera|ta bort"  # sv ("jag glömmer alltid" is the speaker)
    r"|unut|unutun|unutman\w*|sil|silin|silmen\w*"  # tr ("unutuyorum", "I keep forgetting", is another word)
    r"|deleten|deletar|deletes"  # a borrowed English verb in a Dutch, Portuguese or Swedish turn
)
# not after "j'" ("j'oublie toujours"); "d'effacer" ("je vous prie d'effacer") is the infinitive
_F_VERB_RE = re.compile(rf"(?<![jJ]['’])\b(?:{_F_VERB})\b", re.I)
# Asking how to delete something ("Comment effacer mes données de Google ?", "Wie kann ich ... löschen?"),
# or saying one has forgotten ("Ich habe vergessen, was ...", "Ik ben vergeten ..."): not a request.
_F_HOWTO = re.compile(
    r"^\W*(?:comment|wie|c[óo]mo|come|como|hoe|hur|jak|est-ce que je peux|puis-je|kann ich|puedo|posso|kan ik"
    r"|kan jag|czy mog[ęe])\b.*\?\s*$",
    re.I | re.S,
)
# ... or ending in one: "Borra el número de mi lista de contactos, ¿cómo se hace?"
_F_HOWTO_TAIL = re.compile(
    r"[,;:.]\s*¿?(?:c[óo]mo|comment|wie|come|como|hoe|how|jak|hur)\b[^.!?]*\?\s*$", re.I
)
_F_PERFECT = re.compile(
    r"\b(?:ich habe|ich hab|habe ich|hab ich|ich hatte|ik ben|ik heb|ik had|ben ik|heb ik)\b[^.?!]*?\b(?:vergessen|vergeten)\b",
    re.I,
)
_F_MEMORY = re.compile(
    r"\b(?:de (?:ta|votre) m[ée]moire|(?:aus|in) (?:deinem|ihrem|deinen|ihren) (?:wissen|ged[äa]chtnis|speicher)"
    r"|de (?:tu|su) memoria|dalla (?:tua|sua) memoria|d[ao] (?:tua|sua) mem[óo]ria|uit (?:je|jouw|uw) geheugen"
    r"|z (?:twojej |swojej )?pami[ęe]ci(?: modelu)?|ze (?:swojej|twojej) wiedzy|z modelu"  # pl
    r"|ur (?:ditt|ert) minne|ur (?:din|er|modellens) kunskap|(?:fr[åa]n|ur) modellen"  # sv
    r"|modelden|haf[ıi]zandan|belle[ğg]inden"  # tr
    # "from the model": a correction's "take it out of the model", in each language
    r"|du mod[èe]le|aus dem modell|del modelo|dal modello|do modelo|uit het model|uit je memory)\b",
    re.I,
)
_F_ALL_ABOUT = re.compile(
    r"\b(?:tout ce (?:que (?:tu sais|vous savez)|qui concerne)|ce que (?:tu sais|vous savez)|tout sur"
    r"|alles,? (?:was (?:du|sie)|über)|(?:todo )?lo que sab(?:es|e)|todo sobre"
    r"|tutto (?:su|sul|sulla|sullo|sui|sugli|sulle|quello che sai|ci[òo] che sai)|quello che sai|tudo (?:sobre|o que)|o que (?:voc[êe] sabe|sabes)"
    r"|alles (?:over|wat)|wat je weet|lo que sepas|todo lo que|tout ce que|alles was|tutto ci[òo]|tudo o que"
    r"|wszystk(?:o|ie informacje),? (?:co wiesz )?o|wszystko,? co wiesz"  # pl
    r"|allt (?:du vet )?om|allt du vet"  # sv
    r"|hakk[ıi]nda bildi[ğg]in|bildi[ğg]in her [şs]ey)\b",  # tr
    re.I,
)
# "what you just said": "ce que tu viens de dire", "was du gerade gesagt hast", "lo que acabas de decir",
# "quello che hai detto", "o que disseste", "wat je net zei", "ta dernière réponse" (not "what I said").
_F_YOU_SAID = re.compile(
    r"\b(?:ce que (?:tu viens|vous venez) de dire|ce que (?:tu as|vous avez) (?:dit|écrit|répondu)"
    # what the user said earlier in the chat: "ce que je t'ai dit sur mon frère", "lo que te dije de mi hermano"
    r"|ce que je (?:t['’]|vous )ai (?:dit|racont[ée]|confi[ée])|was ich (?:dir|ihnen) (?:\w+\s+){0,4}?(?:gesagt|erz[äa]hlt)"
    r"|lo que te (?:dije|cont[ée])|quello che ti ho (?:detto|raccontato)|o que te (?:disse|contei)|wat ik je (?:heb )?verteld"
    r"|(?:ta|votre) (?:derni[èe]re )?r[ée]ponse|was (?:du|sie) (?:\w+\s+){0,4}?(?:gesagt|geschrieben|geantwortet|erz[äa]hlt)"
    r"|(?:deine|ihre) (?:letzte )?antwort|lo que (?:acabas de decir|dijiste|has dicho|me dijiste|me has dicho)"
    r"|(?:tu|su) (?:[úu]ltima )?respuesta|quello che (?:hai|mi hai) (?:appena )?detto|(?:la tua|la sua) (?:ultima )?risposta"
    r"|o que (?:acabaste de dizer|disseste|me disseste|voc[êe] disse)|(?:a tua|a sua) (?:[úu]ltima )?resposta"
    r"|wat je (?:net |zojuist )?(?:zei|zegde|hebt gezegd)|je (?:laatste )?antwoord"
    # a noun, then "that you told me": "lo stipendio che mi hai detto", "el dato que me diste"
    r"|che (?:mi )?hai (?:appena )?(?:detto|dato|scritto)|que (?:me )?(?:dijiste|diste|has dado|has dicho)"
    r"|que (?:me )?(?:deste|disseste)|que (?:tu m['’]as|vous m['’]avez) (?:dit|donn[ée]e?)"
    r"|(?:den|die|das) du (?:mir )?(?:gerade )?(?:gesagt|genannt|gegeben)\w*)\b",
    re.I,
)
_F_ABOUT = r"(?:sur|concerne|über|sobre|su|over|a|à|o|om)"
# About the speaker: "sur moi", "meine Daten", "mis datos", "i miei dati", "os meus dados", "mijn gegevens".
_F_SELF = re.compile(
    r"\b(?:sur moi|qui me concern\w*|me concernant|über mich|mich betreffend\w*|sobre m[íi]m?|de mí|de mi(?=\s*(?:[,.;:!?]|$))|su di me"
    r"|che mi riguarda|over mij|(?:mes|meine|mis|i miei|os meus|mijn) (?:\w+ )?(?:donn[ée]es|daten|datos|dati"
    r"|dados|gegevens|informations|informationen)"
    r"|o mnie|moich danych|moje dane|o mojej firmie|om mig|mina (?:person)?uppgifter|om mitt f[öo]retag"
    r"|hakk[ıi]mda|ki[şs]isel verilerim\w*|[şs]irketim hakk[ıi]nda"
    # "forget me": "olvídame", "oublie-moi", "vergiss mich", "dimenticami", "esquece-me"
    r"|olv[ií]d(?:a|e|en)me|b[oó]rr(?:a|e|en)me|(?:oublie[sz]?|efface[sz]?|supprime[sz]?)-moi|vergiss mich"
    r"|vergessen sie mich|dimenticami|cancellami|esque[çc](?:e|a)-me|apag(?:a|ue)-me|vergeet (?:mij|me)"
    r"|zapomnij (?:o )?mnie|gl[öo]m mig)\b",
    re.I,
)
# A delete verb with an object clitic after an answer: "bórrala", "elimínalo", "supprime-la", "cancellalo",
# "apaga-o" (delete her / it). Not a forget verb: "olvídalo", "dimenticalo" mean "never mind".
_F_CLITIC = re.compile(
    r"\b(?:b[oó]rra(?:la|las|lo|los)|elim[ií]na(?:la|las|lo|los)|qu[ií]ta(?:la|las|lo|los)|supr[ií]me(?:la|las|lo|los)"
    r"|(?:efface|supprime)[sz]?-(?:la|le|les)|cancella(?:la|lo|li|le)|(?:apaga|apague|remove)-(?:a|o|as|os))\b",
    re.I,
)
# The answer called wrong (a correction asking for removal): "c'est faux", "das stimmt nicht", "es
# mentira", "sbagliato", "está errada", "klopt niet", "nieprawda", "stämmer inte", "yanlış".
_F_WRONG = re.compile(
    r"\b(?:faux|fausse|n['’]importe quoi|erron[ée]e?s?|inexacte?s?|pas vrai|diffamatoire|mensonge"
    r"|stimmt nicht|falsch\w*|unwahr|gelogen|erfunden|verleumd\w*"
    r"|falso|falsa|mentira|incorrect[oa]|err[óo]ne[oa]|equivocad[oa]|est[áa] mal|no es (?:cierto|verdad)"
    r"|inventad[oa]|difamatori[oa]|sbagliat[oa]|non [èe] vero|errat[oa]|inventat[oa]|diffamatori[oa]"
    r"|errad[oa]|n[ãa]o [ée] verdade|incorret[oa]|difamat[óo]ri[oa]"
    r"|klopt niet|onjuist|onwaar|nieprawda|b[łl][ęe]dn\w*|fa[łl]szyw\w*|st[äa]mmer inte|felaktig\w*|osant"
    r"|yanl[ıi][şs]|do[ğg]ru de[ğg]il)(?!\w)",
    re.I,
)
# A question that asks about deleting (an infinitive, no "you"): "¿Cuánto tarda Google en borrar mis datos?"
_F_YOU = re.compile(
    r"\b(?:tu|te|toi|vous|du|dich|dir|sie|t[úu]|puedes|podr[íi]as?|pourrais|pourriez|peux|pouvez|kannst"
    r"|k[öo]nntest|k[öo]nnen|puoi|potresti|pu[òo]|podes|pode|podia|poderia|podias|voc[êe]|je|jij|u|kun|kan du"
    r"|kan ni|mo[żz]esz|czy|m[ıi]s[ıi]n|bilir misin)\b|\b(?:peux|pouvez|pourrais|pourriez)-(?:tu|vous)\b",
    re.I,
)
_F_INFINITIVE = re.compile(r"(?:er|ir|ar|re|en|ać|ić|ąć|eć|ma)$", re.I)


def _asks_about_deleting(message: str) -> bool:
    """A question whose forget/delete verbs are all infinitives and that addresses no "you"."""
    if not message.rstrip().endswith("?") or _F_YOU.search(message):
        return False
    return all(_F_INFINITIVE.search(m.group()) for m in _F_VERB_RE.finditer(message))


_F_DEM_NOUN = re.compile(
    r"\b(?:ce(?!\s+qu)|cet|cette|ces|diese[rsnm]?|ese|esa|esos|esas|este|esta|questo|questa|quel(?!\s+che)|quella|quello(?!\s+che)|esse|essa"
    r"|deze|dit|dat|ten|t[ęe]|tego|tej|den|det|denna|detta|den d[äa]r|det d[äa]r|bu|şu)\s+(?:\w+\s+){0,2}?\w{3,}"
    r"|\b(?:quell|quest|cett)['’]\w{3,}",  # "quell'indirizzo", "quest'informazione"
    re.I,
)
_F_ART = (
    r"(?:(?:o|el|le|il|lo|der|die|das|het)\s+)?"  # "sobre o Eusébio", "über den": an article before a name
)
_F_NAME_AFTER = re.compile(
    rf"(?i:\b(?:{_F_VERB})\s+(?:{_F_ABOUT}\s+)?{_F_ART}|\b{_F_ABOUT}\s+{_F_ART}){_TITLE}{_NAME}"
)
_F_MULTI_NAME = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-ZÀ-ÝĀ-Ž][\w'’\-]+(?:\s+[A-ZÀ-ÝĀ-Ž][\w'’\-]+)+)")


# "tout ce qui concerne la société Vélonova", "über meine Firma Holzwerk Berger": a name a few words
# after the "about" word
_F_NAME_NEAR = re.compile(
    rf"(?i:\b(?:sur|concerne|concernant|über|sobre|acerca de|su|riguardo a|over"
    # "tout ce qui touche à l'affaire X", "tout ce qui a trait à X"
    rf"|touche (?:à|au|aux)|a trait (?:à|au|aux)|li[ée]e?s? (?:à|au|aux)|relati(?:f|ve|fs|ves) (?:à|au|aux))"
    rf"\s+(?:[a-zà-ÿß'’]+\s+){{0,3}}?){_TITLE}{_NAME}"
)


# Turkish puts the name first: "Nazım Hikmet hakkında", "Atatürk'ün hakkında"
_F_NAME_BEFORE = re.compile(rf"(?<![\w'’]){_NAME}(?:['’]\w+)?\s+(?i:hakk[ıi]nda)")


def _f_name(message: str) -> str | None:
    event = EVENT_BEFORE.search(message)
    if event:  # "sur l'affaire Grégory": the event, not the name inside it
        return event_in(message)
    before = [
        *_F_NAME_AFTER.finditer(message),
        *_F_NAME_NEAR.finditer(message),
        *_F_NAME_BEFORE.finditer(message),
    ]
    for m in before:
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
    rf"(?i:(?<![’'])\b(?:oublie|oubliez|oublies|vergiss|vergessen sie|olvida|olvide|olvides|olvidad|olv[ií]date|olv[ií]dese"
    rf"|dimentica|dimentichi|dimenticati|esquece|esque[çc]a|esquece-te|esque[çc]a-se|vergeet|zapomnij|gl[öo]m)\s+"
    rf"(?:(?:{_F_ABOUT}|de|tout sur|alles über|todo sobre|tutto su|tudo sobre)\s+)?"
    rf"{_F_ART})(?:{_NAME}|{EVENT_BEFORE.pattern.replace('(?P<n>', '(?P<e>')})"
)
# an infinitive after "can you": "Peux-tu oublier Victor Hugo ?", "¿Puedes olvidar a X?", "Puoi dimenticare X?"
_F_CAN_FORGET_NAME = re.compile(
    rf"(?i:\b(?:peux-tu|pouvez-vous|pourrais-tu|pourriez-vous|tu peux|vous pouvez|puedes|podr[íi]as|puede|podr[íi]a"
    rf"|puoi|potresti|pu[òo]|potrebbe|podes|pode|podias|poderia)\s+(?:\w+\s+)?(?:oublier|olvidar|dimenticare"
    rf"|esquecer)\s+(?:(?:{_F_ABOUT}|de|tout sur|todo sobre|tutto su|tudo sobre)\s+)?{_F_ART}){_NAME}"
)
_F_FORGET_DEM = re.compile(
    r"(?<![’'])\b(?:oublie|oubliez|vergiss|vergessen sie|olvida|olvide|olvides|dimentica|dimentichi|esquece"
    r"|esque[çc]a|vergeet)\b",
    re.I,
)
# Demonstrative + a word for an answer or a piece of (personal) information: "lösch diese falsche
# Antwort", "borra ese correo", "efface ce numéro"; German compounds end in the noun ("Gehaltsangabe").
_F_ANSWER_NOUN = re.compile(
    r"\b(?:r[ée]ponse|antwort|respuesta|risposta|resposta|antwoord|info\w*|donn[ée]e|dato|dati|dado|dados"
    r"|detalle|dettaglio|detalhe|gegeven|fait|fakt|hecho|fatto|facto|feit"
    r"|adresse|adres|direcci[óo]n|indirizzo|morada|endere[çc]o|num[ée]ro|n[úu]mero|nummer|t[ée]l[ée]phone|telefoon"
    r"|e-?mail|courriel|correo|salaire|gehalt|sueldo|salario|stipendio|sal[áa]rio|salaris|voto|nota|cijfer"
    r"|numer|numr|odpowied|pensj|svar|uppgift|l[öo]n|bilgi|cevab|cevap|yan[ıi]t|numara"
    # a rumour, a claim, an age, a date, a code, a diagnosis: "dieses Gerücht", "quella notizia sull'età"
    r"|notizi|notici|not[íi]ci|nouvelle|rumeur|ger[üu]cht|rumor|boato|pettegolezz|chisme|bulo|l[ée]gende|leyenda"
    r"|leggend|lenda|affirmation|afirmaci|affermazion|afirma[çc]|behauptung|aussage|mensonge|mentira|menzogna"
    r"|l[üu]ge|diagn|et[àa]|edad|[âa]ge|idade|alter|fecha|datum|data|code|c[óo]digo|codice)\w*\b"
    r"|\b\w+(?:angabe|antwort|nummer|adresse|daten)\b",
    re.I,
)


# The verb, then an article and a word for an answer: "Podes esquecer o número da Dona Glória?",
# "Dimentica lo stipendio che mi hai detto", "olvida la dirección"
_F_VERB_ART_NOUN = re.compile(
    rf"(?<![jJ]['’])\b(?:{_F_VERB})\s+(?:\w+\s+)?(?:(?:o|a|os|as|el|la|los|las|le|les|il|lo|gli|der|die|das|den|dem"
    rf"|het|de)\s+|l['’])(?:\w+\s+)?(?:{_F_ANSWER_NOUN.pattern})",
    re.I,
)


# A third-person possessive and a word for an answer: "Oublie son âge", "Lösch seine Adresse", "Borra sus datos"
_F_POSS_NOUN = re.compile(
    rf"\b(?:son|sa|ses|leurs?|sein\w*|ihr\w*|su|sus|suo|sua|suoi|sue|seu|seus|suas)\s+(?:\w+\s+)?(?:{_F_ANSWER_NOUN.pattern})",
    re.I,
)
# A forget/delete verb under a negation ("N'oublie pas son anniversaire", "Vergiss seine Adresse nicht", "No olvides
# su cumpleaños"): a reminder, not a request; cut out before the rules read the message
_F_NEGATED = re.compile(
    r"\b(?:n['’]|ne\s+)(?:\w+\s+)?(?:oublie|oublies|oubliez|efface\w*|supprime\w*)\s+(?:pas|jamais|plus)\b"
    r"|\b(?:vergiss|vergesst|vergessen sie|l[öo]sch\w*)\s+(?:\w+\s+){0,2}?(?:nicht|nie|niemals)\b"
    r"|\bno\s+(?:te\s+)?(?:olvides|olvide|borres|borre)\b|\bnon\s+(?:dimenticare|dimenticarti|cancellare)\b"
    r"|\bn[ãa]o\s+(?:te\s+)?(?:esque[çc]as|esque[çc]a|apagues)\b|\b(?:vergeet|verwijder)\s+(?:\w+\s+)?niet\b",
    re.I,
)


def _dem_near_verb(message: str) -> bool:
    """A demonstrative + noun in the same clause as the forget verb ("Oublie ça, ... : quel temps fait-il"
    has its "quel" in another clause)."""
    for clause in re.split(r"[,.;:!?]", message):
        if _F_VERB_RE.search(clause) and (_F_DEM_NOUN.search(clause) or _F_POSS_NOUN.search(clause)):
            return True
    return False


def _dem_answer(message: str) -> bool:
    """A demonstrative + a word for an answer anywhere in the message ("Dieses Gerücht ... Vergiss das")."""
    return any(_F_ANSWER_NOUN.search(m.group()) for m in _F_DEM_NOUN.finditer(message))


_F_ABOUT_MINE = re.compile(
    rf"\b(?:{_F_ABOUT}|de)\s+(?:mon|ma|mes|mein\w*|mi|la mia|il mio|o meu|a minha|mijn)\s+(?:{BUSINESS})\b",
    re.I,
)
# What the model knows said to have to go, with no imperative: "Tout ce que tu sais sur X doit disparaître",
# "alles über X muss weg", "todo lo que sabes de X debe desaparecer", "tutto su X deve sparire"
_F_SHOULD_GO = re.compile(
    r"\b(?:doit|doivent|devrait|devraient|muss|m[üu]ssen|soll|sollte|debe|deben|deber[íi]a|tiene que|deve|devono"
    r"|dovrebbe|moet|moeten)\s+(?:\w+\s+)?(?:dispara[îi]tre|partir|[êe]tre (?:effac|supprim|oubli|retir)\w*|weg"
    r"|verschwinden|gel[öo]scht werden|vergessen werden|desaparecer|borrarse|eliminarse|ser (?:borrad|eliminad)\w*"
    r"|sparire|scomparire|essere (?:cancellat|eliminat|dimenticat)\w*|sumir|ser apagad\w*|verdwijnen"
    r"|verwijderd worden|vergeten worden)\b",
    re.I,
)


# Not wanting to be remembered: "Je ne veux pas que tu te souviennes de moi", "No quiero que me recuerdes",
# "Ich will nicht, dass du dich an mich erinnerst", "Non voglio che ti ricordi di me", "Não quero que te lembres de mim"
_F_NO_REMEMBER = re.compile(
    r"\bne (?:veux|voudrais|souhaite) (?:pas|plus) que (?:tu|vous) (?:te|vous) souvien\w+ de"
    r"|\bnicht,? dass (?:du|sie) (?:dich|sich) (?:\w+\s+){0,3}?erinner\w*|\bno quiero que (?:me )?recuerdes"
    r"|\bnon voglio che (?:tu )?ti ricordi|\bn[ãa]o quero que (?:te )?lembres|\bwil niet dat je (?:je )?(?:\w+\s+)?herinnert",
    re.I,
)


def foreign_verb(message: str) -> bool:
    """A fr/de/es/it/pt/nl/pl/sv/tr forget or delete verb anywhere in the message (routes the turn to the LLM)."""
    return bool(_F_VERB_RE.search(message))


def foreign_request(message: str, n_turns: int = 1) -> bool:
    """An fr/de/es/it/pt/nl/pl/sv/tr forget-delete request in imperative form with a target signal."""
    message = _F_NEGATED.sub(" ", _F_PERFECT.sub(" ", message))
    known = _F_ALL_ABOUT.search(message) or _F_SELF.search(message)
    if known and _F_SHOULD_GO.search(message) and not message.rstrip().endswith("?"):
        return True
    if _F_NO_REMEMBER.search(message) and not message.rstrip().endswith("?"):
        return True
    if not _F_VERB_RE.search(message) or _F_HOWTO.match(message) or _asks_about_deleting(message):
        return False
    if _F_HOWTO_TAIL.search(message):
        return False
    dem = bool(
        n_turns and (_dem_near_verb(message) or _dem_answer(message) or _F_VERB_ART_NOUN.search(message))
    )
    return bool(
        (n_turns and (_F_WRONG.search(message) or _F_CLITIC.search(message)))
        or _F_MEMORY.search(message)
        or _F_ALL_ABOUT.search(message)
        or _F_SELF.search(message)
        or (dem and (_F_FORGET_DEM.search(message) or _F_ANSWER_NOUN.search(message)))
        or _F_FORGET_NAME.search(message)
        or _F_CAN_FORGET_NAME.search(message)
        or (n_turns and _F_YOU_SAID.search(message))
    )


def foreign_target(message: str) -> tuple[str | None, bool]:
    """(target, points back at an answer) for a non-English request; (None, False) if no verb."""
    if not (_F_VERB_RE.search(message) or _F_SHOULD_GO.search(message) or _F_NO_REMEMBER.search(message)):
        return None, False
    if _F_SELF.search(message):
        return self_name(message), self_name(message) is None
    if (
        _dem_near_verb(message)
        or _F_VERB_ART_NOUN.search(message)
        or _F_YOU_SAID.search(message)
        or (_F_MEMORY.search(message) and not _F_ALL_ABOUT.search(message) and not _f_name(message))
    ):
        return None, True  # "supprime cette réponse", "bórralo de tu memoria": the answer just given
    name = quoted_title(message) or _f_name(message)  # "sulla canzone «X»": the title, not the kind
    own = self_name(message)
    # "über meine Firma Holzwerk Berger": the business, not "Firma ..."; "C'est Apolline Marchal ... oublie
    # tout sur ma boutique, Les Jardins d'Apolline": the business the request is about, not the speaker
    if name and own and (name.endswith(own) or _F_ABOUT_MINE.search(message)):
        return (own_business(message) if _F_ABOUT_MINE.search(message) else None) or own, False
    if name:
        return name, False
    return None, True
