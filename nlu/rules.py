"""Normalise SMS text and match it against hand-written intent rules (en, es, fr)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from nlu.intents import (
    AFFIRM,
    DENY,
    GREET,
    HUMAN,
    RESCHEDULE,
    THANKS,
)

# Work is bounded whatever arrives: a long message is read as its first HEAD_CHARS and
# last TAIL_CHARS characters, where an intent or a trailing "STOP" would be.
HEAD_CHARS = 500
TAIL_CHARS = 100
# Phrases are only looked for near the start: intent lives in the first sentences.
PHRASE_WINDOW = 500

STAR = "⭐"
THUMBS_UP, THUMBS_DOWN, CHECK, CROSS, OK_HAND, PRAY = "👍", "👎", "✅", "❌", "👌", "🙏"
HEART = "❤"
# Symbols that carry meaning survive normalisation as tokens of their own.
_SYMBOLS = {
    STAR: STAR, "🌟": STAR, "★": STAR, "✪": STAR,
    THUMBS_UP: THUMBS_UP, THUMBS_DOWN: THUMBS_DOWN, OK_HAND: OK_HAND, PRAY: PRAY,
    CHECK: CHECK, "✔": CHECK, "☑": CHECK, "✓": CHECK,
    CROSS: CROSS, "❎": CROSS, "✖": CROSS, "✗": CROSS, "✘": CROSS,
    HEART: HEART, "♥": HEART, "💕": HEART, "💖": HEART, "💗": HEART, "😍": HEART, "🥰": HEART,
}  # fmt: skip
STAR_CHARS = frozenset(c for c, canon in _SYMBOLS.items() if canon == STAR)
SYMBOL_TOKENS = frozenset(_SYMBOLS.values())


# Dropped rather than spaced: apostrophes join ("don't" -> "dont"), accents left loose by
# NFKD go ("arrêt" -> "arret"), and invisible format characters, variation selectors
# and skin tones cannot split or hide a word.
_DELETE = re.compile(
    "['`\u2019\u2018\u02bc\u00ad\u200b-\u200f\u2060-\u2064\ufe00-\ufe0f\ufeff"
    "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\U0001f3fb-\U0001f3ff]+"
)
# "4.5" and "10:30" stay one token ("4_5", "10_30") rather than two sentences.
_IN_NUMBER = re.compile(r"(?<=\d)[.:](?=\d)")
# Sentence breaks; a hyphen is one only beside a space, so "opt-out" stays one sentence.
_BREAK = re.compile(r"[!?;,.:\n\r¡¿\u2013\u2014…]+|\s-+|-+\s")
_STRETCHED = re.compile(r"([^\W\d_])\1{2,}")
_JUNK = re.compile(r"[^\w/|⭐👍👎✅❌👌🙏❤]+")


@dataclass(frozen=True, slots=True)
class Text:
    """A message prepared for matching."""

    raw: str  # the start of the message, surrounding whitespace removed
    offset: int  # where `raw` starts in the original message
    norm: str  # casefolded, accent-free tokens joined by single spaces
    head: str  # the start of `norm`, after one space, that phrase rules look at
    segments: tuple[str, ...]  # the first and last sentences of `norm`


def normalise(text: str) -> Text:
    """Prepare `text` for matching: casefold, strip accents, emoji and punctuation."""
    stripped = text.strip()
    offset = len(text) - len(text.lstrip())
    raw = stripped[:HEAD_CHARS]
    scanned = stripped
    if len(stripped) > HEAD_CHARS + TAIL_CHARS:
        scanned = f"{raw}\n{stripped[-TAIL_CHARS:]}"
    # Decompose before folding so full-width and mathematical letters fold too; an
    # acute accent used as an apostrophe would decompose to a space, so it goes first.
    folded = unicodedata.normalize("NFKD", scanned.replace("\u00b4", "'")).casefold()
    if folded.isascii():
        folded = folded.replace("'", "").replace("`", "")
    else:
        folded = _DELETE.sub("", folded)
        for variant, symbol in _SYMBOLS.items():
            if variant in folded:
                folded = folded.replace(variant, f" {symbol} ")
    folded = folded.replace("|", " ").replace("_", " ").replace("/", " / ")
    if _STRETCHED.search(folded):  # "nooo", "hiii", "pleeease": no word needs three in a row
        folded = _STRETCHED.sub(r"\1", folded)
    if "." in folded or ":" in folded:
        folded = _IN_NUMBER.sub("_", folded)
    marked = _JUNK.sub(" ", _BREAK.sub(" | ", folded))
    parts = marked.split("|")
    if len(parts) > 16:  # only the first and last sentences are checked one by one
        parts = parts[:12] + parts[-4:]
    segments = tuple(s for s in (" ".join(part.split()) for part in parts) if s)
    norm = " ".join(marked.replace("|", " ").split())
    return Text(raw, offset, norm, f" {norm[:PHRASE_WINDOW]}", segments)


def word_set(words: str) -> frozenset[str]:
    """Return the space-separated `words` as a set."""
    return frozenset(words.split())


def _words(*alternatives: str) -> str:
    return "(?:" + "|".join(alternatives) + ")"


def phrases(*alternatives: str) -> re.Pattern[str]:
    """Compile regex alternatives that match whole words of a Text's head."""
    # Starting with a literal space lets the regex engine jump from word to word
    # instead of trying every alternative at every character.
    return re.compile(" (?:" + "|".join(alternatives) + r")\b")


