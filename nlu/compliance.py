"""Opt-out, opt-in and help: carrier keywords and revocation in plain words, decided by rules."""

from __future__ import annotations

import re
from dataclasses import replace

from nlu import consent, framing, keywords
from nlu.intents import HELP, OPT_IN, OPT_OUT, OPT_OUT_KEYWORDS
from nlu.rules import NEGATED, SYMBOL_TOKENS, Text, find, normalise, phrases, word_set

Hit = tuple[str, float]


_TWILIO_OUT = frozenset(k.casefold() for k in OPT_OUT_KEYWORDS)
OPT_OUT_EXACT = keywords.OPT_OUT_WORDS | {
    "opt out", "stop all", "unsub", "stop it", "stop this", "stop them", "unsubscribe me",
    "opt me out", "remove me", "i quit", "quit it", "revoke consent", "arret", "arreter", "parar",
    "baja", "de baja", "dar de baja", "darme de baja", "desuscribir", "desuscribirme", "desabonner",
    "no more", "enough", "enough already", "cut it out", "knock it off", "go away", "remove",
    "delete me", "dont text", "do not text", "dont text me", "do not contact", "dont contact",
    "dont message", "do not message", "no texts", "no more texts", "arretez", "arrete", "basta",
    "halt", "cease", "stahp", "stop these", "stop those", "make it stop", "make them stop",
    "make these stop", "i want out", "i want off", "want out", "get me out", "get me off", "no mas",
    "desabonnez", "desabonnez moi", "desinscrire", "desinscrivez moi", "unsubscribe all", "spam",
    "stopit", "nomore",
    "basta ya", "ya basta", "para", "paren",
}  # fmt: skip
# These stay opt-outs when they are one sentence of a longer message ("Who is this? STOP");
# "cancel" and "end" do not, as "Cancel. I'm sick" is about an appointment.
OPT_OUT_SENTENCE = OPT_OUT_EXACT - {"cancel", "end"}
OPT_IN_EXACT = keywords.OPT_IN_WORDS | {
    "subscribe", "resubscribe", "re subscribe", "subscribe me", "opt in", "optin", "opt me in",
    "opt back in", "start again", "sign me up", "sign me back up", "darme de alta", "alta",
    "add me back", "re add me", "readd me", "put me back", "put me back on", "i want back in",
    "want back in",
}  # fmt: skip
HELP_EXACT = (
    keywords.HELP_WORDS
    | word_set("information")
    | {"help me", "more info", "i need help", "need help"}
)

_OPENING_KEYWORDS = frozenset(k for k in OPT_OUT_EXACT if " " not in k)
_KEYWORD_WORDS = frozenset(
    word for phrase in OPT_OUT_EXACT | OPT_IN_EXACT | HELP_EXACT for word in phrase.split()
)
# Words that may surround a keyword without changing it: "STOP PLEASE", "pls stop now".
_FILLER = phrases(
    "please|pls|plz|plez|plse|now|right now|immediately|asap|already|again|just|all|sorry",
    "thanks|thank you|thank u|thx|ty|ok|okay|yes",
    "por favor|porfa|por fa|gracias|ya|ahora|svp|sil vous plait|sil te plait|merci|maintenant",
    "(?:texting|txting|messaging|sending|contacting)(?: me)?",
    "(?:the |these |your |ur |of |my )?(?:texts?|txts?|messages?|msgs?|sms|notifications?"
    "|alerts?|reminders?)",
)


def bare_keyword(segment: str) -> str:
    """Return `segment` without filler words, emoji or repeats: "stop stop pls 🙏" -> "stop"."""
    words = [w for w in dict.fromkeys(segment.split()) if w not in SYMBOL_TOKENS]
    if len(words) > 12 or _KEYWORD_WORDS.isdisjoint(words):
        return ""  # a keyword with a little filler is a short message naming the keyword
    rest = _FILLER.sub(" ", f" {' '.join(words)}").split()
    return " ".join(dict.fromkeys(rest)) if rest else " ".join(words)


_REPEATS = re.compile(r"(.)\1+")


