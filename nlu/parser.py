"""Turn one inbound SMS into a Parse: compliance rules, journey words, rules, then a model."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import replace
from itertools import islice

from nlu import compliance, consent, framing
from nlu import rules as r
from nlu.intents import (
    AFFIRM,
    DENY,
    FALLBACK,
    GREET,
    HELP,
    HUMAN,
    INTENTS,
    OPT_IN,
    OPT_OUT,
    RATING,
    RESCHEDULE,
    THANKS,
)
from nlu.model import Entity, Parse, RemoteParser
from nlu.vocabulary import Vocabulary, match_example, match_keyword

Hit = tuple[str, float]
# A rule at least this sure decides; weaker rule hits are weighed against the model.
RULE_TRUST = 0.8
# Below this the model's best guess is not good enough and the reply is nlu_fallback.
MODEL_THRESHOLD = 0.55
# A model is never as sure as a rule: below the 0.9 at which the bot answers HELP.
MODEL_CEILING = 0.8
# What an intent the conversation asked for gains, as it is the likelier reading.
EXPECTED_BONUS = 0.05
FALLBACK_CONFIDENCE = 0.3
_STAR_RE = re.compile(f"(?:{'|'.join(sorted(r.STAR_CHARS))})\ufe0f?")
# "r u open?": r as "are", not the reply that asks for another time.
_R_IS_ARE = r.word_set("u you ya yall we they there these those")
_TIME_UNITS = r.word_set("am pm h hr hrs hour hours min mins minute minutes day days")


def parse(
    text: str,
    *,
    expecting: Collection[str] | None = None,
    language: str | None = None,
    vocabulary: Vocabulary | None = None,
    remote: RemoteParser | None = None,
) -> Parse:
    """Classify `text`; `expecting` names the intents the conversation is waiting for.

    `language` is accepted as a hint; rules and model cover English, Spanish and French at
    once. `vocabulary` adds a journey's own keywords and examples. `remote` reads the free
    text the rules leave undecided, before the local classifier is asked.
    """
    t = r.normalise(text)
    wanted = frozenset(expecting or ())
    framed = _framed(text, t, wanted, vocabulary, remote)
    if framed is not None:
        return framed
    hit, entities, decided = _apply_rules(t, wanted, vocabulary)
    if not decided:
        hit, entities = _apply_model(text, t, wanted, hit, remote)
    return _finish(text, hit, _consent_entities(t, hit[0], entities), wanted)


def prepare() -> None:
    """Train the local classifier now, so the first free-text reply does not wait for it."""
    from nlu import classifier

    classifier.default()


def apply_rules(
    text: str,
    *,
    expecting: Collection[str] | None = None,
    vocabulary: Vocabulary | None = None,
) -> Parse | None:
    """Return the Parse the rules and the journey's vocabulary decide alone, or None."""
    wanted = frozenset(expecting or ())
    t = r.normalise(text)
    framed = _framed(text, t, wanted, vocabulary, None, rules_only=True)
    if framed is not None:
        return framed
    hit, entities, decided = _apply_rules(t, wanted, vocabulary)
    return _finish(text, hit, _consent_entities(t, hit[0], entities), wanted) if decided else None


def _framed(
    text: str,
    t: r.Text,
    wanted: frozenset[str],
    vocabulary: Vocabulary | None,
    remote: RemoteParser | None,
    *,
    rules_only: bool = False,
) -> Parse | None:
    """Read a phone's reaction as the reaction alone, and a keyword taken back as what follows."""
    reacted = framing.reaction(t.raw)
    if reacted is not None:
        return _finish(text, reacted, (), wanted)
    if not compliance.opens_with_keyword(t):
        return None
    if framing.rhetorical(t.raw):
        return Parse(text, FALLBACK, FALLBACK_CONFIDENCE)
    if framing.delighted(t.raw) and len(t.segments) > 1:
        rest = " ".join(t.segments[1:])
        meant = apply_rules(rest, expecting=wanted) if rules_only else parse(rest, expecting=wanted)
        if meant is None or meant.intent != OPT_OUT:
            return Parse(text, FALLBACK, FALLBACK_CONFIDENCE)
    corrected = framing.correction(t.raw)
    if corrected is None:
        return None
    start, sure = corrected
    rest = t.raw[start:]
    meant = (
        apply_rules(rest, expecting=wanted, vocabulary=vocabulary)
        if rules_only
        else parse(rest, expecting=wanted, vocabulary=vocabulary, remote=remote)
    )
    # After "sorry" or "oops" alone only a yes, a new time or a score takes a keyword back:
    # "Stop, sorry, not interested" still opts out.
    if meant is None or not (sure or meant.intent in (AFFIRM, RESCHEDULE, RATING)):
        return None
    if meant.intent == FALLBACK:  # "STOP sorry wrong chat": taken back, and nothing meant
        return Parse(text, FALLBACK, FALLBACK_CONFIDENCE)
    shift = t.offset + start
    entities = tuple(
        replace(e, start=e.start + shift, end=e.end + shift)
        if e.start is not None and e.end is not None
        else e
        for e in meant.entities
    )
    return Parse(text, meant.intent, meant.confidence, entities)


