"""What frames a reply's words: a phone's reaction quoting a message, a keyword taken back.

A reaction ("Liked “… Reply STOP to opt out”", "Reacted 👍 to “…”") quotes someone
else's words, so nothing in the quote is the sender's: it reads as the reaction alone. A
correction right after a keyword ("STOP sorry wrong reply, yes please") means the words
after it, not the keyword.
"""

from __future__ import annotations

import re

from nlu.intents import AFFIRM, DENY, FALLBACK
from nlu.rules import find, word_set

Hit = tuple[str, float]

# The sender's own reaction carries this much meaning, the quote none.
REACTION_CONFIDENCE = 0.85
# A reaction with no yes or no in it is decided: it is not a reply to read further.
NO_REPLY_CONFIDENCE = 0.9

_OPEN_QUOTE = "[\"\u201c\u201d'\u2018\u2019\u00ab\u201e]"
_POSITIVE = (
    "liked|loved|le gusto|le gustó|le encanto|le encantó|a aimé|a aime|a adoré|a adore"
    "|gefällt|gefaellt"
)
_NEGATIVE = "disliked|no le gusto|no le gustó|n['\u2019]a pas aim[eé]"
_NEUTRAL = (
    "laughed at|emphasi[sz]ed|questioned|removed an? \\S+(?: \\S+)? from|se rio de|se rió de"
    "|enfatizo|enfatizó|cuestiono|cuestionó|a ri de|a souligné|a souligne|a mis en doute"
    "|a mis en évidence|a mis en evidence"
)
# Android phones write "Reacted 👍 to “…”"; the emoji decides what it means.
_EMOJI_VERB = (
    "reacted (?:with )?(?P<emoji>\\S{1,12}) to|reaccionó (?P<emoji_es>\\S{1,12}) a"
    "|reacciono (?P<emoji_es2>\\S{1,12}) a|a réagi (?:avec )?(?P<emoji_fr>\\S{1,12}) à"
    "|a reagi (?:avec )?(?P<emoji_fr2>\\S{1,12}) a"
)
_REACTION = re.compile(
    rf"\s*(?:(?P<positive>{_POSITIVE})|(?P<negative>{_NEGATIVE})|(?P<neutral>{_NEUTRAL})"
    rf"|{_EMOJI_VERB})\s*(?:{_OPEN_QUOTE}|(?:an?|une?) (?:image|photo|picture|video|message"
    r"|attachment|gif|sticker|audio message)\b|(?<=to )(?=[A-Z0-9]))",
    re.IGNORECASE,
)
_GOOD_EMOJI = frozenset("👍❤♥😍🥰👌✅💯🙌😊🙂💕💖💗👏")
_BAD_EMOJI = frozenset("👎❌")


def reaction(raw: str) -> Hit | None:
    """Return what a phone's reaction to a quoted message means, or None if it is not one."""
    if not raw or raw[0] not in "LlDdEeQqRrSsAaNnCcG":
        return None
    found = _REACTION.match(raw)
    if found is None:
        return None
    if found["positive"]:
        return AFFIRM, REACTION_CONFIDENCE
    if found["negative"]:
        return DENY, REACTION_CONFIDENCE
    emoji = next((found[g] for g in ("emoji", "emoji_es", "emoji_es2", "emoji_fr", "emoji_fr2")
                  if found[g]), "")  # fmt: skip
    if any(c in _GOOD_EMOJI for c in emoji):
        return AFFIRM, REACTION_CONFIDENCE
    if any(c in _BAD_EMOJI for c in emoji):
        return DENY, REACTION_CONFIDENCE
    return FALLBACK, NO_REPLY_CONFIDENCE


