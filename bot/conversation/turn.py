"""One state transition of one contact: the changes it makes and the events it records."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from bot.conversation.log_events import (
    ConsentChanged,
    HandoffStarted,
    LogEvent,
    MessageReceived,
    MessageSuppressed,
    entry,
)
from bot.delivery.timers import TimeoutTimer, Timer, encode
from bot.domain.consent import Method, Purpose
from bot.domain.contacts import Contact, ConversationStatus
from bot.domain.guardrails import refusal
from bot.domain.links import Link, LinkPolicy, new_code, shorten
from bot.domain.messages import Direction, Kind, Message, Status
from bot.storage.store import Changes, timer_member
from flows.engine import Run
from flows.events import (
    ActionRequested,
    ConsentGranted,
    Event,
    FieldSet,
    GoalReached,
    HandoffRequested,
    JourneyEnded,
    JourneyStartRequested,
    MessageCreated,
    ResultSaved,
    SplitChosen,
    StageChanged,
    TagsChanged,
    WaitStarted,
)
from flows.state import RunStatus


class Turn:
    """Collects what one transition does to a contact, to be committed in one go."""

    def __init__(
        self,
        contact: Contact,
        now: datetime,
        *,
        stored: bool = True,
        links: LinkPolicy | None = None,
    ) -> None:
        self.contact = contact
        self.now = now
        self.links = links  # None: links go out as written (no LINK_BASE_URL)
        self.stamp = now.isoformat()  # `now` as every record of this transition writes it
        # What the record holds of the contact now (nothing for a new one), to send it the
        # difference only.
        self.changes = Changes(contact, before=contact.record_view() if stored else None)
        self.replies: list[str] = []
        self.inbound_text = ""  # what the contact just said, evidence for consent
        self.inbound_sid: str | None = None  # its MessageSid, where the evidence came in
        # What the contact was answering (the last text sent to them), when a journey that
        # asks for consent is waiting: the disclosure a consent they give agreed to.
        self.disclosure: str | None = None
        self.asking: dict[str, Message] = {}  # each run's latest message in this transition
        self.intent: str | None = None  # what the parser made of it
        self.discarded = False  # nothing to save after all

    def discard(self) -> None:
        """Drop this transition: the contact is left as it was stored."""
        self.discarded = True

    @property
    def events(self) -> list[dict[str, Any]]:
        """Return the events recorded so far, as data."""
        return self.changes.events

    def log(self, event: LogEvent | Event) -> None:
        """Record an event in the contact's event log, numbered in the contact's order."""
        self.contact.event_seq += 1
        self.changes.events.append(
            {"at": self.stamp, **entry(event), "seq": self.contact.event_seq}
        )

    def reply_taken(self, before: Run, after: Run, rating: int | None) -> None:
        """Say on the contact's text (its `message_received` event) which journey step took it.

        `before` is the waiting run that took the reply and `after` the run it became:
        `waited_s` is how long the contact took to answer the step's question, and
        `unclear` says that the reply moved nothing (a retry, or no branch for it).
        """
        received = next(
            (e for e in reversed(self.events) if e["type"] == MessageReceived.type), None
        )
        if received is None:
            return
        started = before.wait_started_at
        received.update(
            journey=before.journey,
            run_id=before.id,
            step=before.step,
            waited_s=round((self.now - started).total_seconds(), 3) if started else None,
            unclear=(
                after.status is RunStatus.WAITING
                and after.step == before.step
                and after.wait_seq == before.wait_seq
            ),
        )
        if rating is not None:
            received["rating"] = rating

    def record_inbound(self, sid: str, body: str) -> Message:
        """Record a message the contact sent."""
        message = Message(
            id=sid,
            phone=self.contact.phone,
            direction=Direction.INBOUND,
            body=body,
            status=Status.RECEIVED,
            at=self.stamp,
            sid=sid,
            seq=self._next_seq(),
        )
        self.changes.messages.append(message)
        self.count(f"messages:inbound:{message.status}")
        self.inbound_text = body
        self.inbound_sid = sid
        self.contact.last_active_at = self.stamp
        return message

    def send(
        self,
        text: str,
        kind: Kind,
        journey: str | None = None,
        step: str | None = None,
        author: str | None = None,
        quiet_hours: str = "",
        when_capped: str = "defer",
        track_links: bool = False,
        run: str | None = None,
    ) -> Message:
        """Queue an outbound message, or record it as suppressed if a guardrail forbids it.

        Marketing waits out quiet hours and counts against the frequency cap, unless it
        answers what the contact just sent; `quiet_hours` ("respect" or "ignore") is a
        journey's own say, and `when_capped` ("defer" or "skip") what a capped one does.
        With `track_links` (and a link base), each http(s) link goes out as a short link.
        """
        blocked = refusal(self.contact, kind)
        unasked = kind is Kind.MARKETING and not self.inbound_text
        quiet = quiet_hours or ("respect" if unasked else "ignore")
        message_id = uuid.uuid4().hex
        if track_links and self.links is not None and not blocked:
            text = self._shorten(text, message_id, journey, step)
        message = Message(
            id=message_id,
            phone=self.contact.phone,
            direction=Direction.OUTBOUND,
            body=text,
            status=Status.SUPPRESSED if blocked else Status.PENDING,
            at=self.stamp,
            kind=kind,
            journey=journey,
            step=step,
            seq=self._next_seq(),
            author=author,
            quiet_hours="respect" if quiet == "respect" else None,
            when_capped=when_capped if unasked else None,
            reason=blocked,
            run=run,
        )
        self.changes.messages.append(message)
        # Queued (pending) or withheld at once; the sending scripts count what follows.
        self.count(f"messages:outbound:{message.status}")
        if blocked:
            self.log(MessageSuppressed(reason=blocked, text=text))
        else:
            self.changes.outbox.append(message.ref)
            self.replies.append(text)
            self.contact.last_active_at = self.stamp
        return message

    def _shorten(self, text: str, message_id: str, journey: str | None, step: str | None) -> str:
        """Return `text` with its links as short links, kept with this transition's changes."""
        assert self.links is not None

        def make(url: str) -> Link:
            return Link(new_code(), url, self.contact.phone, message_id, journey, step, self.stamp)

        short, links = shorten(text, self.links.base, make)
        self.changes.links.extend(links)
        return short

    def _next_seq(self) -> int:
        """Number the next message of the conversation, in the order it happened."""
        self.contact.message_seq += 1
        return self.contact.message_seq

    def schedule(self, due: datetime, timer: Timer) -> None:
        """Add a durable timer that fires at `due`."""
        self.changes.timers.append((due.timestamp(), encode(timer)))

    def count(self, counter: str) -> None:
        """Increment an analytics counter."""
        self.changes.counters.append(counter)

    def handoff(self, reason: str) -> None:
        """Hand the conversation to staff; the bot stays quiet until it is released."""
        contact = self.contact
        if not contact.handoff:
            contact.handoff = True
            contact.handoff_reason = reason
            contact.staff_at = None  # staff's silence counts from the hand-off
            self.log(HandoffStarted(reason))
            self.count("handoffs")
        contact.conversation = ConversationStatus.OPEN
        contact.snoozed_until = None
        contact.waiting_since = contact.waiting_since or self.stamp

    def apply(self, run: Run, events: Iterable[Event]) -> None:
        """Store the engine's new run state, then act on each of its events."""
        self.contact.replace_run(run)
        for event in events:
            self.log(event)
            _HANDLERS[event.type](self, event)


