"""Turn one inbound SMS into a Parse, compliance keywords first."""

from __future__ import annotations

import re
from collections.abc import Collection
from itertools import islice

from nlu import rules as r
from nlu.intents import (
    AFFIRM,
    DENY,
    FALLBACK,
    GREET,
    HELP,
    HUMAN,
    OPT_IN,
    OPT_OUT,
    RATING,
    RESCHEDULE,
    THANKS,
)
from nlu.model import Entity, Parse

Hit = tuple[str, float]
# A Twilio keyword next to "yes"/"ok" ("Yes, cancel") answers the appointment question,
# so only these two keywords lose their keyword meaning in that company.
_AMBIGUOUS_KEYWORDS = frozenset({"cancel", "end"})
_ASSENT = frozenset({"yes", "y", "ok", "okay", "sure", "yeah"})
_OPT_IN_DOUBT = r.phrases("why|who|never|didnt|did not|without|how did")
_STAR_RE = re.compile(f"(?:{'|'.join(sorted(r.STAR_CHARS))})\ufe0f?")
_TIME_UNITS = r.word_set("am pm h hr hrs hour hours min mins minute minutes day days")


def parse(
    text: str, *, expecting: Collection[str] | None = None, language: str | None = None
) -> Parse:
    """Classify `text`; `expecting` names the intents the conversation is waiting for.

    `language` is accepted as a hint; the rules cover English, Spanish and French at once.
    """
    t = r.normalise(text)
    wanted = frozenset(expecting or ())
    entities: tuple[Entity, ...] = ()
    hit = _compliance(t) or _short(t, wanted) or _reschedule(t)
    if hit is None:
        rated = _rating(t, wanted)
        if rated is None:
            hit = _conversation(t)
        else:
            value, confidence, surface = rated
            hit = (RATING, confidence)
            entities = (Entity(RATING, value, *_span(t, surface)),)
    intent, confidence = hit
    if intent in wanted and intent != FALLBACK and confidence < 0.99:
        confidence = min(confidence + 0.05, 0.99)
    return Parse(text, intent, round(confidence, 2), entities)


def _compliance(t: r.Text) -> Hit | None:
    """Match opt-out, opt-in and help: keywords, keyword sentences, then phrases."""
    norm = t.norm
    if not norm:
        return None
    tokens = norm.split()
    bare = r.bare_keyword(norm)
    if 3 <= len(tokens) <= 12 and all(len(token) == 1 for token in tokens):
        bare = "".join(tokens)  # "S T O P", "s.t.o.p"
    if norm in r.OPT_OUT_EXACT or (
        bare in r.OPT_OUT_EXACT and not (bare in _AMBIGUOUS_KEYWORDS and _ASSENT & set(tokens))
    ):
        return OPT_OUT, 1.0
    keywords = [r.bare_keyword(s) for s in t.segments] if len(t.segments) > 1 else []
    if any(keyword in r.OPT_OUT_SENTENCE for keyword in keywords):
        return OPT_OUT, 1.0
    if r.find(r.OPT_OUT_PHRASES, t.head):
        return OPT_OUT, 0.95
    if _loud_stop(t) or _tail_stop(tokens):
        return OPT_OUT, 0.9
    if bare in r.OPT_IN_EXACT:
        return OPT_IN, 1.0
    if bare in r.HELP_EXACT:
        return HELP, 1.0
    for keyword in keywords:
        if keyword in r.OPT_IN_EXACT:
            return OPT_IN, 1.0
        if keyword in r.HELP_EXACT:
            return HELP, 1.0
    if r.find(r.OPT_IN_PHRASES, t.head) and not _OPT_IN_DOUBT.search(t.head):
        return OPT_IN, 0.95
    return None


def _loud_stop(t: r.Text) -> bool:
    """Return True for "STOP" in capitals within a message that is not all capitals."""
    raw = t.raw
    match = r.LOUD_STOP.search(raw)
    if match is None or raw == raw.upper():
        return False
    before = r.normalise(raw[: match.start()]).norm[-48:]
    return not r.NEGATED.search(f"{before} ")


def _tail_stop(tokens: list[str]) -> bool:
    """Return True for a message ending in "stop" that is not ordinary English."""
    return (
        len(tokens) >= 2
        and tokens[-1] in ("stop", "stopall")
        and tokens[-2] not in r.NOT_BEFORE_TAIL_STOP
    )


def _short(t: r.Text, wanted: frozenset[str]) -> Hit | None:
    """Match a whole message that is one short reply: "yes", "N", "R", "👍", "Friday"."""
    if not t.norm or len(t.norm) > 60:
        return None
    key = " ".join(dict.fromkeys(t.norm.split()))
    if key in r.SHORT:
        return r.SHORT[key]
    if key == "c" and AFFIRM in wanted:  # "Reply C to confirm"
        return AFFIRM, 0.9
    if r.STRETCHED_YES.fullmatch(key):
        return AFFIRM, 0.9
    if r.STRETCHED_NO.fullmatch(key):
        return DENY, 0.9
    if r.DAY_ONLY.fullmatch(key):
        return RESCHEDULE, 0.7
    return None


