"""Clicks on tracked links in the running bot: the journeys they start and the waits they end."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Settings
from bot.delivery.sender import Sender
from bot.delivery.timers import ClickTimer, decode, encode
from bot.domain.link_bots import DELIVERY_GRACE
from bot.record.drain import RecordDrain
from bot.record.writer import RecordWriter
from bot.storage import keys
from bot.worker import tick
from tests.texting import post_signed

FLOWS = Path(__file__).resolve().parents[2] / "transcripts" / "flows"
PHONE = "+14155550123"
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, flows_dir=str(FLOWS))


@pytest.fixture
def subscribed(runtime) -> None:
    consent = {"marketing": True, "source": "test"}
    runtime.conversations.update_contact(PHONE, consent=consent)


def test_a_click_on_any_link_to_a_url_starts_the_journeys_triggered_by_it(
    runtime, subscribed
) -> None:
    outcome = runtime.conversations.click(PHONE, "https://shop.example/vip-page", "m1", None, None)
    assert outcome.started == ["vip_welcome"]
    assert outcome.replies == ["Welcome to the VIP club! Early access starts Friday."]
    other = runtime.conversations.click(PHONE, "https://shop.example/other", "m1", None, None)
    assert other.started == [] and other.replies == []
    assert [e["type"] for e in other.events] == ["link_clicked"]


def test_while_staff_own_the_conversation_a_click_is_only_logged(runtime, subscribed) -> None:
    runtime.desk.hand_off(PHONE, "test")
    outcome = runtime.conversations.click(PHONE, "https://shop.example/vip-page", None, None, None)
    assert outcome.started == [] and outcome.replies == []


def test_a_click_from_someone_never_seen_does_nothing(runtime) -> None:
    outcome = runtime.conversations.click(
        "+14155550199", "https://shop.example/vip-page", None, None, None
    )
    assert outcome.events == []


def test_the_click_timer_the_redirect_sets_is_fired_by_the_worker(
    runtime, clock, subscribed
) -> None:
    reply = runtime.desk.reply(PHONE, "ana", "VIP: https://shop.example/vip-page", True)
    code = reply.body.rsplit("/", 1)[1]
    runtime.desk.hand_back(PHONE, "ana")  # the reply took the conversation over
    timer = ClickTimer("c1", code, at=1.0)
    assert decode(encode(timer)) == timer
    runtime.timers.schedule(clock.now, timer)
    assert tick(runtime) == 1
    welcome = [m for m in runtime.store.messages(PHONE) if m.journey == "vip_welcome"]
    assert [m.body for m in welcome] == ["Welcome to the VIP club! Early access starts Friday."]


def _sale(client, runtime, settings) -> tuple[str, str]:
    """Announce the sale (a wait on `clicked`) and deliver it; return its code and its sid."""
    headers = {"Authorization": f"Bearer {settings.api_token}"}
    body = {"phone": PHONE, "event": "sale_started"}
    assert client.post("/api/events", json=body, headers=headers).status_code == 202
    Sender(runtime).drain()
    (message,) = [m for m in runtime.store.messages(PHONE) if m.journey == "sale"]
    return message.body.split("/l/")[1].split(".")[0], message.sid or ""


def _settle(runtime, clock) -> None:
    """Write the record, let a second pass (by Redis' clock, the real one), tick."""
    drain = RecordDrain(runtime.redis, RecordWriter(runtime.record), keys.RECORD, "t")
    while drain.run_once():
        pass
    time.sleep(DELIVERY_GRACE.total_seconds() + 0.05)
    tick(runtime, clock.advance(seconds=2))


def _sent(runtime) -> list[str]:
    return [m.body for m in runtime.store.messages(PHONE) if m.journey == "sale"][1:]


def test_a_click_waits_for_the_record_before_it_moves_a_run(
    client, runtime, settings, clock, subscribed
) -> None:
    code, _ = _sale(client, runtime, settings)
    assert client.get(f"/l/{code}", headers={"User-Agent": BROWSER}).status_code == 302
    tick(runtime)  # the record cannot tell yet whether it came with the delivery
    assert _sent(runtime) == []
    assert runtime.timers.pending() == 2  # the wait's timeout, and the click again
    _settle(runtime, clock)
    assert _sent(runtime) == ["Glad you had a look! Code EXTRA10 takes 10% more off today."]


def test_a_click_within_a_second_of_delivery_does_not_move_a_run(
    client, runtime, settings, clock, subscribed
) -> None:
    code, sid = _sale(client, runtime, settings)
    status = {"MessageSid": sid, "MessageStatus": "delivered", "To": PHONE}
    answer = post_signed(client, "/webhooks/twilio/status", status, settings.auth_token)
    assert answer.status_code == 204
    # A security scanner opens it as it lands, with a browser's user agent.
    assert client.get(f"/l/{code}", headers={"User-Agent": BROWSER}).status_code == 302
    _settle(runtime, clock)
    assert _sent(runtime) == []
    # The person's own tap, later, does.
    assert client.get(f"/l/{code}", headers={"User-Agent": BROWSER}).status_code == 302
    _settle(runtime, clock)
    assert _sent(runtime) == ["Glad you had a look! Code EXTRA10 takes 10% more off today."]