_APOSTROPHES = str.maketrans("\u2019\u2018`\u00b4", "''''")
# A keyword the sender takes back at once. Only these say so; "sorry" alone does not
# ("Stop, sorry, not interested" still opts out).
_TAKEN_BACK = (
    r"wrong (?:reply|thread|chat|convo|conversation|text|message|msg|button|window|app|group"
    r"|key|one|contact)|wrong (?:person|number) to (?:text|reply|send)|j/?k"
    r"|(?<!not )(?<!no )(?<!you )(?<!u )(?<!ya )(?:just |only )?(?:kidding|joking)"
    r"|(?:oh |o )?wait (?:that|this) (?:was|wasnt|is|isnt)"
    r"|ignore (?:that|this|it|my last|the last)|disregard(?: that| this| it| my last)?"
    r"|(?:i )?meant to (?:say|type|send|reply|text|write|put|hit|press|answer)"
    r"|(?:i )?meant(?= (?:yes|no|y|n|c|r|ok|okay|sure|confirm|\d))|meant for (?:someone|somebody"
    r"|my \w+|another \w+|a different \w+)(?: else)?|not meant for you|auto ?correct(?:ed)?"
    r"|typo|nvm|never ?mind|wait,? no"
    r"|(?:was|is|that was|that s) for (?:someone|somebody) else|(?:was|is|wasn'?t) (?:not )?for you"
    r"|didn'?t mean (?:that|this|it)\b"
    r"|me equivoqu[eé]|equivocad[oa]|je me suis tromp[eé]e?|pas pour vous"
    r"|(?:cancel|scratch|strike|forget|ignore) that"
)
_CORRECTION = re.compile(
    rf"\b(?:{_TAKEN_BACK}|sorry|oops|whoops|oopsie|my bad|perd[oó]n|d[ée]sol[ée]e?)\b"
    r"[\s.,!:;\-\u2014\u2013)]*",
    re.IGNORECASE,
)
_STRONG = re.compile(rf"\b(?:{_TAKEN_BACK})\b", re.IGNORECASE)


# A keyword asked back and answered at once: "Unsubscribe? never! these saved me $40".
_RHETORICAL = re.compile(
    r"\W*[^\W\d_]+\W*\?+[\s!.,]*(?:never|no way|nope|nah|as if|not a chance|hell no|heck no"
    r"|why would i|lol no|haha no|not happening|no thanks|are you (?:kidding|crazy|joking))\b",
    re.IGNORECASE,
)


# What someone who refuses to leave says next: "these coupons saved me $40", "love these".
_FOND = re.compile(
    r"\b(?:love|loving|like|enjoy|saved?|great|best|awesome|amazing|keep (?:them|em|'em|these)"
    r"|too good|deals? (?:are|is)|coupons? (?:are|is)|me encanta\w*|j'?adore|g[eé]nial)",
    re.IGNORECASE,
)


def rhetorical(raw: str) -> bool:
    """Return True if a message opening with a keyword asks it, says no to it and goes on
    fondly: "Unsubscribe? never! these coupons saved me $40".

    Call it for a message that opens with an opt-out keyword. Without the fondness ("STOP?
    Why would I? You text 5 times a day") it is still the keyword.
    """
    found = _RHETORICAL.match(raw)
    return (
        found is not None
        and _FOND.search(raw, found.end()) is not None
        and _ABOUT_MESSAGES.search(raw, found.end()) is None
    )


# A keyword cried out in delight: "Stop it, 40% off sofas?!", "Arrête, c'est trop mignon !"
_DELIGHT = re.compile(
    r"\b(?:cute|adorable|mignon\w*|gorgeous|beautiful|obsessed|incredible|incroyable|g[eé]nial"
    r"|magnifique|lind[oa]|precios[oa]|hermos[oa]|can'?t wait|so good|trop (?:beau|bien"
    r"|bon|mignon)|\d+ ?% off)",
    re.IGNORECASE,
)
# Only these keywords are cried out in delight; and not together with a complaint.
_CRIED = re.compile(r"\W*(?:stop(?: it)?|arr[eê]te(?:z)?|para|basta)\b", re.IGNORECASE)
_COMPLAINT = re.compile(
    r"\b(?:not|no|never|won'?t|wont|don'?t|dont|can'?t|too much|too many|enough|every ?day"
    r"|ignor\w*|true|again|another|encore|otro|otra|plus|rien|nada|pas|spam\w*|annoying|stupid"
    r"|waste)\b",
    re.IGNORECASE,
)
# ...unless the words after it say something of the messages: "Stop, I'd love to never hear
# from you again" is still an opt-out.
_ABOUT_MESSAGES = re.compile(
    r"\b(?:never|again|any ?more|no more|hear from|contact\w*|texts?|texting|messages?|messaging"
    r"|msgs?|sms|spam\w*|number|list|unsub\w*|opt\w*)\b",
    re.IGNORECASE,
)


def delighted(raw: str) -> bool:
    """Return True if a message opening with a keyword goes on in delight, not revocation.

    Call it for a message that opens with an opt-out keyword.
    """
    return (
        _CRIED.match(raw) is not None
        and _DELIGHT.search(raw) is not None
        and _ABOUT_MESSAGES.search(raw) is None
        and _COMPLAINT.search(raw) is None
    )


