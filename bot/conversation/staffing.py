"""Staff and the conversation: take over, reply, note, assign, snooze, resolve, hand back.

Each function changes one contact's conversation inside a transition, as the compliance
handlers do; `bot.conversation.desk.StaffDesk` opens the transition for each action staff
take (in the inbox or through the API). The bot stays quiet while a conversation is open
or snoozed (`Contact.handoff`); compliance replies still go, and a staff reply needs
the same consent as any conversational message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.conversation.log_events import (
    ConversationAssigned,
    ConversationReopened,
    ConversationResolved,
    ConversationSnoozed,
    HandoffReleased,
    HandoffStarted,
    NoteAdded,
    OptOutToReview,
    StaffReplied,
)
from bot.conversation.turn import Turn
from bot.delivery.timers import StaffTimer
from bot.domain.contacts import Contact, ConversationStatus
from bot.domain.guardrails import refusal
from bot.domain.messages import Kind, Message

OPEN, SNOOZED, RESOLVED, BOT = (
    ConversationStatus.OPEN,
    ConversationStatus.SNOOZED,
    ConversationStatus.RESOLVED,
    ConversationStatus.BOT,
)

# What staff are told when a reply cannot go, by the guardrail's reason.
REFUSALS = {
    "unsubscribed": "This contact opted out (STOP): they can't be texted until they text START.",
    "undeliverable": "This number can't receive texts (the carrier refused earlier messages).",
    "unknown_contact": "There is no such contact.",
}

NOTE_LIMIT = 4000  # characters; a note is for colleagues, not an essay
REPLY_LIMIT = 1600  # characters: Twilio's limit for one message's body


class Refused(Exception):
    """A staff action that cannot be done; the message says why, for the person."""


# inside a transition
def contact_wrote(turn: Turn) -> None:
    """Note an inbound text: a snoozed conversation reopens, and staff are waited on."""
    contact = turn.contact
    if contact.conversation == SNOOZED:
        reopen(turn)
    elif contact.conversation == OPEN and contact.waiting_since is None:
        contact.waiting_since = turn.stamp


def reopen(turn: Turn) -> None:
    """Give a snoozed or resolved conversation back to staff: the bot goes quiet again."""
    contact = turn.contact
    turn.log(ConversationReopened(was=str(contact.conversation)))
    if not contact.handoff:
        contact.handoff = True
        contact.handoff_reason = contact.handoff_reason or "reopened"
        turn.count("handoffs")
    contact.conversation = OPEN
    contact.snoozed_until = None
    contact.waiting_since = contact.waiting_since or turn.stamp
    contact.staff_at = None  # staff's silence counts from now


def take_over(turn: Turn, staff: str) -> None:
    """Make `staff` the owner: the conversation is open and the bot quiet."""
    contact = turn.contact
    if not contact.handoff:
        contact.handoff = True
        contact.handoff_reason = "staff"
        turn.log(HandoffStarted("staff"))
        turn.count("handoffs")
    contact.conversation = OPEN
    contact.snoozed_until = None
    if contact.assignee != staff:
        contact.assignee = staff
        turn.log(ConversationAssigned(staff, by=staff))
    contact.staff_at = turn.stamp


def hand_back(turn: Turn, by: str | None) -> None:
    """Return the conversation to the bot; a paused journey goes on from where it waits."""
    contact = turn.contact
    contact.handoff, contact.handoff_reason = False, None
    contact.conversation = BOT
    contact.assignee = None
    contact.waiting_since = contact.snoozed_until = None
    turn.log(HandoffReleased(by))


def reply(turn: Turn, staff: str, body: str, track_links: bool = False) -> Message:
    """Send `body` from `staff`; a first reply to a conversation not theirs takes it over.

    With `track_links`, its links go out as tracked short links (when there is a base URL).
    """
    text = body.strip()
    if not text:
        raise Refused("A reply needs some text.")
    if len(text) > REPLY_LIMIT:
        raise Refused(f"A reply can be at most {REPLY_LIMIT} characters.")
    blocked = refusal(turn.contact, Kind.CONVERSATION)
    if blocked:
        raise Refused(REFUSALS.get(blocked, f"This contact can't be texted now ({blocked})."))
    contact = turn.contact
    if contact.conversation != OPEN or contact.assignee is None:
        take_over(turn, staff)
    message = turn.send(text, Kind.CONVERSATION, author=staff, track_links=track_links)
    if contact.waiting_since:
        waited = turn.now - datetime.fromisoformat(contact.waiting_since)
        turn.log(StaffReplied(staff, round(max(waited.total_seconds(), 0.0), 3)))
    contact.waiting_since = None
    contact.staff_at = turn.stamp
    contact.read_seq = contact.message_seq
    return message


def note(turn: Turn, staff: str, text: str) -> None:
    """Keep a private note in the conversation."""
    text = text.strip()
    if not text:
        raise Refused("A note needs some text.")
    if len(text) > NOTE_LIMIT:
        raise Refused(f"A note can be at most {NOTE_LIMIT} characters.")
    turn.log(NoteAdded(text, by=staff))
    turn.contact.staff_at = turn.stamp


def assign(turn: Turn, by: str, to: str | None) -> None:
    """Give the conversation to `to` (None: to nobody, for anyone to pick up)."""
    contact = turn.contact
    if contact.assignee == to:
        return
    if to is not None:
        take_over(turn, to)
    contact.assignee = to
    contact.staff_at = turn.stamp
    if to is None or to != by:
        turn.log(ConversationAssigned(to, by=by))


def snooze(turn: Turn, by: str, until: datetime) -> None:
    """Park the conversation until `until`; the contact's next text reopens it sooner."""
    if until <= turn.now:
        raise Refused("Snooze until a time in the future.")
    contact = turn.contact
    if not contact.handoff:
        take_over(turn, by)
    contact.conversation = SNOOZED
    contact.snoozed_until = until.isoformat()
    contact.staff_at = turn.stamp
    turn.log(ConversationSnoozed(contact.snoozed_until, by=by))


