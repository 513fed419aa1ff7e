"""Spot message texts that ask people to reply with a carrier opt-out keyword."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.intents import OPT_OUT_KEYWORDS

_KEYWORD = "|".join(OPT_OUT_KEYWORDS)
_VERB = r"\b(?:reply|text|txt|send|respond)\b"
_QUOTE = "\"'\u201c\u2018"
# "Reply CANCEL", "text us END", "respond with 'QUIT'": the keyword right after the verb.
_DIRECT = re.compile(
    rf"{_VERB}(?:\s+(?:with|back|us))*\s+[{_QUOTE}]?(?P<kw>{_KEYWORD})(?![\w-])", re.IGNORECASE
)
# "Reply YES to confirm or CANCEL to cancel": an upper-case keyword later in the sentence.
_LISTED = re.compile(rf"(?<![\w-])(?P<kw>{_KEYWORD})(?![\w-])")
_VERB_RE = re.compile(_VERB, re.IGNORECASE)
# A sentence that talks about opting out may name the keyword: that is the point of it.
_OPT_OUT_TALK = re.compile(
    r"opt[\s-]?out|unsubscribe|stop (?:receiving|getting)"
    r"|\b(?:stop|end|cancel|quit) (?:all |these |our |the |future )?"
    r"(?:messages|texts|msgs|alerts|notifications|sms)\b"
    r"|\bto stop\b|no more (?:messages|texts)",
    re.IGNORECASE,
)
# "Reply STOP to cancel.", "Text HELP for help, STOP to end": the standard footer offers
# STOP alone, with nothing after the verb, and means unsubscribing. "Reply CANCEL to
# cancel" or "STOP to cancel your order" ask for a carrier keyword to do something else.
_FOOTER_TAIL = re.compile(
    rf"[{_QUOTE}]?\s+to\s+(?:cancel|end|quit|stop)[{_QUOTE}]?"
    r"(?=\s*(?:$|[,;:.!?)\]]|(?:or|and)\b))",
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
    for sentence in _SENTENCE.finditer(text):
        body = sentence.group()
        verb = _VERB_RE.search(body)
        if verb is None:
            continue
        hits = [*_DIRECT.finditer(body), *_LISTED.finditer(body, verb.end())]
        spans = sorted({match.span("kw") for match in hits})
        for index, (start, end) in enumerate(spans):
            keyword = body[start:end].upper()
            if keyword == "STOP" and _FOOTER_TAIL.match(body, end):
                continue
            if _talks_of_opting_out(body, spans, index):
                continue
            offset = sentence.start() + start
            found.append(KeywordRequest(keyword, offset, body.strip()))
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
