"""Opt-out, opt-in and help: decided before anything else, in every state."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.conversation.log_events import OptedIn, OptedOut, OptOutRepeated
from bot.conversation.turn import Turn
from bot.domain.messages import Kind
from flows.engine import Context, RunStatus, interrupt
from nlu import Parse
from nlu.intents import HELP, OPT_IN, OPT_OUT

# Only a clear HELP/INFO gets the compliance answer; "who is this?" goes to the bot.
HELP_CONFIDENCE = 0.9
_RESUBSCRIBE_YES = re.compile(r"\W*yes\W*", re.IGNORECASE)


def stop_text(business: Mapping[str, str]) -> str:
    """Return the one confirmation an opt-out gets."""
    return (
        f"You're unsubscribed from {business['name']} and will get no more messages. "
        "Reply START to resubscribe."
    )


def start_text(business: Mapping[str, str]) -> str:
    """Return the confirmation a resubscribe gets."""
    return (
        f"You're resubscribed to {business['name']} messages. Msg & data rates may apply. "
        "Reply HELP for help, STOP to opt out."
    )


def help_text(business: Mapping[str, str]) -> str:
    """Return the HELP answer: who we are, how to reach us, rates, and how to stop."""
    reach = business.get("contact")
    # Without a contact, point to what reaches staff here: AGENT hands the conversation over.
    how = (
        f"for help, contact {reach}."
        if reach
        else "for help, reply AGENT and someone from our team will text you back here."
    )
    return f"{business['name']}: {how} Msg & data rates may apply. Reply STOP to unsubscribe."


def handle(
    turn: Turn,
    parse: Parse,
    business: Mapping[str, str],
    opt_out_type: str | None = None,
) -> bool:
    """Apply any compliance keyword in an inbound message; True if it was one.

    `opt_out_type` is Twilio's OptOutType field: when present, Twilio's Advanced
    Opt-Out has already answered the person, so Parley records but does not reply.
    """
    contact = turn.contact
    kind = (opt_out_type or "").upper()
    answered_by_twilio = bool(kind)
    if kind == "STOP" or (not kind and parse.intent == OPT_OUT):
        changed = unsubscribe(turn, source=f"sms:{parse.text.strip()[:60]}")
        if changed and not answered_by_twilio:
            turn.send(stop_text(business), Kind.COMPLIANCE)
        return True
    # Twilio re-subscribes on START, UNSTOP and a bare YES; "ok" or a thumbs-up does not.
    bare = _RESUBSCRIBE_YES.fullmatch(parse.text.strip())
    resubscribing = parse.intent == OPT_IN or (not contact.subscribed and bare is not None)
    if kind == "START" or (not kind and resubscribing):
        if not contact.subscribed:
            contact.subscribed = True
            turn.log(OptedIn(f"sms:{parse.text.strip()[:60]}"))
            turn.count("opt_ins")
        if not answered_by_twilio:
            turn.send(start_text(business), Kind.COMPLIANCE)
        return True
    if kind == "HELP" or (
        not kind and parse.intent == HELP and parse.confidence >= HELP_CONFIDENCE
    ):
        if not answered_by_twilio:
            turn.send(help_text(business), Kind.COMPLIANCE)
        return True
    return False


def unsubscribe(turn: Turn, source: str) -> bool:
    """Opt a contact out of everything and end their open journeys; False if already out."""
    contact = turn.contact
    if not contact.subscribed:
        turn.log(OptOutRepeated(source))
        return False
    contact.subscribed = False
    turn.log(OptedOut(source))
    turn.count("opt_outs")
    ctx = Context(contact=contact.template_view(), business={}, now=turn.now)
    for run in contact.open_runs():
        ended, events = interrupt(run, ctx, RunStatus.INTERRUPTED)
        turn.apply(ended, events)
    return True
