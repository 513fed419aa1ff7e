"""One transition of one contact: what it queues, records and refuses, before any save."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.conversation.turn import Turn
from bot.domain.contacts import Contact, Purpose
from bot.domain.messages import Kind, Status
from flows.engine import Run, RunStatus
from flows.events import ConsentGranted, FieldSet, HandoffRequested, TagsChanged, WaitStarted

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def contact(**overrides: object) -> Contact:
    """Return a subscribed contact with no consent for marketing."""
    fields = {"phone": "+14155550100", "timezone": "America/Los_Angeles", "created_at": "x"}
    return Contact(**{**fields, **overrides})  # type: ignore[arg-type]


def run(journey: str = "welcome") -> Run:
    """Return a run of `journey` at its first step."""
    return Run(id="r1", journey=journey, step="ask", status=RunStatus.WAITING, started_at=NOW)


def test_a_message_the_contact_may_get_is_queued_and_counted_as_a_reply() -> None:
    turn = Turn(contact(), NOW)
    message = turn.send("Hi", Kind.CONVERSATION)
    assert message.status is Status.PENDING
    assert turn.changes.outbox == [message.ref]
    assert turn.replies == ["Hi"]
    assert turn.contact.last_active_at == NOW.isoformat()


def test_a_refused_message_is_recorded_as_suppressed_and_never_queued() -> None:
    turn = Turn(contact(), NOW)
    message = turn.send("20% off", Kind.MARKETING)
    assert message.status is Status.SUPPRESSED
    assert turn.changes.outbox == [] and turn.replies == []
    assert turn.events == [
        {
            "at": NOW.isoformat(),
            "type": "message_suppressed",
            "reason": "no_marketing_consent",
            "text": "20% off",
            "seq": 1,  # the contact's first event
        }
    ]


def test_compliance_replies_go_even_to_an_unsubscribed_contact() -> None:
    turn = Turn(contact(subscribed=False), NOW)
    message = turn.send("You are unsubscribed.", Kind.COMPLIANCE)
    assert turn.changes.outbox == [message.ref]


def test_a_handoff_is_logged_and_counted_once() -> None:
    turn = Turn(contact(), NOW)
    turn.handoff("requested")
    turn.handoff("again")
    assert turn.contact.handoff and turn.contact.handoff_reason == "requested"
    assert [e["type"] for e in turn.events] == ["handoff_started"]
    assert turn.changes.counters == ["handoffs"]


def test_engine_events_are_logged_then_acted_on() -> None:
    turn = Turn(contact(tags=["lead"]), NOW)
    turn.inbound_text = "YES"
    later = datetime(2026, 12, 1, tzinfo=UTC)
    turn.apply(
        run(),
        [
            FieldSet("first_name", "Ana"),
            TagsChanged(added=("customer",), removed=("lead",)),
            ConsentGranted("r1", "welcome", "ask", "marketing"),
            WaitStarted("r1", "welcome", "ask", 2, later),
            HandoffRequested("r1", "welcome", "ask", "asked for a person"),
        ],
    )
    person = turn.contact
    assert person.fields == {"first_name": "Ana"}
    assert person.tags == ["customer"]
    assert person.has_consent(Purpose.MARKETING)
    assert person.handoff
    assert [timer for _, timer in turn.changes.timers] == [
        {"type": "timeout", "phone": person.phone, "run": "r1", "seq": 2}
    ]
    assert turn.changes.timers[0][0] == later.timestamp()
    consent = next(e for e in turn.events if e["type"] == "consent_changed")
    assert consent["evidence"] == "YES" and consent["source"] == "sms reply in welcome/ask"
    assert [e["type"] for e in turn.events] == [
        "field_set",
        "tags_changed",
        "consent_granted",
        "consent_changed",
        "wait_started",
        "handoff_requested",
        "handoff_started",
    ]