# A match right after a negation ("don't stop", "I do not want to opt out") is not meant.
_NEG = "dont|do not|never|not|didnt|doesnt|wont|no need to"
_GAP = (
    "want|wanna|need|have|plan|mean|ever|please|pls|to|really|just|going|gonna|trying|try"
    "|asking|meaning|looking|planning|intending"
)
NEGATED = re.compile(rf"\b(?:{_NEG})(?: (?:{_GAP}))* $")
NEGATED_OR_CANT = re.compile(rf"\b(?:{_NEG}|cant|cannot|can not)(?: (?:{_GAP}))* $")


def find(pattern: re.Pattern[str], text: str, negated: re.Pattern[str] = NEGATED) -> bool:
    """Return True if `pattern` occurs in `text` other than right after a negation."""
    for match in pattern.finditer(text):
        start = match.start() + 1  # just after the space that starts every match
        if not negated.search(text, max(0, start - 48), start):
            return True
    return False


# --- conversational intents ---

HELP_PHRASES = phrases(
    "(?:need|want|get|some) (?:some |more )?(?:help|info|information)",
    "help me(?! (?:a lot|so much|lots|loads|heaps|remember|stay|keep|not forget|plan))"
    "|help (?:please|pls)",
    "can (?:you|u|someone|somebody|anyone) help|more info(?:rmation)?|how do i (?:use|reply|get)",
    "(?:who|what) (?:is|s|are) (?:this|that|these|you|u)|whats this|who dis|how does this work",
    "who (?:this|it) is|who (?:sent|sends|is sending) (?:this|these|them)",
    "what do i do|que es esto|quien es|quien eres|qui est ce|cest quoi|qui etes vous",
    "how (?:often|many times) (?:will|do|are|would|does) (?:you|u|yall|they|these|this)",
    "how (?:do|can) i (?:change|update|switch|add|edit|manage)|info (?:on|about)"
    "|(?:can|could|may) i (?:change|update|switch) (?:the|my|which) (?:phone |cell |mobile )?number"
    "|(?:what|whats) (?:is |does )?\\w+ (?:for|stand for)$"
    "|what (?:does|do|is) (?:\\w+ ){1,3}?(?:mean|stand for)"
    "|(?:is|are) (?:this|these|you|u|it|the \\w+|this \\w+) (?:\\w+ )?(?:legit|legitimate"
    "|a scam|scam|spam|fake)",
    "who (?:is|s|keeps|keep) (?:texting|txting|messaging|sending|contacting)",
    "how (?:do|does) (?:the|these|this|your) (?:\\w+ )?(?:work|works)",
)

# Asking what these messages are, who sends them and how often: sure enough to decide.
HELP_SURE = phrases(
    "how (?:often|many times) (?:will|do|are|would|does) (?:you|u|yall|they|these|this)",
    "who (?:is|s|keeps|keep) (?:texting|txting|messaging|sending|contacting)",
    "(?:is|are) (?:this|these|you|u) (?:\\w+ ){0,6}?(?:legit|legitimate|a scam|scam|spam|fake)",
    "c est qui|cest qui|qui c est|je ne connais pas ce numero|no (?:conozco|reconozco) este"
    " numero|(?:dont|do not) (?:know|recognize|recognise) (?:this|the|your) number",
    "quien es|quien eres|quien me (?:escribe|manda|envia)|qui est ce|qui etes vous"
    "|qui (?:m|me) (?:ecrit|envoie)",
    "(?:msg|message|data) (?:and|&|n) data rates|what is this number|whose number is this",
)

