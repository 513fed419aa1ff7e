"""Each consent decision carries its evidence: how, where, the raw words, the disclosure."""

from __future__ import annotations

import json

import pytest

from bot.conversation.turn import Turn
from bot.delivery.sender import Sender
from bot.domain.messages import Kind
from tests.texting import Texter, post_signed
from tests.webhooks.test_history import record_everything

PHONE = "+14155550123"
QUESTION = (
    "Bright Smile Dental: Reply YES to confirm you'd like our offers and news by text. "
    "Up to 4 msgs/month. Msg & data rates may apply. Reply STOP to opt out."
)


@pytest.fixture
def texter(client, settings) -> Texter:
    return Texter(client, PHONE, settings.auth_token, settings.api_token)


def decisions(texter: Texter) -> list[dict]:
    return [e for e in texter.events() if e["type"] == "consent_changed"]


def test_a_double_opt_in_keeps_the_reply_its_sid_and_the_question_it_answered(
    texter: Texter, runtime
) -> None:
    texter.text("join")
    Sender(runtime).drain()
    texter.text("YES!", sid="SMyes00000000000000000000000000001")
    (granted,) = decisions(texter)
    assert granted["purpose"] == "marketing" and granted["granted"] is True
    assert granted["method"] == "reply"
    assert granted["evidence"] == "YES!"
    assert granted["source"].startswith("SMyes00000000000000000000000000001 in welcome/")
    assert granted["disclosure"] == QUESTION


def test_stop_revokes_each_purpose_with_its_keyword_and_sid(texter: Texter) -> None:
    texter.text("STOP", sid="SMstop0000000000000000000000000001")
    revoked = decisions(texter)
    assert [(d["purpose"], d["granted"], d["method"]) for d in revoked] == [
        ("marketing", False, "keyword"),
        ("transactional", False, "keyword"),
    ]
    assert {d["source"] for d in revoked} == {"SMstop0000000000000000000000000001"}
    assert {d["evidence"] for d in revoked} == {"STOP"}


def test_twilios_advanced_opt_out_is_recorded_as_twilios(texter: Texter) -> None:
    texter.text("Stop", OptOutType="STOP")
    assert {d["method"] for d in decisions(texter)} == {"twilio"}
    assert all("OptOutType STOP" in d["source"] for d in decisions(texter))


def test_the_carriers_21610_is_recorded_as_the_carriers_with_the_message_it_failed(
    texter: Texter, client, settings, runtime
) -> None:
    texter.text("hello")
    Sender(runtime).drain()
    (sent,) = [m for m in runtime.store.messages(PHONE) if m.direction == "outbound"]
    params = {"MessageSid": sent.sid, "MessageStatus": "undelivered", "ErrorCode": "21610"}
    assert (
        post_signed(client, "/webhooks/twilio/status", params, settings.auth_token).status_code
        == 204
    )
    assert {(d["method"], d["source"]) for d in decisions(texter)} == {("carrier", "twilio:21610")}
    assert {d["evidence"] for d in decisions(texter)} == {
        f"status callback: undelivered with error 21610 for {sent.sid}"
    }


def test_a_send_twilio_refuses_with_21610_is_the_evidence_of_the_opt_out(runtime) -> None:
    blocked = "+15005550004"  # the emulator refuses sends to it with 21610
    contact = runtime.conversations.new_contact(blocked)
    turn = Turn(contact, runtime.clock(), stored=False)
    queued = turn.send("hello", Kind.CONVERSATION)
    runtime.store.commit(turn.changes)
    Sender(runtime).drain()
    decided = [e for e in runtime.store.events(blocked) if e["type"] == "consent_changed"]
    assert {(d["method"], d["source"]) for d in decided} == {("carrier", "twilio:21610")}
    assert {d["evidence"] for d in decided} == {f"Twilio refused message {queued.id}: error 21610"}


def test_an_api_consent_keeps_its_source_disclosure_and_request(client, texter: Texter) -> None:
    body = {
        "phone": PHONE,
        "consent": {
            "marketing": True,
            "source": "form:checkout",
            "disclosure": "Text me offers. Up to 4 msgs/month.",
        },
    }
    assert client.post("/api/contacts", json=body, headers=texter.headers).status_code == 200
    (granted,) = decisions(texter)
    assert granted["method"] == "form" and granted["source"] == "form:checkout"
    assert granted["disclosure"] == "Text me offers. Up to 4 msgs/month."
    assert json.loads(granted["evidence"]) == body  # the request as it came


def test_a_spanish_opt_out_word_is_a_keyword(texter: Texter) -> None:
    texter.text("BAJA")
    assert texter.contact()["subscribed"] is False
    assert {d["method"] for d in decisions(texter)} == {"keyword"}


def test_the_disclosure_is_kept_after_the_question_left_redis(texter: Texter, runtime) -> None:
    # The recorder lets an idle contact's messages leave Redis; the run keeps what it asked.
    texter.text("join")
    Sender(runtime).drain()
    record_everything(runtime)
    runtime.store.trim_messages([PHONE], 0)
    assert runtime.store.messages(PHONE) == []
    texter.text("yes")
    (granted,) = decisions(texter)
    assert granted["disclosure"] == QUESTION