def _message_created(turn: Turn, event: MessageCreated) -> None:
    turn.asking[event.run_id] = turn.send(
        event.text,
        Kind(event.kind),
        journey=event.journey,
        step=event.step,
        quiet_hours=event.quiet_hours,
        when_capped=event.when_capped,
        track_links=turn.links is not None and turn.links.tracks(event.journey),
        run=event.run_id,
    )


def _wait_started(turn: Turn, event: WaitStarted) -> None:
    # The message this wait asks for an answer to, if its step sent one in this transition.
    question = turn.asking.get(event.run_id) if event.waiting_for == "reply" else None
    if question is not None and question.step != event.step:
        question = None
    if event.timeout_at is not None:
        timer = TimeoutTimer(turn.contact.phone, event.run_id, event.seq)
        turn.schedule(event.timeout_at, timer)
        if question is not None:
            # If quiet hours or a cap hold the question, its wait moves with it.
            question.timeout = timer_member(encode(timer))
    run = turn.contact.run(event.run_id)
    if event.waiting_for == "reply" and run is not None:
        run.asked = question.body if question is not None else None  # what a consent agrees to


def _field_set(turn: Turn, event: FieldSet) -> None:
    turn.contact.fields[event.name] = event.value


def _stage_changed(turn: Turn, event: StageChanged) -> None:
    turn.contact.stage = event.stage


def _handoff_requested(turn: Turn, event: HandoffRequested) -> None:
    turn.handoff(event.reason)


def _tags_changed(turn: Turn, event: TagsChanged) -> None:
    tags = [tag for tag in turn.contact.tags if tag not in event.removed]
    turn.contact.tags = tags + [tag for tag in event.added if tag not in tags]


def _consent_granted(turn: Turn, event: ConsentGranted) -> None:
    where = f"{event.journey}/{event.step}"
    source = f"{turn.inbound_sid} in {where}" if turn.inbound_sid else f"sms reply in {where}"
    granted = turn.contact.grant(
        Purpose(event.purpose),
        True,
        source,
        turn.now,
        method=Method.REPLY if turn.inbound_text else Method.API,
        evidence=turn.inbound_text or None,
        disclosure=turn.disclosure,
    )
    turn.log(ConsentChanged(**granted))


def _result_saved(turn: Turn, event: ResultSaved) -> None:
    """The run holds its results, saved with it: the event log is all that is left to do."""


def _split_chosen(turn: Turn, event: SplitChosen) -> None:
    turn.count(f"split:{event.journey}:{event.step}:{event.variant}")


def _handled_by_the_runner(turn: Turn, event: Event) -> None:
    """Actions and journey starts need more than the contact: JourneyRunner does them."""


def _goal_reached(turn: Turn, event: GoalReached) -> None:
    turn.count(f"goal:{event.journey}:{event.goal}")


def _journey_ended(turn: Turn, event: JourneyEnded) -> None:
    turn.count(f"journey:{event.journey}:{event.status}")


_HANDLERS: dict[str, Callable[[Turn, Any], None]] = {
    MessageCreated.type: _message_created,
    WaitStarted.type: _wait_started,
    FieldSet.type: _field_set,
    ResultSaved.type: _result_saved,
    StageChanged.type: _stage_changed,
    HandoffRequested.type: _handoff_requested,
    GoalReached.type: _goal_reached,
    JourneyEnded.type: _journey_ended,
    TagsChanged.type: _tags_changed,
    ConsentGranted.type: _consent_granted,
    SplitChosen.type: _split_chosen,
    ActionRequested.type: _handled_by_the_runner,
    JourneyStartRequested.type: _handled_by_the_runner,
}
