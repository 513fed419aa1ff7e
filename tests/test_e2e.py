"""End to end: the Procfile's own web and worker commands, a test Redis and the emulator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import BUSINESS_NUMBER, free_port, sign
from tests.processes import procfile_env, running, wait_healthy
from tests.texting import new_sid

PHONE = "+14155550123"
TOKEN = "e2e-token"


class Parley:
    """The running processes and an HTTP client for them."""

    def __init__(self, base: str, auth_token: str) -> None:
        self.base = base
        self.auth_token = auth_token
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {TOKEN}"

    def text(self, body: str) -> requests.Response:
        url = f"{self.base}/webhooks/twilio/sms"
        params = {"MessageSid": new_sid(), "From": PHONE, "To": BUSINESS_NUMBER, "Body": body}
        signature = sign(url, params, self.auth_token)
        return self.http.post(url, data=params, headers={"X-Twilio-Signature": signature})

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, f"{self.base}/api{path}", timeout=10, **kwargs)

    def messages(self) -> list[dict[str, Any]]:
        return self.api("GET", f"/contacts/{PHONE}/messages").json()


def wait_until(predicate, timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy and return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def parley(redis_url: str, emulator, tmp_path: Path) -> Iterator[Parley]:
    port = free_port()
    env = procfile_env(
        port,
        redis_url,
        emulator,
        tmp_path / "var",
        API_TOKEN=TOKEN,
        BUSINESS_NAME="Bright Smile Dental",
    )
    base = env["PUBLIC_URL"]
    with running(("web", "worker"), env, tmp_path):
        wait_healthy(base)
        yield Parley(base, emulator.auth_token)


def test_a_whole_appointment_conversation_over_http(parley: Parley, emulator) -> None:
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
    assert "Dr. Lee" in first["body"] and "Mon, Jun 3 at 9:00 AM" in first["body"]

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
