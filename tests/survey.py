"""The survey the analytics tests run: its journeys, its 120 phones, its Twilio side.

Events and texts go over HTTP, the sender to the Twilio emulator, status callbacks back
over HTTP, and the record is written by the recorder's writer: the way production goes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from bot.config import Settings
from bot.delivery.sender import Sender
from bot.record.drain import RecordDrain
from bot.record.writer import RecordWriter
from bot.runtime import Runtime
from bot.storage import keys
from tests.conftest import Clock
from tests.texting import Texter, post_signed

FLOWS = Path(__file__).parent / "webhooks" / "analytics_flows"
AUTH = {"Authorization": "Bearer test-token"}
ASK = "How did we do? Reply with a number from 1 to 5."
OFFERS = {
    "offer_a": "Thanks! Reply YES for 10% off your next visit.",
    "offer_b": "Thanks! Reply YES for a free whitening with your next visit.",
}
PEOPLE = 120
ZONE = ZoneInfo("America/New_York")  # the tests' DEFAULT_TIMEZONE: the days figures count on


def with_flows(settings: Settings) -> Settings:
    """Return `settings` with the survey's journeys loaded beside the built-in ones."""
    return replace(settings, flows_dir=str(FLOWS))


def day(moment: datetime) -> date:
    return moment.astimezone(ZONE).date()


def record(runtime: Runtime) -> None:
    """Copy the record stream into the record, as the recorder does."""
    zone = ZoneInfo(runtime.settings.default_timezone)
    writer = RecordWriter(runtime.record, zone)
    drain = RecordDrain(runtime.redis, writer, keys.RECORD, "test")
    while drain.run_once():
        pass


class Survey:
    """The 120 phones, the Twilio side of their messages, and what the test did."""

    def __init__(self, client: FlaskClient, runtime: Runtime, emulator, start: datetime) -> None:
        self.client, self.runtime, self.emulator = client, runtime, emulator
        self.start = start
        self.settings = runtime.settings
        self.phones = [
            Texter(client, f"+1415555{1000 + i}", self.settings.auth_token, "test-token")
            for i in range(PEOPLE)
        ]
        self.called_back: set[str] = set()
        self.waited: list[float] = []  # each reply a wait took, seconds after it began

    def send(self, failing: frozenset[str] = frozenset()) -> None:
        """Send what is queued and call back delivered (failed for `failing` phones)."""
        Sender(self.runtime).drain()
        for message in self.emulator.messages():
            if message["sid"] in self.called_back:
                continue
            self.called_back.add(message["sid"])
            status = "failed" if message["to"] in failing else "delivered"
            params = {"MessageSid": message["sid"], "MessageStatus": status, "To": message["to"]}
            response = post_signed(
                self.client, "/webhooks/twilio/status", params, self.settings.auth_token
            )
            assert response.status_code == 204

    def texts_to(self, phone: Texter) -> list[str]:
        return [m["body"] for m in self.emulator.messages() if m["to"] == phone.phone]

    def at(self, seconds: float) -> None:
        self.runtime.clock.now = self.start + timedelta(seconds=seconds)  # type: ignore[attr-defined]

    def figures(self, **query: str) -> dict[str, Any]:
        response = self.client.get(
            "/api/analytics/journeys/survey", query_string=query, headers=AUTH
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()


def real_now(clock: Clock) -> datetime:
    """Set the test clock to the real time, and return it: Redis' clock stamps sends,
    status callbacks and clicks, so the app's clock starts beside it."""
    clock.now = datetime.now(UTC).replace(microsecond=0)
    return clock.now


def a_clear_winner(survey: Survey, count: int) -> dict[str, str]:
    """Rate `count` people happy; only those sent offer A take it. Return each one's arm."""
    people = survey.phones[:count]
    for phone in people:
        assert phone.event("survey_due").status_code == 202
    survey.send()
    survey.at(60)
    for phone in people:
        assert phone.text("5").status_code == 200
    survey.send()
    arm = {
        phone.phone: next(a for a, text in OFFERS.items() if text in survey.texts_to(phone))
        for phone in people
    }
    survey.at(120)
    for phone in people:
        if arm[phone.phone] == "offer_a":  # only arm A's offer works
            assert phone.text("yes").status_code == 200
    survey.send()
    record(survey.runtime)
    return arm
