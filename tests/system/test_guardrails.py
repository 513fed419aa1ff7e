"""Guardrails in the Procfile's own processes, on the real clock: quiet hours in the
contact's zone hold a campaign until they end, and two workers sending at once then keep
the contact under the frequency cap."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.processes import Parley, deployment, wait_until

PHONE = "+14155550123"
ZONE = "Asia/Tokyo"  # set on the contact: their own zone wins over their number's


def quiet_window(now: datetime) -> str:
    """Return a QUIET_HOURS window in ZONE from the last minute to two or three from now:
    long enough for the processes to start, short enough to wait for."""
    local = now.astimezone(ZoneInfo(ZONE))
    start, end = local - timedelta(minutes=1), local + timedelta(minutes=3)
    return f"{start:%H:%M}-{end:%H:%M}"


@pytest.fixture
def parley(redis_url: str, emulator, tmp_path: Path) -> Iterator[Parley]:
    env = {"QUIET_HOURS": quiet_window(datetime.now(UTC)), "FREQUENCY_CAP": "2/24h"}
    with deployment(redis_url, emulator, tmp_path, workers=2, env=env) as (parley, _):
        yield parley


def test_a_campaign_held_by_quiet_hours_goes_when_they_end_two_of_three_under_a_cap(
    parley: Parley, emulator
) -> None:
    consent = {"marketing": True, "source": "form:signup"}
    body = {"phone": PHONE, "timezone": ZONE, "consent": consent}
    assert parley.api("POST", "/contacts", json=body).status_code == 200
    queued = []
    for n in range(3):
        campaign = {"id": f"sale-{n}", "text": f"Sale {n}: 20% off.", "phones": [PHONE]}
        answer = parley.api("POST", "/campaigns", json=campaign)
        assert answer.status_code == 202, answer.text
        queued.append(answer.json()["queued"][PHONE])

    def outbound() -> list[dict[str, Any]]:
        return [m for m in parley.messages() if m["direction"] == "outbound"]

    def deferred() -> list[dict[str, Any]] | None:
        found = [m for m in outbound() if m["status"] == "deferred"]
        return found if len(found) == 3 else None

    def at_twilio() -> list[dict[str, Any]] | None:
        found = [m for m in emulator.messages() if m["to"] == PHONE]
        return found if len(found) >= 2 else None

    held = wait_until(deferred, what="three campaign messages deferred by quiet hours")
    assert {m["reason"] for m in held} == {"quiet_hours"}
    assert {m["id"] for m in held} == set(queued)
    (send_at,) = {m["send_at"] for m in held}
    assert emulator.messages() == []
    # The quiet window ends within three minutes; the workers then send two and defer one.
    sent = wait_until(at_twilio, 300, "two messages sent when quiet hours end")
    assert datetime.now(UTC) >= datetime.fromisoformat(send_at) - timedelta(seconds=1)
    time.sleep(2.0)  # room for a third send that must not happen
    assert len([m for m in emulator.messages() if m["to"] == PHONE]) == 2
    assert {m["body"] for m in sent} < {f"Sale {n}: 20% off." for n in range(3)}
    (capped,) = [m for m in outbound() if m["status"] == "deferred"]
    assert capped["reason"] == "frequency_cap"
    assert datetime.fromisoformat(capped["send_at"]) > datetime.now(UTC) + timedelta(hours=23)
