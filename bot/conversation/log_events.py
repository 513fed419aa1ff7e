"""What the bot itself records in a contact's event log, beside the engine's events.

Each is a typed record whose `type` names it in the stored log; `Turn.log` stamps and
stores them, as it stores the engine's events (flows.events). Readers of the log (the
API, the record, analytics) match on these `type` names, so they are part of the contract.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from flows.events import Event, as_dict


@dataclass(frozen=True)
class MessageReceived:
    """The contact texted in, and this is what the parser made of it."""

    type: ClassVar[str] = "message_received"
    text: str
    intent: str
    confidence: float
    message: str | None = None  # the message's id (its MessageSid)


@dataclass(frozen=True)
class MessageSuppressed:
    """A message was not queued because a guardrail forbids it (the reason says which)."""

    type: ClassVar[str] = "message_suppressed"
    reason: str
    text: str


@dataclass(frozen=True)
class EventReceived:
    """A business event arrived through the API."""

    type: ClassVar[str] = "event_received"
    event: str


@dataclass(frozen=True)
class ConversionReported:
    """A business event that counts as a conversion, for the record to credit to a journey.

    `windows` holds, for each journey it converts for, how long after a click and after
    a received message (in seconds) that journey's messages can claim it.
    """

    type: ClassVar[str] = "conversion_reported"
    event: str
    total: str | None
    currency: str | None
    windows: dict[str, list[float]]


@dataclass(frozen=True)
class ConsentChanged:
    """A consent decision with its evidence, as the consent ledger keeps it.

    `method` says how it was made (bot.domain.consent.Method); `source` names where (the
    MessageSid, the API's source, the staff member); `evidence` is the raw text or
    request; `disclosure` what the person was told they were agreeing to.
    """

    type: ClassVar[str] = "consent_changed"
    purpose: str
    granted: bool
    source: str
    at: str
    evidence: str | None = None
    method: str = "api"
    disclosure: str | None = None


@dataclass(frozen=True)
class OptedIn:
    """The contact texted START (or the like) and is subscribed again."""

    type: ClassVar[str] = "opted_in"
    source: str


@dataclass(frozen=True)
class OptedOut:
    """The contact is unsubscribed from everything."""

    type: ClassVar[str] = "opted_out"
    source: str


@dataclass(frozen=True)
class OptOutRepeated:
    """An opt-out from a contact who was already out: nothing changes, it is kept as evidence."""

    type: ClassVar[str] = "opt_out_repeated"
    source: str


@dataclass(frozen=True)
class OptOutToReview:
    """An opt-out read from plain words: honoured at once, and put before staff to confirm.

    A misread ("stop by the desk first?") can then be undone by a person.
    """

    type: ClassVar[str] = "opt_out_to_review"
    text: str


@dataclass(frozen=True)
class OptOutKept:
    """Staff confirmed an opt-out read from plain words."""

    type: ClassVar[str] = "opt_out_kept"
    by: str


@dataclass(frozen=True)
class OptOutUndone:
    """Staff undid an opt-out read from plain words: the contact's consent is as it was."""

    type: ClassVar[str] = "opt_out_undone"
    by: str
    text: str


@dataclass(frozen=True)
class Undeliverable:
    """Twilio says the number cannot receive SMS."""

    type: ClassVar[str] = "undeliverable"
    error_code: int


@dataclass(frozen=True)
class HandoffStarted:
    """Staff now own the conversation; the bot stays quiet."""

    type: ClassVar[str] = "handoff_started"
    reason: str


@dataclass(frozen=True)
class StaffReplied:
    """Staff answered a contact who was waiting for them, `waited_s` seconds after."""

    type: ClassVar[str] = "staff_replied"
    by: str
    waited_s: float


@dataclass(frozen=True)
class CampaignSent:
    """Staff sent the contact a marketing campaign's message, `message` by its id."""

    type: ClassVar[str] = "campaign_sent"
    campaign: str
    message: str
    by: str


@dataclass(frozen=True)
class HandoffReleased:
    """The conversation is the bot's again: `by` staff, or by itself after HANDBACK_AFTER."""

    type: ClassVar[str] = "handoff_released"
    by: str | None = None


@dataclass(frozen=True)
class ConversationAssigned:
    """A staff member now owns the conversation (`by` whoever assigned it)."""

    type: ClassVar[str] = "conversation_assigned"
    assignee: str | None
    by: str


@dataclass(frozen=True)
class ConversationSnoozed:
    """Staff parked the conversation until a time."""

    type: ClassVar[str] = "conversation_snoozed"
    until: str
    by: str


@dataclass(frozen=True)
class ConversationResolved:
    """Staff are done with the conversation; the bot answers again."""

    type: ClassVar[str] = "conversation_resolved"
    by: str


@dataclass(frozen=True)
class ConversationReopened:
    """The contact wrote to a snoozed or resolved conversation, or its snooze ran out."""

    type: ClassVar[str] = "conversation_reopened"
    was: str


@dataclass(frozen=True)
class NoteAdded:
    """A private note from staff: never sent to the contact."""

    type: ClassVar[str] = "note_added"
    text: str
    by: str


@dataclass(frozen=True)
class JourneyStarted:
    """A journey run began for the contact."""

    type: ClassVar[str] = "journey_started"
    journey: str
    run_id: str


@dataclass(frozen=True)
class JourneySkipped:
    """A journey did not start for the contact, and why."""

    type: ClassVar[str] = "journey_skipped"
    journey: str
    reason: str


@dataclass(frozen=True)
class JourneyScheduled:
    """A date-triggered journey will start for the contact at `at`."""

    type: ClassVar[str] = "journey_scheduled"
    journey: str
    at: str


@dataclass(frozen=True)
class JourneyUnscheduled:
    """A date-triggered start was called off by the event `reason` (e.g. a cancellation)."""

    type: ClassVar[str] = "journey_unscheduled"
    journey: str
    reason: str


@dataclass(frozen=True)
class ActionFailure:
    """A custom action raised; the run went on without its results."""

    type: ClassVar[str] = "action_failed"
    action: str
    error: str


@dataclass(frozen=True)
class LinkClicked:
    """The contact followed a tracked link; journeys that start or wait on it were told."""

    type: ClassVar[str] = "link_clicked"
    url: str
    message: str | None = None
    journey: str | None = None  # the journey (and step) that sent the link, if one did
    step: str | None = None


LogEvent = (
    MessageReceived
    | MessageSuppressed
    | EventReceived
    | ConversionReported
    | ConsentChanged
    | OptedIn
    | OptedOut
    | OptOutRepeated
    | OptOutToReview
    | OptOutKept
    | OptOutUndone
    | Undeliverable
    | HandoffStarted
    | StaffReplied
    | CampaignSent
    | HandoffReleased
    | ConversationAssigned
    | ConversationSnoozed
    | ConversationResolved
    | ConversationReopened
    | NoteAdded
    | JourneyStarted
    | JourneySkipped
    | JourneyScheduled
    | JourneyUnscheduled
    | ActionFailure
    | LinkClicked
)


def entry(event: LogEvent | Event) -> dict[str, Any]:
    """Return the event as the log stores it: JSON-safe, with its type first."""
    if isinstance(event, LogEvent):
        # Only strings, numbers and booleans; an unset option is left out, not null.
        fields = ((f.name, getattr(event, f.name)) for f in dataclasses.fields(event))
        return {"type": event.type, **{name: value for name, value in fields if value is not None}}
    return as_dict(event)