_DAY = _words(
    "mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun|monday|tuesday|wednesday|thursday|friday",
    "saturday|sunday|tomorrow|tmrw|tmr|tonight|next \\w+|this weekend|the weekend|weekend",
    "lunes|martes|miercoles|jueves|viernes|sabado|domingo|manana|pasado manana",
    "lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|demain",
)
# A day or a clock time someone might propose instead: "Friday", "3pm", "10:30", "noon".
_WHEN = _words(
    _DAY,
    "\\d{1,2}(?: ?(?:am|pm|a m|p m|h\\d*)|(?:_\\d{2})(?: ?(?:am|pm))?)",
    "(?:the )?\\d{1,2}(?:st|nd|rd|th)|\\d{1,2} / \\d{1,2}",
    "noon|midday|(?:the |in the )?(?:morning|afternoon|evening)",
)
DAY_ONLY = re.compile(rf"(?:on |maybe |how about |what about )?{_DAY}(?: instead)?")
RESCHEDULE_PHRASES = phrases(
    "re ?sched\\w*|reprogram\\w*|reagend\\w*|rebook\\w*|report(?:ons|ez)",
    "reporter (?:le|la|mon|ma)",
    "(?:change|move|push|switch|shift|bump|postpone|delay|modify) (?:it|this|that|my|the|our"
    "|appt|appointment|time|date|day|back|forward|to|up|me|us)(?! (?:\\w+ )?(?:address|number"
    "|email|name|card|payment|password|details|info|preferences|order|box|phone)\\b)",
    "(?:different|another|other|new|diff|later|earlier|alternative|alternate) (?:time|day|date"
    "|slot|week|appointment|appt|hour|times|days|dates)",
    "(?:can|could|may|shall) (?:we|i|you|u|it) (?:do|make it|come|go|try|book|meet|get|switch to"
    "|change to|move to|have it|schedule|come in|be) (?:it |this |that )?(?:on |in |at |for )?"
    f"(?:{_WHEN}|another|a different|a later|later|earlier|the \\d+|\\d+)",
    f"(?:(?:how|what) about|maybe|perhaps) (?:on |at )?(?:{_WHEN}|the \\d+|\\d+|later|earlier"
    "|another)",
    f"{_WHEN} (?:instead|would be better|is better|works better|would work better)",
    "(?:at|for|to|around|by) \\d{1,2} instead",
    "(?:works?|would work|suits?|would suit|would be|is) better(?: for (?:me|us))?$",
    "(?:can|could) only (?:come|do|make it|be there|make|go)|postpone\\w*",
    f"(?:is|are|would|does|hows|how is) {_WHEN} (?:\\w+ )?(?:available|possible|open|free|ok|okay"
    "|work|better)",
    "(?:anything|something|availability|openings?|slots?|appointments|times?) (?:available |open "
    f"|free )?(?:on |for |in |at |this )?{_WHEN}",
    "(?:otro|otra) (?:dia|hora|horario|fecha|momento|vez)|cambiar (?:la |mi |de )?(?:cita|hora"
    "|fecha|dia)|mas tarde|(?:un )?autre (?:jour|moment|horaire|heure|date|creneau)|plus tard",
    f"cambiar(?:la|lo)? (?:\\w+ )?(?:para|a|al|por) (?:el )?{_WHEN}|mover (?:la |mi )?cita",
    "changer (?:le |la |l |mon |ma |de )?(?:rendez vous|rdv|heure|date|horaire|jour)",
    "decal(?:er|ons|ez)|repouss(?:er|ons|ez)|(?:deplacer|reporter|avancer)(?: \\w+)? (?:a|au|en)"
    " (?:\\w+ )?(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|demain|\\d+|la semaine)",
    "(?:deplacer|decaler|avancer|repousser) (?:le |la |l |mon |ma |notre )?(?:rendez vous|rdv"
    "|seance|visite|cours)|(?:mover|pasar|cambiar|aplazar|posponer|adelantar|atrasar)(?:la|lo)?"
    " (?:la |mi |el |nuestra )?(?:cita|turno|reserva|clase|sesion)",
)
LATER = phrases("later|earlier")
# "Stopped by earlier": a visit that happened, not a time asked for.
PAST_VISIT = phrases(
    "(?:stopped|came|dropped|called|went|swung|popped|was|were|tried) (?:\\w+ ){0,2}?earlier",
    "(?:stop|drop|swing|pop|come) (?:by|in|over) (?:\\w+ ){0,2}?later",
)
_BAD = (
    "no good|not good|bad|not great|tough|hard|rough|busy|out|full|impossible|not possible"
    "|doesnt work|does not work|wont work|will not work|not work|no bueno|too early|too late"
    "|not ideal|not ok|not okay|pas possible|no es posible"
)
# A time turned down for a reason ("thurs no good", "can't do the 10th, car's in the
# shop") and another one offered after it is a reschedule, not a no.
REJECTED_TIME = phrases(
    f"{_WHEN}s? (?:\\w+ )?(?:is |are |would be |will be )?(?:{_BAD})",
    f"(?:not|cant|cannot|can not|cant do|cannot do|cant make|cannot make|cant make it|wont make"
    f" it|unable to do|unable to make)(?: it)?(?: on| at)? (?:{_WHEN}|today)s?",
    "(?:cant|cannot|can not|wont|couldnt) (?:make it|do it|do|come|be there)(?: at| on)?"
    " \\d{1,2}\\b",
    "(?:today|\\d{1,2}(?: ?(?:am|pm))?) (?:is |s |would be )?(?:too early|too late|no good|not good"
    "|bad|doesnt work|wont work|not possible|pas possible)",
    f"{_WHEN} no (?:puedo|podre|me queda|me conviene|me sirve|va)|no puedo (?:el |este |ese )?"
    f"{_WHEN}",
    f"{_WHEN} (?:ca |ce )?(?:ne )?(?:va|me convient|marche|m arrange|me va|est) pas",
    f"(?:cancel|drop|skip|miss) (?:my |the |our )?(?:\\w+ )?{_WHEN}",
    f"(?:that|this|ese|este|ce) (?:day|time|date|dia|hora|jour)(?: la)? (?:\\w+ )?(?:is |s )?"
    f"(?:{_BAD}|doesnt work|wont work|no (?:puedo|me queda|me sirve)|ne (?:va|me convient) pas)",
)
OFFERED_TIME = re.compile(
    f" (?:{_WHEN}|another|other|otro|otra|autre|week after|following week|instead|sometime"
    "|any ?time|after \\d{1,2}|before \\d{1,2}|\\d{1,2}$)s?\\b"
)
GOODBYE = phrases(
    "(?:see|talk|speak|catch|chat|text|txt|call|get back)(?: to| with)? (?:you|u|ya|me) later",
    "(?:talk|speak|chat|catch up) later|ttyl|laters",
)
DENY_PHRASES = phrases(
    "no thanks?|no thank you|not really|i dont think so|not interested|unfortunately (?:not|no)",
    "(?:cant|cannot|can not|couldnt|wont|will not|unable to|not able to|not going to|not gonna)"
    " (?:\\w+ )?(?:make|come|attend|go|be there|do it|keep|show|join)",
    "(?:not|wont be|will not be|am not|im not) (?:coming|attending|available|able to come"
    "|confirmed|confirming)",
    "(?:wont|will not|not)(?: going to| gonna)? be able to (?:make|come|attend|go|be there|do)",
    "no puedo|no podre|no voy a poder|no asistire|je ne (?:peux|pourrai|pourrais|viendrai) pas",
    "pas disponible|je ne viendrai pas",
    f"(?:cant|cannot|can not|couldnt) do {_WHEN}",
)
CANCEL = phrases("cancel\\w*|cancelar|anular|annul\\w*")
# "I'll cancel my other plans", "does that cancel my appointment?": not a no.
NOT_A_CANCEL = phrases(
    "cancel\\w* (?:my |the |all |some )?(?:other|plans|work|meeting|class)",
    "cancel\\w* (?:my |the |this |that |an |one |a )?(?:\\w+ )?(?:item|items|order|purchase"
    "|delivery|subscription box|payment|charge|box|kit|meal|bundle|shipment|package|parcel)\\b"
    "|cancel culture|uncancel\\w*",
    "(?:card|order|flight|subscription|account|payment|plan|membership|netflix|gym) (?:got |was "
    "|has been |is |were )?cancel\\w*",
    "cancel (?:button|link|option|fee|policy|tab|page)|cancel\\w* (?:the |my )?(?:\\w+ ){1,3}(?:and"
    "|but) keep",
    "cancel(?:led|ed) (?:my|our|the) (?!appointment|appt|booking|reservation|visit|session|class)"
    "\\w+",
    "cancel\\w* (?:the |my |that |this |those |these )?(?:\\w+ ){1,5}?(?:on|from|in|off|to)"
    " (?:my |the |our )?(?:\\w+ )?order\\b",
    "cancel\\w* (?:the |my |that |those |these )?(?:\\w+ ){0,2}(?:on|from|in|off) (?:my|the|our)"
    " (?:order|pizza|cart|basket|bag|delivery|box|sandwich|burger|salad|bill|receipt)",
    "(?:does|will|would|did|could|can) (?:that|this|it) cancel",
)
# What follows a score when the reason comes straight after it: "2 the wait was long".
REASON_START = word_set(
    "the my our it its they she he food service staff wait everything very really super so too"
    " not but great good bad terrible awful awesome amazing excellent nice ok okay poor slow fast"
    " quick friendly rude because bc cause nobody no never"
)
# Words after a score that say nothing about it: "3 I guess".
RATING_TAIL = word_set("i guess maybe tops ish probably honestly tbh overall or so")
# Words before a score that say nothing about it: "solid 4", "probably a 4", "un 5".
RATING_LEAD = word_set(
    "a an solid maybe probably prob honestly def definitely like about around easily only just"
    " barely overall tbh hmm um eh id say i give it its a un une una uno"
)
AFFIRM_PHRASES = phrases(
    "sounds? (?:good|great|perfect|fine|ok|okay|like a plan)|works (?:for|4) (?:me|us)",
    "that (?:works|is fine|s fine|is perfect|s perfect|s great|is great|sounds good)",
    "(?:see|c) (?:you|u|ya|yall) (?:then|there|soon|tomorrow|on \\w+|at \\w+)",
    f"(?:see|c) (?:you|u|ya|yall) (?:this |next )?{_DAY}$",
    "(?:i|we) (?:will|shall) be there|ill be there|well be there|will be there|be there",
    "(?:i |we )?confirm(?:ed|ing)?|count me in|im in|i am in|im coming|i am coming|ill come",
    "cant wait|can not wait|looking forward|parfait|perfecto",
    "de acuerdo|nos vemos|ahi estare|je serai la|ca marche|entendido",
)
HUMAN_PHRASES = phrases(
    "(?:speak|talk|chat|speaking|talking) (?:to|with) (?:a |an |the |some |your |ur )?(?:real "
    "|actual |live )?(?:person|human|someone|somebody|agent|representative|rep|operator|staff"
    "|manager|receptionist|doctor|nurse|office|people|team|man|woman|being|billing|department"
    "|dept|support|sales|front desk|desk|dentist|pharmacist|owner)",
    "(?:real|actual|live) (?:person|human|agent|people)|representative|operator|human being",
    "agent|human",
    "(?:is this|are you|am i talking to|r u|are u|is it) (?:a |an )?(?:bot|robot|machine"
    "|automated|ai|computer|real person|human|real)",
    "(?:call|phone|ring) me|give me a call|can (?:someone|somebody|you) call",
    "(?:someone|somebody|anyone|a person) (?:i|we) (?:can|could) (?:ask|talk|speak|chat)",
    "(?:connect|transfer|put) me (?:through )?(?:to|with)",
    "hablar con (?:alguien|una persona|un agente|un humano)|persona real|llamame|llameme",
    "parler a (?:quelquun|une personne|un agent|un humain)|appelez moi|appelle moi",
)
THANKS_PHRASES = phrases(
    "thanks|thank you|thank u|thankyou|thx|thnx|thanx|ty|tysm|tyvm|cheers",
    "appreciate (?:it|you|that)|much appreciated|gracias|merci|danke",
)
GREET_START = re.compile(
    r" (?:hi|hello|hey|hiya|howdy|yo|heya|hellooo*|good (?:morning|afternoon|evening|day)|gm"
    r"|hola|bonjour|salut|buenos dias|buenas(?: tardes| noches)?|bonsoir|coucou)\b"
)

