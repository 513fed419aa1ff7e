"""Opt-out, opt-in and help: decided before anything else, in every state.

STOP (and every opt-out) revokes every purpose; START gives back transactional messages
only, as marketing needs a fresh opt-in; "stop the promos" revokes marketing alone. Each
decision goes to the consent ledger with its evidence: how it was made, the raw text and
the MessageSid it came in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from bot.conversation.compliance_texts import (
    help_text,
    start_text,
    stop_marketing_text,
    stop_text,
)
from bot.conversation.log_events import (
    ConsentChanged,
    OptedIn,
    OptedOut,
    OptOutRepeated,
    OptOutToReview,
)
from bot.conversation.turn import Turn
from bot.domain.consent import ALL_PURPOSES, Method, Purpose
from bot.domain.contacts import ConversationStatus
from bot.domain.messages import Kind
from flows.engine import Context, RunStatus, interrupt
from nlu import Parse
from nlu.intents import HELP, OPT_IN, OPT_OUT
from nlu.keywords import COMPLIANCE_WORDS

__all__ = [
    "handle",
    "help_text",
    "leave_marketing",
    "start_text",
    "stop_marketing_text",
    "stop_text",
    "unsubscribe",
]

# Only a clear HELP/INFO gets the compliance answer; "who is this?" goes to the bot.
HELP_CONFIDENCE = 0.9
# A keyword is a word or two the parser is sure of ("STOP", "STOP PROMOS", "BAJA"); anything
# longer is plain words, honoured at once and flagged for staff to look at.
KEYWORD_CONFIDENCE = 0.9


def _folded(text: str) -> str:
    """Return `text` in lower case without accents: ARRÊT is arret."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()


_RESUBSCRIBE_YES = re.compile(r"\W*yes\W*", re.IGNORECASE)
_WORD = re.compile(r"\w+")
# Compliance keywords in the languages Parley answers in, and what may surround them.
_KEYWORDS = COMPLIANCE_WORDS | {"promos", "promo", "promotions", "marketing", "deals", "offers"}
_POLITE = frozenset({
    "please", "pls", "plz", "thanks", "thank", "you", "thx", "ok", "okay", "now", "all",
    "por", "favor", "gracias", "merci", "svp",
})  # fmt: skip


def handle(
    turn: Turn,
    parse: Parse,
    business: Mapping[str, str],
    opt_out_type: str | None = None,
    is_marketing: Callable[[str], bool] = lambda journey: False,
) -> bool:
    """Apply any compliance keyword in an inbound message; True if it was one.

    `opt_out_type` is Twilio's OptOutType field: when present, Twilio's Advanced
    Opt-Out has already answered the person, so Parley records but does not reply.
    `is_marketing` says which journeys (by id) a marketing-only opt-out ends.
    """
    contact = turn.contact
    kind = (opt_out_type or "").upper()
    answered_by_twilio = bool(kind)
    # The keyword's own language first: BAJA is answered in Spanish whatever is on file.
    language = texts_language(parse, contact.language)
    method = Method.TWILIO if kind else _method(parse)
    if not kind and parse.intent == OPT_OUT and parse.entity("purpose") == Purpose.MARKETING:
        if not contact.subscribed:  # out of everything already: nothing more to leave
            unsubscribe(turn, _source(turn, kind), method)
            return True
        leave_marketing(turn, method, is_marketing)
        turn.send(stop_marketing_text(business, language), Kind.COMPLIANCE)
        return True
    if kind == "STOP" or (not kind and parse.intent == OPT_OUT):
        changed = unsubscribe(turn, _source(turn, kind), method)
        if changed and not answered_by_twilio:
            turn.send(stop_text(business, language), Kind.COMPLIANCE)
        return True
    # Twilio re-subscribes on START, UNSTOP and a bare YES; "ok" or a thumbs-up does not.
    bare = _RESUBSCRIBE_YES.fullmatch(parse.text.strip())
    resubscribing = parse.intent == OPT_IN or (not contact.subscribed and bare is not None)
    if kind == "START" or (not kind and resubscribing):
        resubscribe(turn, _source(turn, kind), method)
        if not answered_by_twilio:
            turn.send(start_text(business, language), Kind.COMPLIANCE)
        return True
    if kind == "HELP" or (
        not kind and parse.intent == HELP and parse.confidence >= HELP_CONFIDENCE
    ):
        if not answered_by_twilio:
            turn.send(help_text(business, language), Kind.COMPLIANCE)
        return True
    return False