def _squeeze(word: str) -> str:
    # Most words have no doubled letter: the search is cheaper than a substitution.
    return _REPEATS.sub(r"\1", word) if _REPEATS.search(word) else word


# Whole-message keywords typed in a hurry: "STOPP", "Stpo", "unsusbcribe", "cancle". No
# English word is one swap of neighbouring letters away from these, so none is caught.
_TYPO_TARGETS = frozenset(_squeeze(k) for k in _TWILIO_OUT if len(k) >= 4)


# Doubling or swapping letters keeps the set of letters a keyword is made of.
_TYPO_LETTERS = frozenset(frozenset(k) for k in _TYPO_TARGETS)


_LEET = str.maketrans("013457@$", "oieastas")


def _unleet(word: str) -> str:
    """Return a word written with digits for letters in letters: "st0p" -> "stop"."""
    if word.isalpha() or not any(c.isalpha() for c in word):
        return word
    return word.translate(_LEET)


def _stretched_keyword(word: str) -> bool:
    """Return True for a one-word opt-out typed in a hurry, drawn out or in digits: "Stpo",
    "stahhp", "St0p"."""
    word = _unleet(word)
    return _is_typo_keyword(word) or _squeeze(word) in OPT_OUT_EXACT


def _is_typo_keyword(word: str) -> bool:
    """Return True if `word` is an opt-out keyword with doubled or swapped neighbour letters."""
    word = _squeeze(word)
    if not 4 <= len(word) <= 16 or not word.isalpha():
        return False
    if word in _TYPO_TARGETS:
        return True
    swaps = (word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1))
    return any(_squeeze(swapped) in _TYPO_TARGETS for swapped in swaps)


