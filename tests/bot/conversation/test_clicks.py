"""Clicks on tracked links in the running bot: the journeys they start and the waits they end."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Settings
from bot.delivery.timers import ClickTimer, decode, encode
from bot.worker import tick

FLOWS = Path(__file__).resolve().parents[2] / "transcripts" / "flows"
PHONE = "+14155550123"


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