def _consent_entities(t: r.Text, intent: str, entities: tuple[Entity, ...]) -> tuple[Entity, ...]:
    """Add what an opt-out is about and the language of any consent reply, when shown."""
    if intent not in (OPT_OUT, OPT_IN, HELP):
        return entities
    marketing = intent == OPT_OUT and consent.marketing_only(t) and not compliance.keyword_alone(t)
    return entities + consent.entities(t, marketing)


def _finish(text: str, hit: Hit, entities: tuple[Entity, ...], wanted: frozenset[str]) -> Parse:
    intent, confidence = hit
    if intent in wanted and intent != FALLBACK and confidence < 0.99:
        confidence = min(confidence + EXPECTED_BONUS, 0.99)
    return Parse(text, intent, round(confidence, 2), entities)


def _apply_rules(
    t: r.Text, wanted: frozenset[str], vocabulary: Vocabulary | None
) -> tuple[Hit, tuple[Entity, ...], bool]:
    """Return the rules' best hit, its entities, and whether it is sure enough to decide."""
    hit = compliance.match(t)
    if hit is not None:
        return hit, (), True
    if vocabulary:
        hit = _apply_vocabulary(t, vocabulary)
        if hit is not None:
            return hit, (), True
    hit = _short(t, wanted) or _reschedule(t)
    if hit is None:
        rated = _rating(t, wanted)
        if rated is not None:
            value, confidence, surface = rated
            return (RATING, confidence), (Entity(RATING, value, *_span(t, surface)),), True
        hit = _conversation(t)
    # An emoji-only reply ("👋") has no words for the rules but is still the model's to read.
    return hit, (), hit[1] >= RULE_TRUST or not t.raw


def _apply_vocabulary(t: r.Text, vocabulary: Vocabulary) -> Hit | None:
    """Match a journey's keywords, then its examples: they know its question best."""
    intent = match_keyword(vocabulary, t)
    if intent is not None:
        return intent, 1.0
    if not vocabulary.examples:
        return None
    from nlu import classifier  # the examples are compared in the classifier's features

    similar = match_example(vocabulary, t, classifier.default())
    if similar is None or (similar[0] == OPT_OUT and not compliance.mentions_revocation(t)):
        return None
    return similar[0], min(similar[1], 0.95)


def _apply_model(
    text: str, t: r.Text, wanted: frozenset[str], weak: Hit, remote: RemoteParser | None
) -> tuple[Hit, tuple[Entity, ...]]:
    """Decide free text with the remote parser if there is one and it answers, else locally."""
    # scikit-learn takes a second to import; replies the rules decide never need it.
    from nlu import classifier

    entities: tuple[Entity, ...] = ()
    answer = remote.rank(text) if remote is not None else None
    if answer is not None:
        ranking, entities = answer
    else:
        ranking = classifier.default().rank(t)
    choice = _choose(ranking, t, wanted)
    if choice is None or (choice[0] != FALLBACK and choice[1] < weak[1]):
        return (weak if weak[0] != FALLBACK else (FALLBACK, FALLBACK_CONFIDENCE)), ()
    if choice[0] == RATING:
        return choice, _loose_rating(t)
    return choice, entities if choice[0] != FALLBACK else ()