_TEXTS = (
    "texts?|txts?|messages?|msgs?|sms|reminders?|notifications?|alerts?|spam|promos?|promotions?"
    "|offers|deals|ads|coupons|updates"
)
OPT_OUT_PHRASES = phrases(
    "(?:stop|quit) (?:\\w+ )?(?:texting|txting|messaging|msging|sending|contacting|emailing"
    "|spamming|bothering|harassing|bugging|calling|pinging)",
    "(?:stop(?:ping)?|quit(?:ting)?) (?:(?:all |the |these |those |your |ur |this )"
    f"(?:\\w+ ){{0,2}}?)?"
    f"(?:{_TEXTS})",
    "\\btcpa\\b|(?:one more (?:time|text|txt|message|msg)|again) and (?:\\w+ ){0,4}?(?:lawyer"
    "|attorney|sue|suing|court|fcc|ftc|report)",
    "(?:im |i am |ill |i will |gonna |going to |i m )(?:report|reporting) (?:you|u|yall|this"
    " number|your (?:company|business|number|texts|messages))(?: \\w+)? to (?:the )?(?:fcc|ftc"
    "|bbb|attorney general|authorities|police|cops|carrier|better business bureau)",
    "how (?:do|can|could) (?:i|we) (?:stop|turn off|block|get rid of) (?:these|them|those|this"
    f"|all (?:this|these|of this|of these)|(?:the|these|your|ur|all the) (?:\\w+ )?(?:{_TEXTS}))$",
    "i (?:just )?want out(?: of (?:this|these|here|it))?$",
    "(?:can|could|will|would) (?:you|u|yall|ya) (?:please |pls |just |kindly )?stop(?: it| already"
    "| now| please| pls)?$",
    "(?:get|be|been) removed from (?:this|the|your|ur|that|all) (?:\\w+ )?(?:list|lists|texts"
    "|messages)",
    "(?:take|remove|delete|drop|erase|get|unsubscribe|unenroll|unenrol) me (?:off|from|out of)"
    f"(?:$| (?:\\w+ ){{0,3}}?(?:list|lists|{_TEXTS}|database|system|contacts?|mailing|this|it"
    "|here|these|that|there|them|you|everything))",
    "(?:remove|delete|erase|lose|forget|drop) (?:my|this) (?:phone |cell |mobile |contact )?"
    "(?:number|info|information|details|contact)",
    "unsu(?:b|sc)\\w*|optout|opt(?:ed|ing)? (?:me )?out",
    "(?:dont|do not|never|stop|quit) (?:ever )?(?:text|txt|message|msg|contact|sms|spam|bother"
    "|email)(?:ing)? (?:me|this number|my number|us)(?! (?:before|after|until|till|til|on|at"
    "|during|in the|early|late|so|this early|while|when|about|if))",
    "(?:dont|do not|never) (?:send|sent) (?:me |us |this number )?(?:any ?more|more|further"
    "|any further|anything else|another)(?! than)",
    f"no (?:more|longer|further) (?:\\w+ )?(?:{_TEXTS}|contact)",
    "(?:dont|do not|no longer|never) (?:want|wish|like) (?:to (?:get|receive|be getting) )?"
    f"(?:\\w+ ){{0,2}}?(?:{_TEXTS})(?! to (?:stop|end|go away|be over|cease))",
    f"(?:not|no longer) interested in (?:\\w+ ){{0,2}}?(?:{_TEXTS})",
    "(?:rather|prefer(?: to)?|want to|wish to) not (?:get|receive|be getting|be sent|be texted)"
    f"(?: (?:\\w+ ){{0,2}}?(?:{_TEXTS}|anything))?",
    f"off (?:this|the|your|ur|that|these|all|of your|of the) (?:\\w+ )?(?:list|lists|{_TEXTS})",
    "(?:remove|take|delete|drop)(?: me| us| this number| my number)? (?:off|from) (?:the |your "
    "|ur |this |that |all |any |every )?(?:mailing |texting |text |contact |sms )?(?:list|lists"
    "|database)",
    f"(?:dont|do not|no longer) (?:want|need) these(?: {_TEXTS})?(?: any ?more| no more)?$",
    f"stop (?:receiving|getting) (?:(?:these|those|your|any|all|the) )?(?:{_TEXTS})",
    "stop (?:receiving|getting) (?:these|those|them)$",
    "(?:asked|told) (?:you|u|ya|yall|y all) (?:\\w+ ){0,2}?(?:to stop|not to (?:text|message"
    "|contact|send))",
    f"(?:tired|sick|done) (?:of|with) (?:getting |receiving )?(?:\\w+ )?(?:{_TEXTS})",
    "(?:can|could|would|will) (?:you|u) (?:please |pls )?not (?:text|txt|message|msg|contact"
    "|email)(?:ing)? (?:me|this number)(?! (?:before|after|until|till|on|at|during|so|when))",
    "block(?:ing|ed)? (?:this number|your number|you|u)|report(?:ing|ed)? (?:this |you |it )?"
    "(?:as|for) spam|this is spam",
    "(?:want|wanna|like) you to stop|(?:want|wanna|like) to be removed|leave me (?:alone|be)",
    "cancel (?:all |these |those |your |ur )(?:\\w+ )?(?:texts|txts|messages|msgs|sms"
    "|notifications|alerts)(?! (?:for|about|on|at|to) )",
    "(?:end|cancel|quit|stop) (?:my |the |this |your |all )?(?:subscription|membership"
    "|texting service|text service|sms service)",
    "(?:revoke|revoking|withdraw|withdrawing|rescind) (?:my |all |any )?(?:consent|permission)",
    "i revoke|(?:you have|u have|youve|uve|you got|this is|its) (?:the |a )?wrong"
    " (?:number|person)",
    "wrong (?:number|person|phone|cell)(?: \\w+)?$",
    "(?:darme|darse|dar|dame|denme|deme|doy) de baja|cancelar (?:la |mi )?suscripcion",
    "no (?:me )?(?:envien|manden|escriban|mande|envie|mandes|envies|escribas|contacten|molesten)"
    " (?:mas|mensajes|textos|sms)",
    "(?:deja|dejen|dejar|deje) de (?:enviar|mandar|escribir|contactar|molestar)\\w*",
    "(?:ya )?no (?:quiero|deseo) (?:recibir )?(?:\\w+ )?(?:mensajes|textos|sms|recordatorios|spam"
    "|publicidad|promociones|ofertas)",
    "je ne (?:veux|souhaite|desire) (?:pas|plus) (?:de |recevoir )?(?:de |vos |ces |les |d )?"
    "(?:messages|sms|textos|rappels|pubs?|publicites?|spam|offres)",
    "desuscrib\\w*|desabonn\\w*|desinscri\\w*|ne m?(?:e )?(?:contactez|ecrivez|envoyez) plus",
    "je ne veux plus (?:recevoir )?(?:de |vos |ces |les )?(?:messages|sms|textos|rappels)",
    "arret(?:er|ez)? (?:les |vos |ces )?(?:messages|sms|textos|envois|rappels)",
    "d?arret(?:e|er|ez) de m(?:envoyer|ecrire|contacter|harceler|texter|appeler)",
    f"stop with (?:the|these|those|this|that|your|ur|all)(?: \\w+)? (?:{_TEXTS})"
    "|stop with (?:the|these|those|this|that|your|ur|all|it|them)(?: already| please| pls)?$",
    "no need to (?:text|txt|message|msg|contact|send|email)(?: me| us| this number)?(?! back)",
    "(?:blow\\w*|blew) up my (?:phone|cell|line)",
    "(?:rather|prefer|like|want|wish)(?: to)? not(?: to)? (?:get|receive|be getting|be sent"
    "|be texted|be contacted)",
    "why (?:do|does|are|r|is|would|did) (?:you|u|ya|yall|you guys|u guys|this number|someone"
    "|people) (?:\\w+ )?(?:keep|still|always|even) (?:\\w+ )?(?:texting|txting|messaging|msging"
    "|sending|contacting|bothering|bugging|spamming)",
    *consent.REVOCATIONS_ES_FR,
    "(?:take|get) me of$",
    "(?:want|wanna|need) (?:to (?:be|get) )?(?:out|off) (?:of )?(?:this|the|your|ur|these|that"
    "|all|all of|all these) (?:\\w+ )?(?:list|lists|texts|messages|msgs|spam|crap)",
    "(?:want|need|like|wish) (?:these|them|this|it|all this|the \\w+|your \\w+|ur \\w+) to"
    " (?:stop|end|cease|go away)",
    "(?:take|get|remove|delete|drop|erase) (?:my|this) (?:phone |cell )?number (?:off|out)",
    "(?:this is|its|thats|this|that is) harass\\w*",
    "make (?:it|them|these|this|the \\w+|these \\w+|your \\w+|ur \\w+) stop",
    "(?:chill|relax|ease up|calm down|lay off) (?:with|on) (?:the|these|your|ur|all the|all these)"
    " (?:texts|messages|msgs|reminders|notifications)",
    "(?:im|i am|were|we are) good (?:on|without) (?:the |these |your |ur |any )?(?:texts|messages"
    "|msgs|reminders|notifications)",
    "why (?:do|am|does|are) (?:i|we) (?:keep |still |always )(?:getting|receiving)",
    f"(?:dont|do not|never) (?:send|sent)(?: me| us| this number)? (?:any |more |these |those "
    f"|your |ur )?(?:{_TEXTS})",
    "(?:you|u|yall|you guys) (?:can|may|should|could) stop(?: now| it| already| sending| texting"
    "| messaging)?(?: thanks| thank you| please| pls)?$",
    "no (?:more )?(?:texts|txts|messages|msgs|sms)(?: please| pls| plz| thanks| thx)?$",
    "never (?:gave|given) (?:you |u |yall )?(?:my )?(?:permission|consent|my number)",
    "(?:never|didnt|did not) (?:sign(?:ed)? up|subscribe\\w*|opt(?:ed)? in|agree\\w*|consent\\w*"
    "|ask(?:ed)?) (?:for|to) (?:this|these|any|your|ur|the)(?: texts?| messages?| msgs| list"
    "| spam| crap| stuff| sms)?$",
)
# Looser signs of revocation. They never decide alone: the classifier must also read the
# message as an opt-out. "stop" is left to the rules, as it is mostly "stop by" or "can't
# stop smiling" once they have had their say; message words count only in the plural, and
# offers or coupons not at all ("I want the coupons").
REVOCATION_CUES = phrases(
    "unsu\\w*|opt\\w* out|remove me|take me off|leave me|no longer|any ?more|enough|done with"
    "|tired of|sick of|consent|wrong number|block\\w*|spam\\w*|harass\\w*|my number|this number",
    "(?:the|these|those|your|ur|all|of|with|more|any|no) (?:texts|txts|messages|msgs|sms"
    "|reminders|notifications|alerts)",
    "baja|dejen|deja de|mensajes|desuscri\\w*|desabonn\\w*|desinscri\\w*|arret\\w*|plus de",
    "too (?:many|much|often)|im out|keep (?:texting|messaging|sending)|still (?:texting|messaging"
    "|sending|getting)|blowing up|ya no|no mas|basta|retirer|supprim\\w*",
)
# A cue right after a negation or a kind word ("don't remove me", "thanks for the texts")
# is undone, and then so is the whole message: it is asking to stay.
_CUE_UNDONE = re.compile(
    r"\b(?:dont|do not|never|not|cant|cannot|keep|love|like|enjoy|appreciate|thanks for"
    r"|thank you for|helpful|useful)(?: \w+){0,3} $"
)
_QUESTION = phrases(
    "how|what|whats|when|where|which|why|who|whos|is|are|am|do|does|did|will|would|should|can i"
    "|could i|may i"
)
# "STOP" written in capitals inside an otherwise lower-case message is meant as the keyword.
LOUD_STOP = re.compile(r"(?<![A-Za-z])(?:STOP|STOPALL|UNSUBSCRIBE|OPTOUT|OPT-OUT)(?![A-Za-z])")
# "STOP at the front desk?", "STOP by Tuesday": the verb, followed by where or when.
_STOP_AS_VERB = re.compile(
    r"[ \t]+(?:at|by|in|on|here|there|near|outside|inside|over|for|before|after|off at|off for"
    r"|and (?:get|grab|pick|see|say|ask)|sign|signs|light|lights|button|bar|watch)\b",
    re.IGNORECASE,
)
# A trailing "stop" ("who is this stop") unless the word before makes it ordinary English.
NOT_BEFORE_TAIL_STOP = word_set(
    "dont do cant cannot wont never not didnt doesnt shouldnt couldnt wouldnt to bus the a an"
    " next last first one full will would gonna pit rest truck train tram non my your his her"
    " our their that every each no i ill we you they he she it lets should must may might"
    " could can shall sign before after at of or and gotta need needs want wanna whistle"
)
OPT_IN_PHRASES = phrases(
    "resubscribe|re subscribe|subscribe|opt (?:me )?(?:back )?in|optin|sign me (?:back )?up",
    "start (?:texting|messaging|sending) me|unstop|add me back|darme de alta|reabonner",
    "start (?:getting|receiving) (?:\\w+ )?(?:texts|messages|reminders|alerts)",
    "(?:get|getting|receive|receiving) (?:\\w+ )?(?:texts|messages|reminders|alerts) again",
    "put (?:me|us|my number|this number) back|add (?:me|us|my number|this number) back"
    "|re ?add (?:me|us|my number)|back on (?:the|your|ur) (?:\\w+ )?list|turn (?:my |the )?(?:texts"
    "|messages|reminders|alerts) back on",
    "(?:send|text) me (?:the )?(?:texts|messages|reminders) again|(?:you|u) can (?:text|message)"
    " me again|want (?:the |my )?(?:texts|messages|reminders) back",
    "volver a recibir|seguir recibiendo|suscribirme|reinscri\\w*|reabonn\\w*",
    "(?:recevoir|avoir) (?:a |de )?nouveau|de nouveau recevoir",
    "want (?:the |my |your |ur )?(?:\\w+ ){0,2}?(?:texts|messages|reminders|alerts|deals|offers"
    "|promos|coupons) again",
    "(?:want|need|like|get) (?:the |my |your |ur |all )?(?:\\w+ )?(?:texts|messages|reminders"
    "|alerts|notifications) back",
    "(?:resume|restart|reactivate|re enable|reenable|turn back on|switch back on) (?:the |my "
    "|your |ur |all )?(?:\\w+ )?(?:texts|messages|reminders|alerts|notifications|sms)",
)
_OTHER_LISTS = re.compile(
    r" (?:(?:wait(?:ing)?|wish|shopping|grocery|guest|cancell?ation|priority|to do|todo|reading)"
    r" lists?|waitlists?|wishlists?)\b"
)
# What else someone may be taken off: "remove me from the 3pm class".
_OTHER_THINGS = re.compile(
    r"(?<= me)(?: off| from) (?:the|this|that|my|your|ur|tomorrows|todays|next|\w+s)"
    r" (?:\w+ )?(?:class|classes|appointment|appt|booking|slot|schedule|session|reservation|order"
    r"|group|team|roster|calendar|event|call|meeting|shift|trip|tour|lesson|course|program)\b"
)
# Spanish and French for "I don't want to leave" or "don't stop": the words of leaving
# follow a negation that is theirs ("No quiero, dejen de escribirme" still leaves).
_STAYING = phrases(
    "no (?:quiero|deseo|voy a) (?:darme|dar me|darme) de baja|no (?:quiero|deseo) (?:dejar de"
    " recibir|cancelar|desuscribirme|salir de)",
    "no (?:pares|paren|dejes|dejen|deje|para) de (?:enviar|mandar|escribir|mandar)\\w*",
    "(?:ne )?veux pas (?:arreter|me desabonner|me desinscrire|que (?:ca|vous) (?:s )?arret\\w*)"
    "|(?:n )?arret(?:e|ez) pas",
    # "dale de baja a mi tarjeta vieja": a card, not the messages
    "de baja (?:a |al )?(?:mi |la |el |su |esta |este )?(?:\\w+ )?(?:tarjeta|cuenta|pedido|orden"
    "|plan|pago|direccion)",
)
# A Twilio keyword next to "yes"/"ok" ("Yes, cancel") answers the appointment question,
# so only these two keywords lose their keyword meaning in that company.
_AMBIGUOUS_KEYWORDS = frozenset({"cancel", "end"})
_ASSENT = frozenset({"yes", "y", "ok", "okay", "sure", "yeah"})
# Saying a keyword again, angrily: "How many times do I have to say stop?"
_SAY = "(?:say|text|txt|reply|send|type|tell you|write)(?: \\w+)?"
_KEY = "(?:stop|unsubscribe|unsub|quit|end|cancel|baja|arret)"
_INSISTS = phrases(
    f"how many (?:times|more times) (?:\\w+ ){{0,4}}?{_SAY} {_KEY}",
    f"(?:didnt i|did i not|i already|ive already|i have already) (?:\\w+ )?{_SAY} {_KEY}",
    f"(?:do|must|should) i (?:\\w+ ){{0,3}}?{_SAY} {_KEY} (?:\\w+ )?(?:again|twice|\\d+ times"
    "|three times|every time|over and over|a million times)",
)
_HOW_DO_I = phrases("how (?:do|can) (?:i|we)")
_IF_I = phrases("(?:and |but |so )?if (?:i|we)")
_OPT_IN_DOUBT = phrases("why|who|never|didnt|did not|without|how did")
_IF = phrases("what if|what happens|wondering|curious")
# What the messages cost, or what their small print means.
# A question about cost is about the messages only if it names them: "is it free to
# reschedule?" is not.
_TEXTING = phrases(
    "texts?|texting|txts?|messages?|messaging|msgs?|sms|reply|replying|respond\\w*|these|data"
)
COST_QUESTIONS = phrases(
    "(?:msg|message|messaging|data) (?:and|&|n) data rates|data rates",
    "(?:is|are) (?:it|this|texting|replying|these) (?:\\w+ )?free(?: to (?:reply|text|answer))?",
    "(?:will|would|do|does|is|are|am) (?:i |it |this |these |they |texting |replying )?(?:\\w+ )?"
    "(?:be |get |getting )?(?:charged|charge|cost|billed)",
    "how (?:much|many) (?:do|does|will|would) (?:these|this|it|they|texts?|messages?) cost",
)