def resolve(turn: Turn, by: str) -> None:
    """Close the conversation: the bot answers again, and the contact's next text reopens it."""
    contact = turn.contact
    contact.handoff, contact.handoff_reason = False, None
    contact.conversation = RESOLVED
    contact.waiting_since = contact.snoozed_until = None
    contact.staff_at = turn.stamp
    turn.log(ConversationResolved(by=by))


def mark_read(turn: Turn, seq: int) -> bool:
    """Note that staff have seen the conversation up to message `seq`; False if they had."""
    if seq <= turn.contact.read_seq:
        return False
    turn.contact.read_seq = min(seq, turn.contact.message_seq)
    return True


def clock_mark(contact: Contact) -> str | None:
    """Return when staff's silence began: their last action, else the hand-off."""
    return contact.staff_at or contact.waiting_since


def schedule_timers(turn: Turn, handback_after: float | None, notify: bool = False) -> None:
    """Set the timers a changed conversation needs: its snooze's end, staff's silence.

    With `notify`, a conversation that starts waiting for staff also gets a notice timer
    (due at once) for the hand-off webhook: set in the same commit, it cannot be lost.
    """
    contact = turn.contact
    before = (turn.changes.before or {}).get("contact") or {}
    starts = {HandoffStarted.type, ConversationReopened.type, OptOutToReview.type}
    if notify and contact.waiting_since and any(e["type"] in starts for e in turn.events):
        turn.schedule(turn.now, StaffTimer(contact.phone, "notify", contact.waiting_since))
    until = contact.snoozed_until
    if contact.conversation == SNOOZED and until and until != before.get("snoozed_until"):
        turn.schedule(datetime.fromisoformat(until), StaffTimer(contact.phone, "snooze", until))
    mark = clock_mark(contact)
    if handback_after and contact.conversation == OPEN and mark:
        earlier = before.get("staff_at") or before.get("waiting_since")
        if mark != earlier or before.get("conversation") != OPEN:
            due = datetime.fromisoformat(mark) + timedelta(seconds=handback_after)
            turn.schedule(due, StaffTimer(contact.phone, "handback", mark))


def time_up(turn: Turn, timer: StaffTimer) -> bool:
    """Act on a staff timer: reopen a snooze that ran out, hand back a silent conversation.

    Return False (nothing to save) when the conversation has moved on since it was set.
    """
    contact = turn.contact
    if timer.kind == "snooze":
        if contact.conversation != SNOOZED or contact.snoozed_until != timer.mark:
            return False
        reopen(turn)
        return True
    if timer.kind == "handback":
        if contact.conversation != OPEN or clock_mark(contact) != timer.mark:
            return False
        hand_back(turn, None)  # logged without a `by`: it went back by itself
        return True
    return False
