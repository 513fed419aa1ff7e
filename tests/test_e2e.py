"""End to end: the Procfile's own web and worker commands, a test Redis and the emulator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.devserver import procfile
from tests.conftest import BUSINESS_NUMBER, free_port, sign
from tests.texting import new_sid

ROOT = Path(__file__).resolve().parent.parent
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
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        PORT=str(port),
        WEB_CONCURRENCY="2",
        REDIS_URL=redis_url,
        TWILIO_ACCOUNT_SID=emulator.account_sid,
        TWILIO_AUTH_TOKEN=emulator.auth_token,
        TWILIO_FROM_NUMBER=BUSINESS_NUMBER,
        TWILIO_API_BASE=emulator.base_url,
        PUBLIC_URL=base,
        API_TOKEN=TOKEN,
        BUSINESS_NAME="Bright Smile Dental",
        PARLEY_VAR_DIR=str(tmp_path / "var"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    commands = procfile()
    processes = [
        subprocess.Popen(
            ["sh", "-c", commands[name]],
            cwd=ROOT,
            env=env,
            stdout=open(tmp_path / f"{name}.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name in ("web", "worker")
    ]
    try:
        app = Parley(base, emulator.auth_token)

        def healthy() -> bool:
            try:
                return requests.get(f"{base}/healthz", timeout=5).status_code == 200
            except requests.RequestException:  # not listening yet, or busy starting
                return False

        wait_until(healthy, 30, "the web process to answer /healthz")
        yield app
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


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