def match(t: Text) -> Hit | None:
    """Match opt-out, opt-in and help: keywords, keyword sentences, then phrases."""
    t = _without_decoys(t)
    norm = t.norm
    if not norm:
        return None
    words = frozenset(norm.split())
    if framing.undoes_opt_out(norm, words):
        return OPT_IN, 0.95
    if framing.reports_opt_out(norm) or find(_INSISTS, f" {norm}"):
        return OPT_OUT, 0.95
    unnamed = framing.without_named_keywords(t.raw, words)
    named = unnamed is not None
    if unnamed is not None:  # "it says reply STOP to opt out": the keyword is only named
        t = _without_decoys(normalise(unnamed))
        norm = t.norm
        if not norm:
            return None
    if (
        find(consent.MARKETING_OPT_OUT, t.head) or consent.REMINDERS_ONLY.search(t.head)
    ) and not _asks(t):
        return OPT_OUT, 0.95
    tokens = norm.split()
    bare = bare_keyword(norm)
    if bare not in OPT_OUT_EXACT and any(c.isdigit() for c in norm):
        spelt = " ".join(_unleet(token) for token in tokens)
        if bare_keyword(spelt) in OPT_OUT_EXACT:
            bare = bare_keyword(spelt)  # "st0p pls"
    if 3 <= len(tokens) <= 12 and all(len(token) == 1 for token in tokens):
        bare = "".join(tokens)  # "S T O P", "s.t.o.p"
    if norm in OPT_OUT_EXACT or (
        bare in OPT_OUT_EXACT and not (bare in _AMBIGUOUS_KEYWORDS and _ASSENT & set(tokens))
    ):
        return OPT_OUT, 1.0
    keywords = [bare_keyword(s) for s in t.segments] if len(t.segments) > 1 else []
    if any(keyword in OPT_OUT_SENTENCE for keyword in keywords):
        return OPT_OUT, 1.0
    asked = "?" in t.raw
    supposed = _SUPPOSED_LATER if _LATER.search(t.head) else _SUPPOSED
    if find(OPT_OUT_PHRASES, t.head, supposed if asked else _NEGATED_OR_ASKED) or (
        _removes_number(t)
    ):
        return OPT_OUT, 0.95
    # "if I unsubscribe can I come back?": what opting out would do, so help answers it.
    wonders = asked and (
        find(OPT_OUT_PHRASES, t.head, _NEGATED_OR_ASKED)
        or find(consent.MARKETING_OPT_OUT, t.head, _NEGATED_OR_ASKED)
    )
    if _loud_stop(t) or _tail_stop(tokens) or (len(tokens) == 1 and _stretched_keyword(norm)):
        return OPT_OUT, 0.9
    if bare in OPT_IN_EXACT:
        return OPT_IN, 1.0
    if bare in HELP_EXACT:
        return HELP, 1.0
    for keyword in keywords:
        if keyword in OPT_IN_EXACT:
            return OPT_IN, 1.0
        if keyword in HELP_EXACT:
            return HELP, 1.0
    if find(OPT_IN_PHRASES, t.head) and not _OPT_IN_DOUBT.search(t.head):
        return OPT_IN, 0.95
    costs = find(COST_QUESTIONS, t.head) and _TEXTING.search(t.head) is not None
    if wonders or (named and _wonders(t)) or costs:
        return HELP, 0.9  # "what happens if I reply STOP?", "will I be charged for these?"
    return None