# Whole-message replies that need no phrase rule.
SHORT: dict[str, tuple[str, float]] = {}
for _intent, _confidence, _phrases in (
    (AFFIRM, 0.95, "yes|y|yeah|yea|ya|yah|yep|yup|ye|yas|yse|yes please|sure|ok|okay|okey|oki|okie"
     "|k|kk|confirm|confirmed|correct|perfect|great|alright|all right|absolutely|definitely"
     "|of course|will do|sounds good|that works|works for me|see you then|i confirm|yes confirm"
     f"|{THUMBS_UP}|{CHECK}|{OK_HAND}|{HEART}|si|oui|claro|ja|vale|daccord|bien sur|por supuesto"),
    (AFFIRM, 0.85, "right|fine|cool|awesome|got it|gotcha|no problem|no worries|np|works"
     "|affirmative|roger|roger that|copy that|10 4"
     "|ok thanks|okay thanks|ok thank you|yes thanks|yes thank you|okie dokie|okey dokey"),
    (DENY, 0.95, "no|n|nope|nah|naw|nay|negative|never|non|nein|not really|no way|no gracias"
     f"|non merci|{THUMBS_DOWN}|{CROSS}|no puedo|not interested|decline|no can do"),
    (DENY, 0.85, "cant|cannot|i cant|i cannot|not today|no sorry|sorry no|no i cant"),
    (RESCHEDULE, 0.95, "r|reschedule|resched|rescheduling|another time|different time"
     "|another day|different day|other time|otro dia|otra hora|mas tarde|plus tard|reprogramar"),
    (RESCHEDULE, 0.85, "later|change|move it|earlier"),
    (HUMAN, 0.95, "agent|human|representative|rep|operator|real person|live person"
     "|live agent|a human|a person|person|someone|customer service|call me"),
    (THANKS, 0.95, "thanks|thank you|ty|thx|thnx|thanx|tysm|tyvm|thank u|thankyou"
     "|thanks so much|thank you so much|many thanks|cheers|gracias|muchas gracias|merci"
     f"|merci beaucoup|danke|appreciate it|much appreciated|{PRAY}"),
    (GREET, 0.95, "hi|hello|hey|hiya|howdy|yo|heya|hey there|hi there|hello there"
     "|good morning|good afternoon|good evening|gm|hola|bonjour|salut|buenos dias"
     "|buenas tardes|buenas noches|buenas|bonsoir|coucou"),
):  # fmt: skip
    for _phrase in _phrases.split("|"):
        SHORT.setdefault(_phrase, (_intent, _confidence))