def correction(raw: str) -> tuple[int, bool] | None:
    """Return where the reply meant instead starts, and whether the keyword was surely
    taken back ("wrong chat", "jk") or only apologised for ("sorry", "oops").

    Call it for a message that opens with an opt-out keyword; None when nothing follows it.
    """
    text = raw.translate(_APOSTROPHES)
    ends = [found.end() for found in _CORRECTION.finditer(text)]
    if not ends:
        return None
    return ends[-1], _STRONG.search(text) is not None


# --- keywords named rather than sent: "it says reply STOP to opt out", "I texted stop" ---

_KEYWORD = (
    "stop|stopall|unsubscribe|cancel|end|quit|optout|opt out|start|unstop|help|info|baja|parar"
    "|alto|arr[eê]t|d[eé]sabonner|alta|ayuda|aide"
)
_NAMING = (
    "reply|replied|replying|respond|responded|responding|text|texted|texting|txt|txted|send|sent"
    "|sending|type|typed|typing|say|said|saying|says|write|wrote|put|enter|entered|answer"
    "|answered|hit|press|pressed|msg|message|messaged|responder|responda|envie|envia|escriba"
    "|r[eé]pondez|r[eé]pondre|envoyez|tapez"
)
_MEANT = (
    "opt[\\s-]?out|unsubscribe|unsub|end|cancel|stop|quit|leave|be removed|cancelar|salir"
    "|darse de baja|dejar de recibir|d[eé]sabonner|arr[eê]ter|vous d[eé]sinscrire"
)
# A keyword someone writes about: after a verb of replying, or followed by what it does.
_NAMED = re.compile(
    rf"\b(?:{_NAMING})(?:\s+back)?(?:\s+(?:with|con|avec))?(?:\s+(?:the\s+word|el|la|le))?"
    rf"[\s\"\u201c\u201d'\u2018\u2019:*(]*(?:{_KEYWORD})\b[\"\u201d\u2019'*)]?(?:\s+(?:to|para|pour)\s+(?:{_MEANT})\b)?"
    rf"|\b(?:{_KEYWORD})[\"\u201d\u2019'*)]?\s+(?:to|para|pour)\s+(?:{_MEANT})\b"
    rf"|\bwhat(?:\s*'?\s*s|\s+is|\s+does|\s+do|\s+are)\s+(?:the\s+word\s+)?[\"\u201c\u2018']?"
    rf"(?:{_KEYWORD})\b"
    rf"|\b(?:does|do|will|would|did)\s+(?:the\s+word\s+)?[\"\u201c\u2018']?(?:{_KEYWORD})"
    r"[\"\u201d\u2019']?\s+(?:do|mean|work|cancel|end|stop|remove|affect|delete|unsubscribe)\b",
    re.IGNORECASE,
)


# Most messages name no keyword: their words say so before any regex runs.
_KEYWORD_WORDS = word_set(
    "stop stopall unsubscribe cancel end quit optout opt start unstop help info baja parar alto"
    " arret desabonner alta ayuda aide"
)


def without_named_keywords(raw: str, words: frozenset[str]) -> str | None:
    """Return `raw` without keywords it names rather than sends, or None if it names none.

    `words` are the message's normalised words.
    """
    if _KEYWORD_WORDS.isdisjoint(words) or _NAMED.search(raw) is None:
        return None
    return _NAMED.sub(" … ", raw)


