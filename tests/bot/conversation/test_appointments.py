"""Appointments over HTTP: what a patient's answer about one booking does to the others.

The clock starts at 2026-11-30 17:00 UTC (9 AM in Los Angeles, the test number's zone).
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.delivery.sender import Sender
from bot.worker import tick
from tests.texting import Texter

PHONE = "+14155550123"
MONDAY = "2026-11-30T19:30:00Z"  # 2.5 hours from the start: the reminders begin at once
WEDNESDAY = "2026-12-02T17:30:00Z"  # reminders from Tuesday 17:30
FRIDAY = "2026-12-04T17:30:00Z"  # reminders from Thursday 17:30


class Patient:
    """A patient's phone and the clinic's booking system, with what reached the phone."""

    def __init__(self, client, settings, runtime, clock, emulator) -> None:
        self.texter = Texter(client, PHONE, settings.auth_token, settings.api_token)
        self.runtime, self.clock, self.emulator = runtime, clock, emulator
        response = client.post(
            "/api/contacts",
            json={"phone": PHONE, "fields": {"first_name": "Ana"}},
            headers=self.texter.headers,
        )
        assert response.status_code == 200
        self.seen = 0

    def book(self, at: str, provider: str = "Dr. Lee", **ids: str) -> dict[str, Any]:
        data = {"appointment_at": at, "provider": provider, **ids}
        response = self.texter.event("appointment_booked", data)
        assert response.status_code == 202, response.get_json()
        return response.get_json()

    def cancel(self, **ids: str) -> dict[str, Any]:
        response = self.texter.event("appointment_cancelled", ids)
        assert response.status_code == 202, response.get_json()
        return response.get_json()

    def text(self, body: str) -> None:
        assert self.texter.text(body).status_code == 200

    def wait(self, **delta: float) -> None:
        self.clock.advance(**delta)
        tick(self.runtime)

    def received(self) -> list[str]:
        """Return the texts that reached the phone since the last call."""
        Sender(self.runtime).drain()
        bodies = [m["body"] for m in self.emulator.messages() if m["to"] == PHONE]
        new, self.seen = bodies[self.seen :], len(bodies)
        return new

    def contact(self) -> dict[str, Any]:
        return self.texter.contact()


@pytest.fixture
def patient(client, settings, runtime, clock, emulator) -> Patient:
    return Patient(client, settings, runtime, clock, emulator)


def _reminders(texts: list[str]) -> list[str]:
    return [t for t in texts if t.startswith(("Reminder from", "See you soon", "Thanks for visit"))]


def test_a_cancelled_booking_gets_no_reminders(patient: Patient) -> None:
    patient.book(WEDNESDAY)
    patient.text("No")
    assert patient.received()[-1].startswith("Your appointment on Wed, Dec 2")
    patient.wait(days=1, minutes=30)  # the reminders' start: they skip
    patient.wait(days=2)  # well after the visit
    assert patient.received() == []


def test_a_no_after_the_reminders_began_stops_the_rest(patient: Patient) -> None:
    # Booked hours ahead, the reminders journey starts with the booking and waits for
    # the last reminder, two hours before the visit.
    patient.book(MONDAY)
    patient.wait(minutes=1)  # the reminders' start timer, due at once
    assert len(patient.received()) == 1  # the confirmation request
    assert [j["journey"] for j in patient.contact()["journeys"]] == [
        "appointment_confirmation",
        "appointment_reminders",
    ]
    patient.text("No")
    assert patient.received() == [
        "Your appointment on Mon, Nov 30 at 11:30 AM is cancelled. Text us any time to book again."
    ]
    patient.wait(minutes=29)  # when the last reminder was due
    patient.wait(hours=4)  # after the visit, when the rating was due
    assert patient.received() == []


def test_a_cancel_event_stops_reminders_not_yet_started(patient: Patient) -> None:
    patient.book(WEDNESDAY)
    patient.received()
    assert patient.cancel() == {"started": [], "skipped": []}
    patient.wait(days=1, minutes=30)
    patient.wait(days=2)
    assert patient.received() == []


def test_bookings_with_ids_are_kept_apart(patient: Patient) -> None:
    assert patient.book(WEDNESDAY, booking_id="a-1")["started"] == ["appointment_confirmation"]
    assert patient.book(FRIDAY, "Dr. Kim", booking_id="b-2")["started"] == [
        "appointment_confirmation"
    ]
    assert len(patient.received()) == 2
    patient.cancel(booking_id="a-1")
    journeys = patient.contact()["journeys"]
    assert [(j["journey"], j["status"]) for j in journeys] == [
        ("appointment_confirmation", "exited"),
        ("appointment_confirmation", "waiting"),
    ]
    patient.text("Yes")  # the open question is about Friday
    assert patient.received() == [
        "Thanks Ana, you're confirmed for Fri, Dec 4 at 9:30 AM. See you then!"
    ]
    patient.wait(days=1, minutes=30)  # Tuesday 17:30: Wednesday's reminders would start
    assert patient.received() == []
    patient.wait(days=2)  # Thursday 17:30
    patient.wait(hours=22)
    patient.wait(hours=4)
    assert _reminders(patient.received()) == [
        "Reminder from Bright Smile Dental: you're booked with Dr. Kim on Fri, Dec 4 at 9:30 AM."
        " See you then!",
        "See you soon, Ana! Your appointment with Dr. Kim is on Fri, Dec 4 at 9:30 AM.",
        "Thanks for visiting Bright Smile Dental today. How did we do? Reply with a number"
        " from 1 to 5 (5 = great).",
    ]


def test_two_live_bookings_each_get_their_reminders(patient: Patient) -> None:
    patient.book(WEDNESDAY, booking_id="a-1")
    patient.book(FRIDAY, "Dr. Kim", booking_id="b-2")
    patient.received()
    patient.wait(days=1, minutes=30)  # Tuesday 17:30
    assert _reminders(patient.received()) == [
        "Reminder from Bright Smile Dental: you're booked with Dr. Lee on Wed, Dec 2 at 9:30 AM."
        " See you then!"
    ]
    patient.wait(days=2)  # Thursday 17:30
    assert "you're booked with Dr. Kim on Fri, Dec 4" in " ".join(patient.received())


def test_booking_the_same_id_again_moves_its_confirmation_and_reminders(
    patient: Patient,
) -> None:
    patient.book(WEDNESDAY, booking_id="a-1")
    patient.received()
    patient.book(FRIDAY, booking_id="a-1")
    assert patient.received() == [
        "Hi Ana, this is Bright Smile Dental. You're booked with Dr. Lee on Fri, Dec 4 at"
        " 9:30 AM. Reply YES to confirm, NO to cancel or R to reschedule."
    ]
    patient.text("Yes")
    assert patient.received() == [
        "Thanks Ana, you're confirmed for Fri, Dec 4 at 9:30 AM. See you then!"
    ]
    patient.wait(days=1, minutes=30)  # Wednesday's reminders were replaced
    assert patient.received() == []
    patient.wait(days=2)
    assert patient.received() == [
        "Reminder from Bright Smile Dental: you're booked with Dr. Lee on Fri, Dec 4 at 9:30 AM."
        " See you then!"
    ]


def test_a_cancellation_with_an_id_still_ends_a_booking_sent_without_one(
    patient: Patient,
) -> None:
    # A booking sent without an id can be cancelled by any cancellation, as before.
    patient.book(WEDNESDAY)
    patient.cancel(booking_id="z-9")
    assert patient.contact()["journeys"][0]["status"] == "exited"


def test_each_answer_is_kept_with_its_booking(patient: Patient) -> None:
    patient.book(WEDNESDAY, booking_id="a-1")
    patient.text("No")
    patient.book(FRIDAY, "Dr. Kim", booking_id="b-2")
    patient.text("Yes")
    response = patient.texter.client.get(
        f"/api/contacts/{PHONE}/runs", headers=patient.texter.headers
    )
    assert response.status_code == 200
    runs = [
        {key: run[key] for key in ("journey", "step", "status", "key", "results")}
        for run in response.get_json()
    ]
    assert runs == [
        {
            "journey": "appointment_confirmation",
            "step": "cancelled",
            "status": "completed",
            "key": "a-1",
            "results": {"appointment_status": "cancelled"},
        },
        {
            "journey": "appointment_confirmation",
            "step": "confirmed",
            "status": "completed",
            "key": "b-2",
            "results": {"appointment_status": "confirmed"},
        },
    ]
    saved = [e for e in patient.texter.events() if e["type"] == "result_saved"]
    assert [(e["name"], e["value"]) for e in saved] == [
        ("appointment_status", "cancelled"),
        ("appointment_status", "confirmed"),
    ]
    # The contact field is only the latest answer, for systems that read contacts.
    assert patient.contact()["fields"]["appointment_status"] == "confirmed"
