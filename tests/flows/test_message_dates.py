"""Dates in messages: the year is shown when it is not this year in the contact's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows.definition import load_journeys
from flows.engine import Context, start
from flows.events import MessageCreated
from flows.template import NOW, render

PHONE = "+14155550123"
JOURNEYS = load_journeys()


@pytest.mark.parametrize(
    ("value", "zone", "now", "expected"),
    [
        ("2026-12-01T17:30:00Z", "America/Los_Angeles", "2026-11-30T17:00:00Z",
         "Tue, Dec 1 at 9:30 AM"),
        ("2027-01-05T17:30:00Z", "America/Los_Angeles", "2026-11-30T17:00:00Z",
         "Tue, Jan 5, 2027 at 9:30 AM"),
        ("2025-12-30T17:30:00Z", "America/Los_Angeles", "2026-01-02T17:00:00Z",
         "Tue, Dec 30, 2025 at 9:30 AM"),
        # New Year's Eve in Los Angeles is already 2027 in UTC: this year is the contact's.
        ("2027-01-01T20:00:00Z", "America/Los_Angeles", "2027-01-01T03:00:00Z",
         "Fri, Jan 1, 2027 at 12:00 PM"),
        ("2027-01-01T20:00:00Z", "Asia/Tokyo", "2027-01-01T03:00:00Z", "Sat, Jan 2 at 5:00 AM"),
    ],
)  # fmt: skip
def test_times_show_the_year_when_it_is_not_this_year(
    value: str, zone: str, now: str, expected: str
) -> None:
    variables = {
        "contact": {"timezone": zone},
        "event": {"at": value},
        NOW: datetime.fromisoformat(now),
    }
    assert render("{{ event.at | local_time }}", variables) == expected
    assert render("{{ event.at | local_date }}", variables) == expected.split(" at ")[0]


def test_a_plain_date_shows_its_year_when_it_is_not_this_year() -> None:
    variables = {
        "contact": {"timezone": "UTC"},
        "event": {"on": "2027-03-01"},
        NOW: datetime(2026, 11, 30, tzinfo=UTC),
    }
    assert render("{{ event.on | local_date }}", variables) == "Mon, Mar 1, 2027"
    assert render("{{ event.on | local_time }}", variables) == "Mon, Mar 1, 2027"


def test_a_booking_next_year_says_which_year() -> None:
    contact = {"phone": PHONE, "fields": {"first_name": "Ana"}, "timezone": "America/New_York"}
    ctx = Context(contact, {"name": "Bright Smile Dental"}, datetime(2026, 12, 20, tzinfo=UTC))
    data = {"appointment_at": "2027-01-04T15:00:00Z", "provider": "Dr. Lee"}
    _, events = start(JOURNEYS["appointment_confirmation"], ctx, data, "r")
    texts = [e.text for e in events if isinstance(e, MessageCreated)]
    assert "You're booked with Dr. Lee on Mon, Jan 4, 2027 at 10:00 AM." in texts[0]
