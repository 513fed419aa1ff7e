"""End to end: the Procfile's own processes, a test Redis, the emulator, SQLite or PostgreSQL."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.record import database
from bot.record.schema import messages
from tests.processes import Parley, deployment, wait_until

PHONE = "+14155550123"


@pytest.fixture
def parley(
    redis_url: str, emulator, tmp_path: Path, record_env: dict[str, str]
) -> Iterator[Parley]:
    with deployment(redis_url, emulator, tmp_path, recorders=1, env=record_env) as (parley, _):
        yield parley


def recorded(url: str, phone: str) -> list[tuple[str, str, str]]:
    """Return the (direction, body, status) of the contact's messages the record holds."""
    engine = database.connect(url)
    try:
        with engine.connect() as connection:
            query = select(messages.c.direction, messages.c.body, messages.c.status)
            rows = connection.execute(query.where(messages.c.phone == phone)).all()
    finally:
        engine.dispose()
    return sorted((row.direction, row.body, row.status) for row in rows)


def shown(parley: Parley) -> list[tuple[str, str, str]]:
    """Return the (direction, body, status) of the messages the API shows."""
    return sorted((m["direction"], m["body"], m["status"]) for m in parley.messages())


def test_a_whole_appointment_conversation_over_http(
    parley: Parley, emulator, record_url: str
) -> None:
    created = parley.api(
        "POST", "/contacts", json={"phone": PHONE, "fields": {"first_name": "Ana"}}
    )
    assert created.status_code == 200
    booked = parley.api(
        "POST",
        "/events",
        json={
            "phone": PHONE,
            "event": "appointment_booked",
            "data": {"appointment_at": "2030-06-03T16:00:00Z", "provider": "Dr. Lee"},
        },
    )
    assert booked.status_code == 202
    assert booked.json()["started"] == ["appointment_confirmation"]

    def sent_to_phone(count: int):
        def check() -> list[dict[str, Any]] | None:
            sent = [m for m in emulator.messages() if m["to"] == PHONE]
            return sent if len(sent) >= count else None

        return check

    first = wait_until(sent_to_phone(1), what="the confirmation request")[0]
    # The year shows while 2030 is not this year.
    assert "Dr. Lee" in first["body"]
    assert re.search(r"Mon, Jun 3(, 2030)? at 9:00 AM", first["body"]), first["body"]

    assert parley.text("yes please").status_code == 200
    second = wait_until(sent_to_phone(2), what="the confirmation")[1]
    assert second["body"].startswith("Thanks Ana, you're confirmed")

    # Status callbacks from the emulator come back through the signed status webhook.
    wait_until(
        lambda: (
            [m["status"] for m in parley.messages() if m["direction"] == "outbound"]
            == ["delivered", "delivered"]
        ),
        what="delivered statuses",
    )
    contact = parley.api("GET", f"/contacts/{PHONE}").json()
    assert contact["fields"]["appointment_status"] == "confirmed"
    assert contact["journeys"] == [
        {"journey": "appointment_confirmation", "step": "confirmed", "status": "completed"}
    ]

    assert parley.text("STOP").status_code == 200
    third = wait_until(sent_to_phone(3), what="the opt-out confirmation")[2]
    assert "unsubscribed" in third["body"]
    again = parley.api(
        "POST", "/events", json={"phone": PHONE, "event": "appointment_booked", "data": {}}
    )
    assert again.json()["started"] == []
    time.sleep(1.0)  # give a wrongly queued message time to show up
    assert len([m for m in emulator.messages() if m["to"] == PHONE]) == 3
    assert parley.api("GET", f"/contacts/{PHONE}").json()["subscribed"] is False
    # The record holds the whole conversation, as the API shows it.
    wait_until(
        lambda: (held := recorded(record_url, PHONE)) == shown(parley) and len(held) == 5,
        30,
        "the record to hold the conversation",
    )
