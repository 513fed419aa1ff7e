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
# "Reply STOP to cancel." on its own is the standard opt-out line.
_OPT_OUT_LINE = re.compile(
    rf"\W*{_VERB}(?:\s+(?:with|back|us))*\s+[{_QUOTE}]?(?:{_KEYWORD})[{_QUOTE}]?"
    r"\s+to\s+(?:cancel|end|quit|unsubscribe)\W*",
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
    found: dict[int, KeywordRequest] = {}
    for sentence in _SENTENCE.finditer(text):
        body = sentence.group()
        verb = _VERB_RE.search(body)
        if verb is None or _OPT_OUT_LINE.fullmatch(body):
            continue
        hits = [*_DIRECT.finditer(body), *_LISTED.finditer(body, verb.end())]
        for match in hits:
            # The keyword itself ("OPTOUT", "UNSUBSCRIBE") does not count as talk of opting out.
            start, end = match.span("kw")
            if _OPT_OUT_TALK.search(body[:start] + " " * (end - start) + body[end:]):
                continue
            offset = sentence.start() + start
            found[offset] = KeywordRequest(match.group("kw").upper(), offset, body.strip())
    return [found[offset] for offset in sorted(found)]
