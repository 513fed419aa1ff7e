"""Staff take conversations over, reply, and hand them back, through the JSON API.

The clock starts at 2026-11-30 17:00 UTC; the contact's number is in Los Angeles.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from bot.delivery.sender import Sender
from bot.record import schema
from bot.runtime import Runtime
from bot.worker import tick
from parley.app import create_app
from sandbox.emulator_server import EmulatorServer
from tests.texting import Texter
from tests.webhooks.test_history import record_everything

PHONE = "+14155550123"
ANA = "ana@clinic.test"
WEDNESDAY = "2026-12-02T17:30:00Z"


class Desk:
    """A helpdesk driving Parley through the API, and the phone it texts."""

    def __init__(self, client: FlaskClient, texter: Texter, runtime: Runtime, emulator) -> None:
        self.client, self.texter, self.runtime, self.emulator = client, texter, runtime, emulator
        self.seen = 0

    def post(self, action: str, body: dict[str, Any] | None = None) -> Any:
        url = f"/api/contacts/{quote(PHONE)}/{action}"
        return self.client.post(url, json=body, headers=self.texter.headers)

    def reply(self, body: str, author: str = ANA) -> Any:
        return self.post("messages", {"body": body, "author": author})

    def conversation(self) -> dict[str, Any]:
        return self.texter.contact()["conversation"]

    def received(self) -> list[str]:
        """Return the texts that reached the phone since the last call."""
        Sender(self.runtime).drain()
        bodies = [m["body"] for m in self.emulator.messages() if m["to"] == PHONE]
        new, self.seen = bodies[self.seen :], len(bodies)
        return new

    def text(self, body: str) -> None:
        assert self.texter.text(body).status_code == 200


@pytest.fixture
def desk(client: FlaskClient, settings, runtime: Runtime, emulator: EmulatorServer) -> Desk:
    texter = Texter(client, PHONE, settings.auth_token, settings.api_token)
    return Desk(client, texter, runtime, emulator)


def test_a_request_for_a_person_waits_for_staff_and_the_bot_goes_quiet(desk: Desk) -> None:
    desk.text("can I talk to a real person please")
    assert desk.received() == ["OK, someone from our team will text you back shortly."]
    waiting = desk.conversation()
    assert waiting["status"] == "open"
    assert waiting["assignee"] is None
    assert waiting["waiting_since"] == "2026-11-30T17:00:00+00:00"
    desk.text("hello?")
    assert desk.received() == []  # the bot says nothing while staff own it


def test_a_staff_reply_goes_out_takes_the_conversation_and_clears_the_wait(desk: Desk) -> None:
    desk.text("I need a human")
    desk.received()
    response = desk.reply("Hi, this is Ana. How can I help?")
    assert response.status_code == 201, response.get_json()
    sent = response.get_json()
    assert sent["author"] == ANA
    assert sent["status"] == "pending"
    assert desk.received() == ["Hi, this is Ana. How can I help?"]
    owned = desk.conversation()
    assert (owned["status"], owned["assignee"], owned["waiting_since"]) == ("open", ANA, None)
    desk.text("my appointment is wrong")
    assert desk.received() == []
    assert desk.conversation()["waiting_since"] is not None


def test_a_first_staff_reply_takes_a_bot_conversation_over(desk: Desk) -> None:
    desk.text("hello")
    desk.received()
    assert desk.reply("Hi from the front desk").status_code == 201
    assert desk.conversation()["status"] == "open"
    desk.text("thanks")
    assert desk.received() == ["Hi from the front desk"]  # no bot "You're welcome!"


def test_stop_is_honoured_during_a_takeover_and_staff_can_no_longer_text(desk: Desk) -> None:
    desk.text("agent please")
    desk.reply("Hello, Ana here")
    desk.received()
    desk.text("STOP")
    confirmation = desk.received()
    assert len(confirmation) == 1 and "unsubscribed" in confirmation[0].lower()
    response = desk.reply("Are you sure?")
    assert response.status_code == 409
    assert "opted out" in response.get_json()["error"]
    assert desk.received() == []


def test_hand_back_returns_the_conversation_and_the_journey_resumes(desk: Desk) -> None:
    booked = desk.texter.event("appointment_booked", {"appointment_at": WEDNESDAY})
    assert booked.status_code == 202
    assert len(desk.received()) == 1  # the confirmation request
    assert desk.post("handoff", {"reason": "billing question"}).status_code == 200
    desk.text("YES")
    assert desk.received() == []  # staff own it: the journey does not see the reply
    contact = desk.post("handback", {"author": ANA}).get_json()
    assert contact["handoff"] is False
    assert contact["conversation"]["status"] == "bot"
    desk.text("YES")
    confirmed = desk.received()
    assert len(confirmed) == 1 and "confirmed" in confirmed[0].lower()
    released = [e for e in desk.texter.events() if e["type"] == "handoff_released"]
    assert released[-1]["by"] == ANA


def test_a_resolved_conversation_reopens_when_the_bot_cannot_answer(desk: Desk) -> None:
    desk.text("I want a person")
    desk.reply("Done, your refund is on its way")
    desk.received()
    desk.runtime.desk.resolve(PHONE, ANA)
    assert desk.conversation()["status"] == "resolved"
    desk.text("actually one more question about the refund")
    assert desk.received() == []  # not the bot's small talk: staff pick it up
    reopened = desk.conversation()
    assert reopened["status"] == "open" and reopened["assignee"] == ANA
    assert reopened["waiting_since"] is not None


def test_a_resolved_conversation_stays_with_the_bot_for_what_a_journey_answers(
    desk: Desk,
) -> None:
    desk.texter.event("appointment_booked", {"appointment_at": WEDNESDAY})
    desk.received()
    desk.runtime.desk.resolve(PHONE, ANA)
    desk.text("YES")
    assert "confirmed" in desk.received()[0].lower()
    assert desk.conversation()["status"] == "resolved"


def test_a_snoozed_conversation_reopens_when_the_contact_writes(desk: Desk, clock) -> None:
    desk.text("operator")
    desk.reply("Let me check and get back to you tomorrow")
    desk.runtime.desk.snooze(PHONE, ANA, clock() + timedelta(days=1))
    assert desk.conversation()["status"] == "snoozed"
    desk.received()
    desk.text("any news?")
    assert desk.received() == []
    assert desk.conversation()["status"] == "open"
    reopened = [e for e in desk.texter.events() if e["type"] == "conversation_reopened"]
    assert [e["was"] for e in reopened] == ["snoozed"]


def test_the_record_keeps_who_owns_the_conversation_and_who_wrote_each_message(
    desk: Desk,
) -> None:
    desk.text("human please")
    desk.reply("Ana here")
    record_everything(desk.runtime)
    with desk.runtime.record.connect() as connection:
        contact = connection.execute(
            schema.contacts.select().where(schema.contacts.c.phone == PHONE)
        ).one()
        authors = [
            row.author
            for row in connection.execute(
                schema.messages.select()
                .where(schema.messages.c.phone == PHONE)
                .order_by(schema.messages.c.seq)
            )
        ]
    assert (contact.conversation, contact.assignee) == ("open", ANA)
    assert contact.message_seq == 3
    assert authors == [None, None, ANA]
    history = desk.texter.messages()
    assert history[-1]["author"] == ANA


@pytest.mark.parametrize(
    ("action", "body", "status", "error"),
    [
        ("messages", {"body": ""}, 400, "'body' must be a non-empty string"),
        ("messages", {"text": "hi"}, 400, "unknown field 'text'"),
        ("messages", {"body": "x" * 1601}, 400, "at most 1600 characters"),
        ("handoff", {"reason": 5}, 400, "'reason' must be a string"),
    ],
)
def test_bad_staff_requests_say_what_is_wrong(
    desk: Desk, action: str, body: dict[str, Any], status: int, error: str
) -> None:
    desk.text("hello")
    response = desk.post(action, body)
    assert response.status_code == status
    assert error in response.get_json()["error"]


def test_staff_actions_on_an_unknown_contact_are_404(desk: Desk) -> None:
    for action in ("messages", "handoff", "handback"):
        response = desk.post(action, {"body": "hi"} if action == "messages" else None)
        assert response.status_code == 404, action


def test_a_snooze_that_runs_out_reopens_the_conversation(desk: Desk, clock) -> None:
    desk.text("human")
    desk.reply("Checking with the lab, back tomorrow")
    desk.runtime.desk.snooze(PHONE, ANA, clock() + timedelta(hours=4))
    clock.advance(hours=3, minutes=59)
    tick(desk.runtime)
    assert desk.conversation()["status"] == "snoozed"
    clock.advance(minutes=1)
    tick(desk.runtime)
    reopened = desk.conversation()
    assert (reopened["status"], reopened["assignee"]) == ("open", ANA)
    assert reopened["waiting_since"] == clock().isoformat()


@pytest.fixture
def hourly(settings, redis_url: str, clock, emulator: EmulatorServer) -> Iterator[Desk]:
    """A desk on a deployment with HANDBACK_AFTER=1h."""
    runtime = Runtime(replace(settings, handback_after=3600.0), redis_url, clock)
    client = create_app(runtime).test_client()
    yield Desk(
        client, Texter(client, PHONE, settings.auth_token, settings.api_token), runtime, emulator
    )
    runtime.record.dispose()


def test_staff_silent_for_handback_after_give_the_conversation_back(hourly: Desk, clock) -> None:
    desk = hourly
    desk.text("can I speak to someone")
    clock.advance(minutes=50)
    desk.reply("Hi, Ana here")  # staff act: the hour counts from now
    clock.advance(minutes=30)
    tick(desk.runtime)  # the hand-off's own hour has passed, but staff acted since
    assert desk.conversation()["status"] == "open"
    desk.text("thanks, and one more thing")  # the contact writing does not reset it
    clock.advance(minutes=30)
    tick(desk.runtime)
    assert desk.conversation()["status"] == "bot"
    released = [e for e in desk.texter.events() if e["type"] == "handoff_released"]
    assert len(released) == 1 and "by" not in released[0]
    desk.received()
    desk.text("hello")
    assert desk.received() == ["Hi! This is Bright Smile Dental. How can we help?"]


def test_without_handback_after_a_conversation_stays_with_staff(desk: Desk, clock) -> None:
    desk.text("agent")
    clock.advance(days=30)
    tick(desk.runtime)
    assert desk.conversation()["status"] == "open"


def test_asking_for_a_person_mid_journey_hands_off_and_the_journey_waits(desk: Desk) -> None:
    desk.text("JOIN")
    assert "Reply YES to confirm" in desk.received()[0]
    desk.text("can I talk to a person first?")
    assert desk.received() == ["OK, someone from our team will text you back shortly."]
    assert desk.conversation()["status"] == "open"
    desk.reply("Hi! Yes, the offers are weekly. Anything else?")
    desk.received()
    assert desk.post("handback", {"author": ANA}).status_code == 200
    desk.text("YES")
    assert desk.received() == [
        "Welcome! You're in. Here's 10% off your next order: use code WELCOME10."
        " Reply STOP to opt out."
    ]
