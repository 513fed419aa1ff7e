"""The bot's own log events: typed in code, plain JSON in the stored log."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.conversation.log_events import ConsentChanged, MessageReceived, entry
from flows.events import JourneyEnded


def test_an_entry_is_its_type_then_its_fields() -> None:
    assert entry(MessageReceived("stop", "opt_out", 0.98)) == {
        "type": "message_received",
        "text": "stop",
        "intent": "opt_out",
        "confidence": 0.98,
    }


def test_an_unset_option_is_left_out_rather_than_stored_as_null() -> None:
    at = datetime(2026, 11, 30, tzinfo=UTC).isoformat()
    plain = entry(ConsentChanged("marketing", True, "api", at))
    assert "evidence" not in plain
    said = entry(ConsentChanged("marketing", True, "sms", at, evidence="YES"))
    assert said["evidence"] == "YES"


def test_engine_events_keep_their_stored_shape() -> None:
    # The engine's events are stored as flows.events.as_dict writes them, nulls included.
    ended = entry(JourneyEnded(run_id="r1", journey="welcome", status="completed"))
    assert ended == {
        "type": "journey_ended",
        "run_id": "r1",
        "journey": "welcome",
        "status": "completed",
        "reason": None,
    }
