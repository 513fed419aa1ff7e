"""Opt-outs read from plain words, before staff: kept as they stand, or undone by a person.

Parley honours "please stop texting me" at once, and so it also honours a misread ("stop
by the desk first?"). Such an opt-out opens the conversation for staff; one of them either
keeps it (the conversation is resolved) or undoes it, which gives back exactly what the
contact had agreed to before, recorded in the consent ledger as the staff member's doing.
"""

from __future__ import annotations

from bot.conversation import staffing
from bot.conversation.log_events import ConsentChanged, OptOutKept, OptOutUndone
from bot.conversation.staffing import Refused
from bot.conversation.turn import Turn
from bot.domain.consent import IMPLIED, Method, Purpose

NOTHING_TO_REVIEW = "This contact has no opt-out waiting for review."


def keep(turn: Turn, staff: str) -> None:
    """Confirm an opt-out read from plain words: it stands, and the conversation is resolved."""
    review = turn.contact.opt_out_review
    if review is None:
        raise Refused(NOTHING_TO_REVIEW)
    turn.contact.opt_out_review = None
    turn.log(OptOutKept(by=staff))
    staffing.resolve(turn, staff)


def undo(turn: Turn, staff: str) -> None:
    """Undo an opt-out read from plain words: the contact agrees again to what they had."""
    contact, review = turn.contact, turn.contact.opt_out_review
    if review is None:
        raise Refused(NOTHING_TO_REVIEW)
    evidence = f"staff undid an opt-out read from: {review['text']}"
    for name, granted in review.get("consent", {}).items():
        purpose = Purpose(name)
        if granted is None and purpose not in IMPLIED:
            contact.consent.pop(purpose, None)  # as it was: never given
            continue
        # Implied consent comes back as a staff decision, so the ledger's last word is right.
        given = purpose in IMPLIED if granted is None else granted
        entry = contact.grant(
            purpose, given, staff, turn.now, method=Method.STAFF, evidence=evidence
        )
        turn.log(ConsentChanged(**entry))
    contact.subscribed = bool(review.get("subscribed", True))
    contact.opt_out_review = None
    turn.log(OptOutUndone(by=staff, text=review["text"]))
    staffing.take_over(turn, staff)