def texts_language(parse: Parse, on_file: str | None) -> str | None:
    """Return the language to answer a compliance keyword in: the keyword's, else the contact's.

    An English keyword does not override a contact's own language: STOP is every
    carrier's word, so a Spanish speaker sending it still gets Spanish.
    """
    said = parse.entity("language")
    if isinstance(said, str) and said != "en":
        return said
    return on_file or (said if isinstance(said, str) else None)


def unsubscribe(
    turn: Turn, source: str, method: Method = Method.KEYWORD, evidence: str | None = None
) -> bool:
    """Opt a contact out of every purpose and end their open journeys; False if already out.

    `evidence` says what showed it when no text of the contact's does (a carrier's error).
    """
    contact = turn.contact
    if not contact.subscribed:
        turn.log(OptOutRepeated(source))
        contact.opt_out_review = None  # the contact says it again: nothing left to review
        return False
    before = _standing(turn)
    for purpose in ALL_PURPOSES:
        _decide(turn, purpose, False, source, method, evidence)
    contact.subscribed = False
    turn.log(OptedOut(source))
    if method is Method.WORDS:
        _to_review(turn, before)
    turn.count("opt_outs")
    _end_runs(turn, lambda journey: True)
    return True


def resubscribe(turn: Turn, source: str, method: Method = Method.KEYWORD) -> bool:
    """Subscribe a contact again, to transactional messages only; False if already in."""
    contact = turn.contact
    if contact.subscribed:
        return False
    contact.subscribed = True
    _decide(turn, Purpose.TRANSACTIONAL, True, source, method)
    turn.log(OptedIn(source))
    turn.count("opt_ins")
    return True


def leave_marketing(turn: Turn, method: Method, is_marketing: Callable[[str], bool]) -> bool:
    """Revoke marketing alone and end the contact's marketing journeys; False if already out."""
    if turn.contact.consent.get(Purpose.MARKETING, {}).get("granted") is False:
        return False
    before = _standing(turn)
    _decide(turn, Purpose.MARKETING, False, _source(turn, ""), method)
    if method is Method.WORDS:
        _to_review(turn, before)
    turn.count("marketing_opt_outs")
    _end_runs(turn, is_marketing)
    return True


def _standing(turn: Turn) -> dict[str, Any]:
    """Return what the contact has agreed to: what undoing a misread opt-out gives back."""
    contact = turn.contact
    held = {str(p): contact.consent.get(p, {}).get("granted") for p in ALL_PURPOSES}
    return {"subscribed": contact.subscribed, "consent": held}


def _to_review(turn: Turn, before: dict[str, Any]) -> None:
    """Put an opt-out read from plain words before staff: it stands until one undoes it.

    The conversation opens in the inbox, but the bot is not silenced: what the contact
    still agrees to ("no more deals, keep my reminders") goes on while it waits.
    """
    contact = turn.contact
    contact.opt_out_review = {"text": turn.inbound_text, "at": turn.stamp, **before}
    turn.log(OptOutToReview(turn.inbound_text))
    if contact.conversation != ConversationStatus.OPEN:
        contact.conversation = ConversationStatus.OPEN
        contact.snoozed_until = None
    contact.waiting_since = contact.waiting_since or turn.stamp


def _decide(
    turn: Turn,
    purpose: Purpose,
    granted: bool,
    source: str,
    method: Method,
    evidence: str | None = None,
) -> None:
    # A decision of the contact's own supersedes an opt-out staff were to review.
    turn.contact.opt_out_review = None
    shown = evidence or turn.inbound_text or None
    entry = turn.contact.grant(purpose, granted, source, turn.now, method=method, evidence=shown)
    turn.log(ConsentChanged(**entry))


def _end_runs(turn: Turn, which: Callable[[str], bool]) -> None:
    contact = turn.contact
    ctx = Context(contact=contact.template_view(), business={}, now=turn.now)
    for run in contact.open_runs():
        if which(run.journey):
            ended, events = interrupt(run, ctx, RunStatus.INTERRUPTED)
            turn.apply(ended, events)


def _method(parse: Parse) -> Method:
    """Say whether a compliance message was a keyword ("Stop. Thank you") or plain words."""
    words = set(_WORD.findall(_folded(parse.text))) - _POLITE
    keyword = words and words <= _KEYWORDS and parse.confidence >= KEYWORD_CONFIDENCE
    return Method.KEYWORD if keyword else Method.WORDS


def _source(turn: Turn, opt_out_type: str) -> str:
    """Name where a decision came from: the MessageSid, and Twilio's OptOutType if any."""
    sid = turn.inbound_sid or "sms"
    return f"{sid} (OptOutType {opt_out_type})" if opt_out_type else sid
