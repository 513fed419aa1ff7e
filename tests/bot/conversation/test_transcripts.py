"""Golden conversation transcripts: texts and events in over HTTP, messages, events and state out.

Each file in tests/transcripts/ is one conversation. A turn is one of
  text: an inbound SMS (optional `sid` to repeat a delivery, `opt_out_type`)
  event: a business event through POST /api/events (with `data`)
  consent: a consent change through POST /api/contacts
  wait: a duration the clock moves forward, after which the worker's tick fires what is due
  fields: contact fields set through POST /api/contacts
and may expect: `intent`, `started`, `sent` (new outbound texts, in order), `withheld`
(new suppressed texts), `events` (types of the new events, in order). After every turn
the worker's sender drains the outbox to the Twilio emulator, which must have received
exactly the `sent` texts, in order. `state` at the end is compared with the contact as
GET /api/contacts/<phone> shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.delivery.sender import Sender
from bot.worker import tick
from flows.definition import parse_duration
from tests.texting import Texter, new_sid

TRANSCRIPTS = sorted((Path(__file__).resolve().parents[2] / "transcripts").glob("*.yaml"))


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(path: Path, client, settings, runtime, clock, emulator) -> None:
    script = yaml.safe_load(path.read_text())
    contact = script.get("contact", {})
    phone = Texter(client, contact.get("phone", "+14155550123"), settings.auth_token,
                   settings.api_token)  # fmt: skip
    if contact:
        response = client.post("/api/contacts", json=contact, headers=phone.headers)
        assert response.status_code == 200, response.get_json()
    sids: dict[str, str] = {}
    for number, turn in enumerate(script["turns"], 1):
        where = f"{path.name} turn {number}: {turn}"
        seen_messages, seen_events = len(phone.outbound()), len(phone.events())
        seen_at_twilio = len(emulator.messages())
        result = _play(turn, phone, runtime, clock, sids)
        Sender(runtime).drain()
        at_twilio = [m["body"] for m in emulator.messages()[seen_at_twilio:]]
        new_messages = phone.outbound()[seen_messages:]
        new_events = phone.events()[seen_events:]
        sent = [m["body"] for m in new_messages if m["status"] != "suppressed"]

        withheld = [m["body"] for m in new_messages if m["status"] == "suppressed"]
        assert sent == turn.get("sent", []), where
        assert at_twilio == sent, where
        assert withheld == turn.get("withheld", []), where
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
    if "wait" in turn:
        wait = parse_duration(turn["wait"])
        assert wait is not None, f"bad wait {turn['wait']!r}"
        clock.advance(seconds=wait.total_seconds())
        tick(runtime)
        return {}
    raise AssertionError(f"unknown turn {turn}")