def _reschedule(t: r.Text) -> Hit | None:
    """Match a request for another time."""
    if r.find(r.RESCHEDULE_PHRASES, t.head):
        return RESCHEDULE, 0.9
    if r.find(r.LATER, t.head) and not r.GOODBYE.search(t.head):
        return RESCHEDULE, 0.8
    return None


def _rating(t: r.Text, wanted: frozenset[str]) -> tuple[int, float, str] | None:
    """Return (value, confidence, the text that gave it) for a score on a 1-5 or 1-10 scale."""
    head, norm = t.head, t.norm
    value = r.number(norm)
    if value is not None and 1 <= value <= 10:
        if RATING in wanted:
            return value, 0.95, norm
        if value <= 5:  # 1-5 is the usual survey scale; a bare 6-10 is too vague
            return value, 0.6 if norm.isdecimal() else 0.7, norm
    match = r.FRACTION.search(head)
    if match:
        value, scale = r.number(match[1]), r.number(match[2])
        if value is not None and scale is not None and 1 <= value <= scale:
            return value, 0.95, match[1]
    for pattern, confidence in ((r.STARS_WORD, 0.95), (r.GIVE, 0.9)):
        match = pattern.search(head)
        value = r.number(match[1]) if match else None
        if match and value is not None and 1 <= value <= 10:
            return value, confidence, match[1]
    stars = head.count(r.STAR)
    if 1 <= stars <= 10:
        return stars, 0.9, r.STAR
    first = t.segments[0] if t.segments else ""
    value = r.number(first)
    if value is not None and 1 <= value <= 10 and len(t.segments) > 1:
        return value, 0.85, first  # "2 - the wait was long"
    tokens = head.split(maxsplit=2)
    if RATING in wanted and len(tokens) > 1 and tokens[1] not in _TIME_UNITS:
        value = r.number(tokens[0])
        if value is not None and 1 <= value <= 10:
            return value, 0.8, tokens[0]
    return None


def _conversation(t: r.Text) -> Hit:
    """Match the remaining intents, most specific first, else fall back."""
    head = t.head
    tokens = head.split()
    if not tokens:
        return FALLBACK, 0.0
    if r.DENY_PHRASES.search(head) or r.find(r.CANCEL, head):
        return DENY, 0.9
    if r.THUMBS_DOWN in tokens or r.CROSS in tokens:
        return DENY, 0.85
    if r.find(r.AFFIRM_PHRASES, head, r.NEGATED_OR_CANT):
        return AFFIRM, 0.9
    if r.find(r.HUMAN_PHRASES, head):
        return HUMAN, 0.9
    if r.THUMBS_UP in tokens or r.CHECK in tokens or r.OK_HAND in tokens:
        return AFFIRM, 0.85
    if r.find(r.HELP_PHRASES, head):
        return HELP, 0.7
    lead = _leading_reply(tokens)
    if lead:
        return lead
    if r.PRAY in tokens or r.THANKS_PHRASES.search(head):
        return THANKS, 0.9
    if r.GREET_START.match(head):
        return GREET, 0.8
    return FALLBACK, 0.3


def _leading_reply(tokens: list[str]) -> Hit | None:
    """Match a yes or no that opens or closes a longer message: "no, sorry", "ok see you"."""
    start = 0
    while start < len(tokens) - 1 and tokens[start] in r.LEAD_FILLER:
        start += 1
    first, last = tokens[start], tokens[-1]
    after = tokens[start + 1] if start + 1 < len(tokens) else ""
    if first in r.NO_WORDS and after not in r.NOT_NO:
        return DENY, 0.8
    if last in r.NO_WORDS and len(tokens) > 1:
        return DENY, 0.7
    if r.NEGATORS.isdisjoint(tokens):
        if first in r.YES_WORDS:
            return AFFIRM, 0.85
        if last in r.YES_WORDS:
            return AFFIRM, 0.75
    return None


def _span(t: r.Text, surface: str) -> tuple[int | None, int | None]:
    """Locate `surface` in the original message; (None, None) when normalising hid it."""
    if surface == r.STAR:
        found = [m.span() for m in islice(_STAR_RE.finditer(t.raw), 10)]
        if not found:
            return None, None
        start, end = found[0][0], found[-1][1]
    else:
        word = re.escape(surface)
        pattern = rf"(?<!\d){word}(?!\d)" if surface.isdecimal() else rf"\b{word}\b"
        match = re.search(pattern, t.raw, re.IGNORECASE)
        if match is None:
            return None, None
        start, end = match.span()
    return t.offset + start, t.offset + end
