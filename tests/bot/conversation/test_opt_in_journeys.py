"""Journeys triggered by an opt-in: START, or marketing consent given through the API."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Settings
from tests.texting import Texter

PHONE = "+14155550123"
# A marketing series that starts on any opt-in and asks for nothing.
NEWS = """\
id: news
kind: marketing
trigger: {opt_in: true}
steps:
  - id: hello
    send: "Our news, every month. Reply STOP to opt out."
"""
ASK = "Reply YES to confirm you'd like our offers"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "news.yaml").write_text(NEWS, encoding="utf-8")
    return replace(settings, flows_dir=str(flows))


def _started(phone: Texter) -> list[str]:
    return [e["journey"] for e in phone.events() if e["type"] == "journey_started"]


def _texts(phone: Texter) -> list[str]:
    return [m["body"] for m in phone.outbound()]


def test_marketing_consent_through_the_api_starts_what_asks_for_nothing(client, settings) -> None:
    phone = Texter(client, PHONE, settings.auth_token, settings.api_token)
    consent = {"phone": PHONE, "consent": {"marketing": True, "source": "form:signup"}}
    assert client.post("/api/contacts", json=consent, headers=phone.headers).status_code == 200

    # The welcome journey's double opt-in has nothing left to ask.
    assert _started(phone) == ["news"]
    assert not any(ASK in text for text in _texts(phone))


def test_start_asks_for_marketing_and_starts_no_marketing(client, settings) -> None:
    phone = Texter(client, PHONE, settings.auth_token, settings.api_token)
    consent = {"phone": PHONE, "consent": {"marketing": True, "source": "form:signup"}}
    assert client.post("/api/contacts", json=consent, headers=phone.headers).status_code == 200
    phone.text("STOP")
    phone.text("START")

    assert _started(phone) == ["news", "welcome"]
    assert ASK in _texts(phone)[-1]
    assert phone.contact()["consent"]["marketing"]["granted"] is False


def test_a_start_twilio_answered_still_gets_the_question(client, settings) -> None:
    phone = Texter(client, PHONE, settings.auth_token, settings.api_token)
    phone.text("STOP", OptOutType="STOP")
    phone.text("START", OptOutType="START")

    # Twilio's Advanced Opt-Out confirmed both: Parley sends only the welcome's question.
    [question] = _texts(phone)
    assert ASK in question
    assert _started(phone) == ["welcome"]
