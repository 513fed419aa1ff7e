"""Golden conversation transcripts: texts and events in over HTTP, messages, events and state out.

Each file in tests/transcripts/ is one conversation. A turn is one of
  text: an inbound SMS (optional `sid` to repeat a delivery, `opt_out_type`)
  event: a business event through POST /api/events (with `data`)
  consent: a consent change through POST /api/contacts
  wait: a duration the clock moves forward, after which the worker's tick fires what is due
  fields: contact fields set through POST /api/contacts
  at: a moment (ISO 8601) the clock moves forward to, after which the worker's tick runs
  click: a URL the contact taps in the latest text that carried it as a tracked short link
    (GET /l/<code>, with `user_agent` if given); the recorder writes the record and, a
    second later (when the record can tell whether the click came with the message's
    delivery), the worker's tick runs
and may expect: `intent`, `started`, `sent` (the texts Twilio got, in order), `withheld`
(texts a guardrail suppressed), `deferred` ([text, send_at] of texts held by quiet hours or
a frequency cap), `events` (types of the new events, in order). A tracked short link in a
text sent is written `[link: <the URL it leads to>]`. After every turn the
worker's sender drains the outbox to the Twilio emulator, which must have received exactly
the `sent` texts, in order. `state` at the end is compared with the contact as
GET /api/contacts/<phone> shows it. A transcript's `settings` (quiet_hours,
frequency_cap, as their variables are written) apply to the whole conversation; the
journeys in tests/transcripts/flows/ load beside the built-in ones.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Settings
from bot.delivery.sender import Sender
from bot.domain.frequency import Cap
from bot.domain.link_bots import DELIVERY_GRACE
from bot.domain.quiet_hours import QuietHours
from bot.record.drain import RecordDrain
from bot.record.writer import RecordWriter
from bot.storage import clicks, keys
from bot.worker import tick
from flows.definition import parse_duration
from tests.texting import Texter, new_sid

TRANSCRIPTS = sorted((Path(__file__).resolve().parents[2] / "transcripts").glob("*.yaml"))


FLOWS = TRANSCRIPTS[0].parent / "flows"
SETTINGS = {"quiet_hours": QuietHours.parse, "frequency_cap": Cap.parse}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, flows_dir=str(FLOWS))


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(path: Path, client, settings, runtime, clock, emulator) -> None:
    script = yaml.safe_load(path.read_text())
    for name, value in script.get("settings", {}).items():
        runtime.settings = replace(runtime.settings, **{name: SETTINGS[name](value)})
    contact = script.get("contact", {})
    phone = Texter(client, contact.get("phone", "+14155550123"), settings.auth_token,
                   settings.api_token)  # fmt: skip
    if contact:
        response = client.post("/api/contacts", json=contact, headers=phone.headers)
        assert response.status_code == 200, response.get_json()
    sids: dict[str, str] = {}
    for number, turn in enumerate(script["turns"], 1):
        where = f"{path.name} turn {number}: {turn}"
        before = {m["id"]: (m["status"], m.get("send_at")) for m in phone.outbound()}
        seen_events = len(phone.events())
        seen_at_twilio = len(emulator.messages())
        result = _play(turn, phone, runtime, clock, sids)
        Sender(runtime).drain()
        at_twilio = [_links_shown(m["body"], runtime) for m in emulator.messages()[seen_at_twilio:]]
        changed = [
            m for m in phone.outbound() if before.get(m["id"]) != (m["status"], m.get("send_at"))
        ]
        new_events = phone.events()[seen_events:]
        withheld = [
            _links_shown(m["body"], runtime) for m in changed if m["status"] == "suppressed"
        ]
        deferred = [[m["body"], m["send_at"]] for m in changed if m["status"] == "deferred"]
        assert at_twilio == turn.get("sent", []), where
        assert withheld == turn.get("withheld", []), where
        assert deferred == turn.get("deferred", []), where
        # Every new message went to Twilio, or a guardrail says why it did not.
        for message in changed:
            if message["id"] not in before and message["status"] not in ("suppressed", "deferred"):
                assert _links_shown(message["body"], runtime) in at_twilio, where
        if "events" in turn:
            assert [e["type"] for e in new_events] == turn["events"], where
        if "intent" in turn:
            received = [e for e in new_events if e["type"] == "message_received"]
            assert [e["intent"] for e in received] == [turn["intent"]], where
        if "started" in turn:
            assert result["started"] == turn["started"], where
    state = phone.contact()
    for key, expected in script.get("state", {}).items():
        assert state[key] == expected, f"{path.name} final state: {key}"


def _short_link(runtime) -> re.Pattern[str]:
    return re.compile(re.escape(runtime.settings.link_base) + r"/l/([A-Za-z0-9_-]{11})")


def _links_shown(body: str, runtime) -> str:
    """Write each short link in `body` as `[link: URL]`, URL the one it leads to."""
    if not runtime.settings.link_base:
        return body

    def shown(match: re.Match[str]) -> str:
        link = clicks.find(runtime.redis, match.group(1))
        assert link is not None, f"short link {match.group()} leads nowhere"
        return f"[link: {link.url}]"

    return _short_link(runtime).sub(shown, body)


def _click(turn: dict[str, Any], phone: Texter, runtime) -> None:
    """Tap the latest short link to turn["click"] that the contact was sent."""
    for message in reversed(phone.outbound()):
        for match in _short_link(runtime).finditer(message["body"]):
            link = clicks.find(runtime.redis, match.group(1))
            if link is not None and link.url == turn["click"]:
                agent = turn.get("user_agent", "Mozilla/5.0 (iPhone) Mobile Safari")
                path = match.group().removeprefix(runtime.settings.link_base)
                response = phone.client.get(path, headers={"User-Agent": agent})
                assert response.status_code == 302, response.get_data(as_text=True)
                assert response.headers["Location"] == link.url
                return
    raise AssertionError(f"no short link to {turn['click']} was sent")


def _play(turn: dict[str, Any], phone: Texter, runtime, clock, sids) -> dict[str, Any]:
    if "text" in turn:
        extra = {"OptOutType": turn["opt_out_type"]} if "opt_out_type" in turn else {}
        label = turn.get("sid")
        sid = sids.setdefault(label, new_sid()) if label else new_sid()
        response = phone.text(turn["text"], sid=sid, **extra)
        assert response.status_code == 200
        return {}
    if "event" in turn:
        response = phone.event(turn["event"], turn.get("data"))
        assert response.status_code == 202
        return response.get_json()
    if "consent" in turn or "fields" in turn:
        body: dict[str, Any] = {"phone": phone.phone}
        body.update((k, turn[k]) for k in ("consent", "fields") if k in turn)
        response = phone.client.post("/api/contacts", json=body, headers=phone.headers)
        assert response.status_code == 200
        return {}
    if "click" in turn:
        _click(turn, phone, runtime)
        drain = RecordDrain(runtime.redis, RecordWriter(runtime.record), keys.RECORD, "t")
        while drain.run_once():
            pass
        time.sleep(DELIVERY_GRACE.total_seconds() + 0.05)  # Redis' clock: the real one
        tick(runtime)
        return {}
    if "at" in turn:
        moment = datetime.fromisoformat(turn["at"])
        assert moment >= clock.now, f"time only moves forward: {turn['at']}"
        clock.now = moment
        tick(runtime)
        return {}
    if "wait" in turn:
        wait = parse_duration(turn["wait"])
        assert wait is not None, f"bad wait {turn['wait']!r}"
        clock.advance(seconds=wait.total_seconds())
        tick(runtime)
        return {}
    raise AssertionError(f"unknown turn {turn}")