def _choose(ranking: list[tuple[str, float]], t: r.Text, wanted: frozenset[str]) -> Hit | None:
    """Return the model's answer; None when it is unsure, nlu_fallback when it may not say."""
    intent, probability = max(
        ranking, key=lambda pair: pair[1] + (EXPECTED_BONUS if pair[0] in wanted else 0.0)
    )
    if probability < MODEL_THRESHOLD:
        return None
    # The model alone never unsubscribes, resubscribes or invents a score: a sign of
    # revocation, or a number the rules can read, must agree with it.
    if intent == OPT_OUT:
        return (
            (OPT_OUT, 0.9) if compliance.mentions_revocation(t) else (FALLBACK, FALLBACK_CONFIDENCE)
        )
    if intent == RATING:  # a bare number is the rules' to read ("7" alone is too vague)
        rated = _loose_rating(t) and not t.raw.isdecimal()
        return (RATING, min(probability, MODEL_CEILING)) if rated else None
    if intent not in INTENTS or intent in (FALLBACK, OPT_IN):
        return None
    return intent, min(probability, MODEL_CEILING)


def _loose_rating(t: r.Text) -> tuple[Entity, ...]:
    """Return the score among the first words ("solid 4", "a 4 I guess"), if there is one."""
    if not t.segments or r.FRACTION.search(t.head):  # "6/5" was already read and refused
        return ()
    tokens = t.segments[0].split()[:4]
    for index, token in enumerate(tokens):
        value = r.number(token)
        after = tokens[index + 1] if index + 1 < len(tokens) else ""
        if value is not None and 1 <= value <= 10 and after not in _TIME_UNITS:
            return (Entity(RATING, value, *_span(t, token)),)
    return ()


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
    head = t.head
    if r.find(r.RESCHEDULE_PHRASES, head):
        return RESCHEDULE, 0.9
    rejected = r.REJECTED_TIME.search(head)
    if rejected and r.OFFERED_TIME.search(head, rejected.end()):
        return RESCHEDULE, 0.9
    if r.find(r.LATER, head) and not (r.GOODBYE.search(head) or r.PAST_VISIT.search(head)):
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
    first = _score_word(t.segments[0]) if t.segments else ""
    value = r.number(first)
    if value is not None and 1 <= value <= 10 and len(t.segments) > 1:
        return value, 0.85, first  # "2 - the wait was long", "a 3, the wait was long"
    tokens = head.split(maxsplit=2)
    if len(tokens) > 2 and tokens[1] in r.REASON_START and len(t.segments) == 1:
        value = r.number(tokens[0])
        if value is not None and 1 <= value <= 10:
            return value, 0.8, tokens[0]  # "2 the wait was too long"
    if RATING in wanted and len(tokens) > 1 and tokens[1] not in _TIME_UNITS:
        value = r.number(tokens[0])
        if value is not None and 1 <= value <= 10:
            return value, 0.8, tokens[0]
    return None


def _score_word(segment: str) -> str:
    """Return `segment` without words that lead up to a score: "probably a 4" -> "4"."""
    words = segment.split()
    while len(words) > 1 and words[0] in r.RATING_LEAD:
        words.pop(0)
    while len(words) > 1 and words[-1] in r.RATING_TAIL:
        words.pop()
    return " ".join(words)


def _conversation(t: r.Text) -> Hit:
    """Match the remaining intents, most specific first, else fall back."""
    head = t.head
    tokens = head.split()
    if not tokens:
        return FALLBACK, 0.0
    if r.DENY_PHRASES.search(head) or (r.find(r.CANCEL, head) and not r.NOT_A_CANCEL.search(head)):
        return DENY, 0.9
    if r.THUMBS_DOWN in tokens or r.CROSS in tokens:
        return DENY, 0.85
    if r.find(r.AFFIRM_PHRASES, head, r.NEGATED_OR_CANT):
        return AFFIRM, 0.9
    if r.find(r.HUMAN_PHRASES, head):
        return HUMAN, 0.9
    if t.segments[0] in r.YES_WORDS and len(t.segments) > 1:  # "Yes, and don't be late"
        return AFFIRM, 0.85
    if tokens[0] == "r" and len(tokens) > 1 and tokens[1] not in _R_IS_ARE:  # "R pls, flight late"
        return RESCHEDULE, 0.85
    if r.THUMBS_UP in tokens or r.CHECK in tokens or r.OK_HAND in tokens:
        return AFFIRM, 0.85
    if r.find(r.HELP_SURE, head):
        return HELP, 0.85
    if r.find(r.HELP_PHRASES, head):
        return HELP, 0.7
    lead = _leading_reply(tokens)
    if lead:
        return lead
    if r.PRAY in tokens or r.THANKS_PHRASES.search(head):
        return THANKS, 0.9
    if r.GREET_START.match(head):
        # "Hey so sorry but ..." opens with a greeting and is about something else.
        return GREET, 0.8 if len(tokens) <= 4 else 0.6
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
