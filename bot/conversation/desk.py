"""The staff desk: each action staff take on a conversation, in a transition of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from bot.conversation import opt_out_review, staffing
from bot.conversation.runner import Conversations
from bot.conversation.turn import Turn
from bot.delivery.timers import StaffTimer
from bot.domain.contacts import Contact
from bot.domain.messages import Message


class StaffDesk:
    """Staff actions on conversations, each in a transition of its own."""

    def __init__(self, conversations: Conversations) -> None:
        self.conversations = conversations

    def take_over(self, phone: str, staff: str) -> Contact:
        """Make `staff` the owner of the contact's conversation."""
        with self._turn(phone) as turn:
            staffing.take_over(turn, staff)
            return turn.contact

    def hand_off(self, phone: str, reason: str) -> Contact:
        """Take the conversation from the bot: open, for any staff member to pick up."""
        with self._turn(phone) as turn:
            turn.handoff(reason)
            return turn.contact

    def hand_back(self, phone: str, by: str | None) -> bool:
        """Give the conversation back to the bot; False if it was the bot's already."""
        return self.conversations.release_handoff(phone, by)

    def reply(self, phone: str, staff: str, body: str, track_links: bool = False) -> Message:
        """Send a staff reply; raise Refused, saying why, when it may not go.

        With `track_links`, its links go out as tracked short links.
        """
        with self._turn(phone) as turn:
            return staffing.reply(turn, staff, body, track_links)

    def note(self, phone: str, staff: str, text: str) -> None:
        """Keep a private note."""
        with self._turn(phone) as turn:
            staffing.note(turn, staff, text)

    def assign(self, phone: str, by: str, to: str | None) -> Contact:
        """Give the conversation to another staff member, or to nobody."""
        with self._turn(phone) as turn:
            staffing.assign(turn, by, to)
            return turn.contact

    def snooze(self, phone: str, by: str, until: datetime) -> None:
        """Park the conversation until a time."""
        with self._turn(phone) as turn:
            staffing.snooze(turn, by, until)

    def keep_opt_out(self, phone: str, staff: str) -> None:
        """Confirm an opt-out read from plain words; raise Refused if none waits."""
        with self._turn(phone) as turn:
            opt_out_review.keep(turn, staff)

    def undo_opt_out(self, phone: str, staff: str) -> None:
        """Undo an opt-out read from plain words; raise Refused if none waits."""
        with self._turn(phone) as turn:
            opt_out_review.undo(turn, staff)

    def resolve(self, phone: str, by: str) -> None:
        """Close the conversation."""
        with self._turn(phone) as turn:
            staffing.resolve(turn, by)

    def fire(self, timer: StaffTimer) -> None:
        """Act on a snooze's end or staff's silence, unless the conversation moved on."""
        with self.conversations.transition_existing(timer.phone) as turn:
            if turn is not None and not staffing.time_up(turn, timer):
                turn.discard()

    def mark_read(self, phone: str, seq: int) -> None:
        """Note what staff have seen; saves nothing when there is nothing new."""
        with self.conversations.transition_existing(phone) as turn:
            if turn is not None and not staffing.mark_read(turn, seq):
                turn.discard()

    @contextmanager
    def _turn(self, phone: str) -> Iterator[Turn]:
        with self.conversations.transition_existing(phone) as turn:
            if turn is None:
                raise LookupError(f"no contact {phone}")
            yield turn
