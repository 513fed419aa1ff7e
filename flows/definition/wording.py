"""Spot message texts that ask people to reply with an opt-out keyword the parser knows."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.consent import OPT_OUT_WORDS_ES, OPT_OUT_WORDS_FR
from nlu.keywords import OPT_OUT_WORDS, fold, fold_letters

# Twilio's opt-out keywords and their Spanish and French peers (BAJA, ALTO, ARRET), folded
# as the parser folds them; texts are searched with their accents folded the same way.
_KEYWORD = "|".join(sorted((word.upper() for word in OPT_OUT_WORDS), key=len, reverse=True))
# Asking for a reply, in English, Spanish or French: "Reply", "Responde", "Envía",
# "Escríbenos", "Répondez", "Envoyez", "Écrivez" (accents folded).
_VERB = (
    r"\b(?:reply|text|txt|send|respond"
    r"|(?:respond|contest|envi|mand)(?:a|e|an|en|ar)(?:nos)?|escrib(?:a|e|an|en|ir)(?:nos)?"
    r"|repond(?:s|ez|re)|envoie|envoyez|envoyer|ecri(?:s|vez|re)|tapez|textez)\b"
)
_QUOTE = "\"'\u201c\u2018\u00ab"
# "Reply CANCEL", "text us END", "respond with 'QUIT'", "Envoyez-nous ARRET": the keyword
# right after the verb.
_DIRECT = re.compile(
    rf"{_VERB}(?:[\s-]+(?:with|back|us|con|nos|avec|nous))*\s+[{_QUOTE}]?\s?(?P<kw>{_KEYWORD})"
    r"(?![\w-])",
    re.IGNORECASE,
)
# "Reply YES to confirm or CANCEL to cancel": an upper-case keyword later in the sentence.
_LISTED = re.compile(rf"(?<![\w-])(?P<kw>{_KEYWORD})(?![\w-])")
_VERB_RE = re.compile(_VERB, re.IGNORECASE)
# A sentence that talks about opting out may name the keyword: that is the point of it.
_OPT_OUT_TALK = re.compile(
    r"opt[\s-]?out|unsubscribe|stop (?:receiving|getting)"
    r"|\b(?:stop|end|cancel|quit) (?:all |these |our |the |future )?"
    r"(?:messages|texts|msgs|alerts|notifications|sms)\b"
    r"|\bto stop\b|no more (?:messages|texts)"
    # "para darte de baja", "para no recibir mas mensajes", "para dejar de recibir SMS"
    r"|\bdar(?:te|se|me|le|les)? de baja\b|desuscrib|\bcancelar (?:tu |su |la )?suscripcion"
    r"|\b(?:dejar|deja|deje) de recibir|\bno recibir\b|\bno mas (?:mensajes|textos|sms)\b"
    r"|\b(?:parar|detener|cancelar|terminar) (?:todos )?(?:los |estos |nuestros |tus )?"
    r"(?:mensajes|textos|sms|alertas|notificaciones)\b"
    # "pour vous désabonner", "pour ne plus recevoir nos SMS", "pour arrêter les messages"
    r"|desabonn|desinscri|\bne plus (?:recevoir|etre contacte)|\bplus de (?:messages|sms)\b"
    r"|\b(?:arreter|stopper|annuler) (?:de recevoir )?(?:tous )?(?:les |ces |nos |vos )?"
    r"(?:messages|sms|textos|alertes|notifications)\b",
    re.IGNORECASE,
)
# "Reply STOP to cancel.", "Text HELP for help, STOP to end", "Responde BAJA para cancelar":
# the standard footer offers STOP (or its Spanish or French peer) alone, with nothing after
# the verb, and means unsubscribing. "Reply CANCEL to cancel" or "STOP to cancel your
# order" ask for a carrier keyword to do something else.
_FOOTER_KEYWORDS = frozenset(
    fold(word).upper() for word in ("STOP", *OPT_OUT_WORDS_ES, *OPT_OUT_WORDS_FR)
)
_FOOTER_TAIL = re.compile(
    rf"\s?[{_QUOTE}\u00bb]?\s+(?:to|para|pour)\s+(?:cancel|end|quit|stop"
    r"|cancelar|terminar|parar|salir|detener|annuler|arreter|terminer|cesser|stopper)"
    rf"[{_QUOTE}]?"
    r"(?=\s*(?:$|[,;:.!?)\]\u00bb]|(?:or|and|o|y|ou|et)\b))",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


@dataclass(frozen=True)
class KeywordRequest:
    """A carrier keyword the text asks people to send, and where it sits in the text."""

    keyword: str
    offset: int
    sentence: str


def find_keyword_requests(text: str) -> list[KeywordRequest]:
    """Return each place the text asks for an opt-out keyword for something but opting out."""
    found: list[KeywordRequest] = []
    folded = fold_letters(text)  # letter for letter: offsets are the same in both
    for sentence in _SENTENCE.finditer(folded):
        body = sentence.group()
        verb = _VERB_RE.search(body)
        if verb is None:
            continue
        hits = [*_DIRECT.finditer(body), *_LISTED.finditer(body, verb.end())]
        spans = sorted({match.span("kw") for match in hits})
        for index, (start, end) in enumerate(spans):
            if body[start:end].upper() in _FOOTER_KEYWORDS and _FOOTER_TAIL.match(body, end):
                continue
            if _talks_of_opting_out(body, spans, index):
                continue
            # Reported as written: ARRÊT, not ARRET.
            offset = sentence.start() + start
            keyword = text[offset : offset + end - start].upper()
            found.append(
                KeywordRequest(keyword, offset, text[sentence.start() : sentence.end()].strip())
            )
    return found


def _talks_of_opting_out(body: str, spans: list[tuple[int, int]], index: int) -> bool:
    """Tell whether the words that go with one keyword talk of opting out.

    They run from the keyword to the next one ("Reply STOP to opt out, CANCEL to cancel
    your order" lets STOP be, not CANCEL); the first keyword also has what comes before
    it ("To unsubscribe, reply STOP").
    """
    start, end = spans[index]
    begin = 0 if index == 0 else start
    until = spans[index + 1][0] if index + 1 < len(spans) else len(body)
    # The keyword itself ("OPTOUT", "UNSUBSCRIBE") does not count as talk of opting out.
    words = body[begin:start] + " " * (end - start) + body[end:until]
    return _OPT_OUT_TALK.search(words) is not None