def keyword_alone(t: Text) -> bool:
    """Return True if the message or one of its sentences is an opt-out keyword by itself."""
    if bare_keyword(t.norm) in OPT_OUT_EXACT:
        return True
    return len(t.segments) > 1 and any(bare_keyword(s) in OPT_OUT_SENTENCE for s in t.segments)


def opens_with_keyword(t: Text) -> bool:
    """Return True if the message starts with an opt-out keyword: "STOP sorry wrong reply"."""
    first = t.norm.split(maxsplit=1)[0] if t.norm else ""
    if first in _OPENING_KEYWORDS:
        return True
    return len(first) >= 4 and frozenset(first) in _TYPO_LETTERS and _is_typo_keyword(first)


# "does that end my membership?" asks what would happen; it does not ask for it.
_NEGATED_OR_ASKED = re.compile(
    rf"{NEGATED.pattern}|\bwho (?:would|wants to|would want to)(?: ever)? $"
    r"|\b(?:does|will|would|did|could|can|should) (?:that|this|it|replying"
    r"|texting|that also|it also) $"
)
# "if I unsubscribe can I come back?", "how would I opt out later?": asked, not asked for.
# "how do I stop these texts?" is asked for: it wants the texts it gets to stop.
_SUPPOSED = re.compile(
    rf"{_NEGATED_OR_ASKED.pattern}|\b(?:will|would|does|did|can|could|is) $"
    r"|\b(?:if|what if) (?:i|we)(?: \w+)?(?: (?:just|ever|later|also|still|only))? $"
)
# "how would I unsubscribe later, if I ever wanted to?" supposes too, when it says later.
_SUPPOSED_LATER = re.compile(
    rf"{_SUPPOSED.pattern}|\bhow (?:would|could) (?:i|we)(?: \w+)?(?: (?:ever|later))? $"
)
_LATER = phrases("later|someday|some day|if i ever|in the future|eventually|one day")
_REMOVE_IT = phrases("(?:remove|delete|erase|lose) (?:it|that|this|them)(?: please| pls| now)?$")
_ABOUT_NUMBER = phrases("(?:my|this|your) (?:phone )?(?:number|info|contact)|my (?:cell|phone)")