_OPT_WORD = (
    "stop|stopall|unsub\\w*|opt\\w* out|optout|baja|desuscri\\w*|desabonn\\w*|arret\\w*|parar|alto"
)
_UNDO = (
    "by mistake|by accident|accidentally|accidently|on accident|mistakenly|wrong button"
    "|por error|por equivocacion|por accidente|accidentalmente|sin querer|par erreur"
    "|par accident|sans faire expres"
)
# Said of an opt-out, these take it back only beside a wish to be back ("I texted STOP to
# the wrong number, I still want the alerts"): "I texted STOP because this is the wrong
# number" still wants out.
_UNDO_LOOSE = (
    "wrong (?:number|chat|thread|person|convo|conversation)|as a joke|for a joke|as a prank"
)
_SENT = "replied|texted|sent|typed|hit|pressed|said|wrote|responded|clicked|answered"
# "I replied STOP by accident", "accidentally unsubscribed", "didn't mean to opt out".
UNDONE_OPT_OUT = re.compile(
    rf" (?:(?:{_SENT})(?: with)? (?:{_OPT_WORD}|cancel|end|quit)|unsubscribed|unsubbed|opted out"
    rf"|me di de baja|di de baja|me (?:suis )?desabonne\w*|me (?:suis )?desinscri\w*"
    rf"|removed myself)"
    rf" (?:\w+ ){{0,2}}?(?:{_UNDO})\b"
    rf"| (?:{_UNDO}) (?:\w+ ){{0,2}}?(?:(?:{_SENT})(?: with)? (?:{_OPT_WORD})|unsubscribed|unsubbed"
    rf"|opted out|me di de baja|di de baja)\b"
    rf"| (?:didnt|did not|never) (?:mean|meant) to (?:\w+ )?(?:{_OPT_WORD})\b"
)
UNDO = re.compile(
    rf" (?:{_UNDO}|{_UNDO_LOOSE}|didnt mean|did not mean|never meant|oops|whoops|my bad)\b"
)
ADD_BACK = re.compile(
    r" (?:add (?:me|us|my number|this number) back|re ?add (?:me|us)|put (?:me|us|my number)"
    r" back|back on (?:the|your|ur) list|re ?subscribe\w*|sign me (?:back )?up|opt me back in"
    r"|opt back in|(?:get|getting|receive|receiving) (?:\w+ ){0,2}?(?:texts|messages|reminders"
    r"|alerts|notifications|them) again|still want (?:\w+ ){0,2}?(?:texts|messages|reminders"
    r"|alerts|notifications|them|these)|want (?:\w+ ){0,2}?(?:texts|messages|reminders|alerts"
    r"|notifications|them) (?:again|back)|(?:actually|really|do) (?:still )?want (?:these|them"
    r"|the \w+|texts|messages|reminders)|volver a recibir|seguir recibiendo|darme de alta"
    r"|reabonner|me reinscrire|reinscri\w*"
    r"|continuer a recevoir|recevoir (?:a )?nouveau|reabonn\w*|undo|unstop"
    r"|(?:turn|switch|put) (?:\w+ ){0,3}?"
    r"back on)\b"
    r"(?! (?:to )?(?:stop|end|go away|be gone|gone|be stopped|be removed|quit|cease))"
)
SENT_OPT_OUT = re.compile(
    rf" (?:(?:{_SENT})(?: with)? (?:{_OPT_WORD})|unsubscribed|unsubbed|opted out|me di de baja"
    r"|me desabonne|me desinscri\w*)\b"
)
# "I texted STOP three times": an opt-out already sent, said again as a complaint.
REPORTED_OPT_OUT = re.compile(
    rf"(?:^| )(?:i|ive|i have|i already|already|i just|i even|i literally|i keep|ive already"
    rf"|i have already|i did|i) (?:\w+ )?(?:{_SENT}|told you|asked you)(?: with)?"
    rf" (?:{_OPT_WORD})\b"
)
_ALMOST = re.compile(r"\b(?:almost|nearly)\b")
_WHAT_IF = re.compile(r" (?:what happens|what would happen|what if|almost|nearly)\b")
_HYPOTHETICAL = re.compile(r"(?:^| )(?:if|when|once|after|do i|should i|will i|can i|did i)\b")


# Words without which neither an opt-out taken back nor one sent before can be read.
_UNDO_OR_SENT_WORDS = word_set(
    "mistake accident accidentally accidently mistakenly button error equivocacion accidente"
    " accidentalmente querer erreur expres mean meant oops whoops bad unsubscribed unsubbed opted"
    " baja desabonne replied texted sent typed hit pressed said wrote responded clicked answered"
)


def undoes_opt_out(norm: str, words: frozenset[str]) -> bool:
    """Return True if the message takes back an opt-out it sent, asking to stay or come back.

    `words` are the words of `norm`.
    """
    if _UNDO_OR_SENT_WORDS.isdisjoint(words) and "desinscri" not in norm:
        return False
    head = f" {norm}"
    if _WHAT_IF.search(head):  # "what happens if I unsubscribe by accident?", "I almost did"
        return False
    if UNDONE_OPT_OUT.search(head):
        return True
    if not find(ADD_BACK, head):
        return False
    # Asking back in after an opt-out, whether or not it was a mistake.
    return UNDO.search(head) is not None or SENT_OPT_OUT.search(head) is not None


def reports_opt_out(norm: str) -> bool:
    """Return True for "I already texted STOP" and the like: the person wants out."""
    found = REPORTED_OPT_OUT.search(norm)
    if found is None or _ALMOST.search(found.group(0)):  # "I almost replied STOP"
        return False
    return _HYPOTHETICAL.search(norm, 0, found.start() + 1) is None