STRETCHED_YES = re.compile(r"y+e+s+|y+e+a+h*|y+u+p+|y+e+p+|o+k+|o+k+a+y+|s+u+r+e+|k+|y+a+s+")
STRETCHED_NO = re.compile(r"n+o+|n+o+p+e+|n+a+h+")
YES_WORDS = word_set(
    f"yes y yeah yea yep yup ya sure ok okay absolutely definitely si oui claro confirmed"
    f" correct {THUMBS_UP} {CHECK} {OK_HAND}"
)
NO_WORDS = word_set(f"no n nope nah non {THUMBS_DOWN} {CROSS}")
NOT_NO = word_set(
    "problem prob worries worry doubt need more longer one idea clue pares paren dejes dejen paro"
    " arretez arrete"
)
NEGATORS = word_set("not no dont cant cannot wont never didnt nope nah")
LEAD_FILLER = word_set("hi hello hey oh um uh umm well and so haha lol ah")

# --- ratings ---

# French "un"/"une" are left out: they are far more often "a" than a score of one.
NUMBER_WORDS: dict[str, int] = {
    word: value
    for words in (
        "one two three four five six seven eight nine ten",
        "uno dos tres cuatro cinco seis siete ocho nueve diez",
        "- deux trois quatre cinq six sept huit neuf dix",
    )
    for value, word in enumerate(words.split(), start=1)
    if word != "-"
}
_NUM = _words(r"\d{1,2}", *NUMBER_WORDS)
_NOT_A_TIME = r"(?! ?(?:am|pm|a m|p m|oclock|o clock|h|hrs?|hours?|mins?|minutes?|days?|weeks?))"
FRACTION = re.compile(
    rf" ({_NUM}) (?:/|out of|of|sur|de) (5|10|five|ten|cinco|diez|cinq|dix)\b(?! ?/)"
)
STARS_WORD = re.compile(rf" ({_NUM}) (?:stars?\b|estrellas?\b|etoiles?\b|{STAR})")
GIVE = re.compile(
    rf" (?:give|gave|giving|rate|rated|rating|score|scored|id say|i would say|i say|id go with"
    rf"|ill go with|going with|go with|je (?:donne|mets|dirais)|le (?:doy|daria|pongo)|doy)\b"
    rf"(?: \S+){{0,3}}? ({_NUM})\b{_NOT_A_TIME}"
)


def number(token: str) -> int | None:
    """Return the integer a token spells ("4", "four", "cuatro"), or None."""
    if token.isdecimal() and len(token) <= 2:
        return int(token)
    return NUMBER_WORDS.get(token)