def _removes_number(t: Text) -> bool:
    """Return True for "how did you get my number? delete it": the "it" is the number."""
    last = t.segments[-1] if len(t.segments) > 1 else ""
    return (
        bool(last)
        and _REMOVE_IT.search(f" {last}") is not None
        and _ABOUT_NUMBER.search(t.head) is not None
    )


def _asks(t: Text) -> bool:
    """Return True for a question; "how do I stop the promos?" asks for what it names."""
    if "?" not in t.raw or _HOW_DO_I.match(t.head):
        return False
    return _QUESTION.match(t.head) is not None or _IF_I.match(t.head) is not None


def _wonders(t: Text) -> bool:
    """Return True for a question, asked with a question mark or a question word."""
    return "?" in t.raw or _QUESTION.match(t.head) is not None or _IF.search(t.head) is not None


def mentions_revocation(t: Text) -> bool:
    """Return True if the message shows a sign of revoking consent and is not a question."""
    # Revocations asked as questions ("can you stop texting me?") are the rules' to find.
    if "?" in t.raw or _QUESTION.match(t.head):
        return False
    if _without_decoys(t) is not t:  # "remove me from the 3pm class"
        return False
    head = t.head
    found = False
    for cue in REVOCATION_CUES.finditer(head):
        start = cue.start() + 1  # just after the space that starts every match
        if _CUE_UNDONE.search(head, max(0, start - 48), start):
            return False
        found = True
    return found


def _without_decoys(t: Text) -> Text:
    """Return `t` with what only looks like leaving blanked: lists that are not ours ("take
    me off the waiting list") and a wish to stay said in Spanish or French ("no quiero darme
    de baja", "je ne veux pas arrêter les rappels")."""
    head = t.head
    if " me " in head:
        head = _OTHER_THINGS.sub(" from other", head)
    if " list" in head:
        head = _OTHER_LISTS.sub(" other", head)
    if " no " in head or " pas" in head or " baja" in head:
        head = _STAYING.sub(" staying", head)
    return t if head is t.head else replace(t, head=head)


def _loud_stop(t: Text) -> bool:
    """Return True for "STOP" in capitals within a message that is not all capitals."""
    raw = t.raw
    found = LOUD_STOP.search(raw)
    if found is None or raw == raw.upper() or _STOP_AS_VERB.match(raw, found.end()):
        return False
    before = normalise(raw[: found.start()]).norm[-48:]
    return not NEGATED.search(f"{before} ")


def _tail_stop(tokens: list[str]) -> bool:
    """Return True for a message ending in "stop" that is not ordinary English."""
    return (
        len(tokens) >= 2
        and tokens[-1] in ("stop", "stopall")
        and tokens[-2] not in NOT_BEFORE_TAIL_STOP
    )
