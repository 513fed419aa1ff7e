"""Staff campaigns through the API: marketing consent, quiet hours and caps shared with journeys.

The clock is set per test; 415 numbers are in Los Angeles and 305 numbers in Miami, where
Florida's rule allows three promotions in 24 hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from bot.delivery.sender import Sender
from bot.domain.messages import message_ref
from tests.bot.delivery.test_pacing import FLORIDA, queue_promotions, statuses
from tests.webhooks.test_history import record_everything

AUTH = {"Authorization": "Bearer test-token"}
LOS_ANGELES = "+14155550123"


def contact(client: FlaskClient, phone: str, marketing: bool | None = True) -> None:
    body: dict[str, Any] = {"phone": phone}
    if marketing is not None:
        body["consent"] = {"marketing": marketing, "source": "form:signup"}
    assert client.post("/api/contacts", json=body, headers=AUTH).status_code in (200, 201)


def campaign(client: FlaskClient, phones: list[str], **fields: Any) -> Any:
    body = {"text": "Winter sale: 20% off whitening.", "phones": phones, **fields}
    return client.post("/api/campaigns", json=body, headers=AUTH)


def test_a_campaign_goes_to_those_who_agreed_to_marketing(client, runtime, emulator, clock):
    clock.now = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # 10:00 in Los Angeles
    contact(client, LOS_ANGELES)
    contact(client, "+14155550124", marketing=None)  # reminders only
    contact(client, "+14155550125")
    runtime.conversations.mark_unsubscribed("+14155550125", "test")
    phones = [LOS_ANGELES, "+14155550124", "+14155550125", "+14155550126"]
    answer = campaign(client, phones, author="ana@clinic.test")
    assert answer.status_code == 202
    result = answer.get_json()
    assert list(result["queued"]) == [LOS_ANGELES]
    assert result["held"] == {
        "+14155550124": "no_marketing_consent",
        "+14155550125": "unsubscribed",
        "+14155550126": "unknown_contact",
    }
    Sender(runtime).drain()
    assert [(m["to"], m["body"]) for m in emulator.messages()] == [
        (LOS_ANGELES, "Winter sale: 20% off whitening.")
    ]
    url = f"/api/contacts/{LOS_ANGELES}"
    (message,) = client.get(f"{url}/messages", headers=AUTH).get_json()
    assert (message["kind"], message["author"]) == ("marketing", "ana@clinic.test")
    events = client.get(f"{url}/events", headers=AUTH).get_json()
    sent = [e for e in events if e["type"] == "campaign_sent"]
    assert [(e["campaign"], e["message"], e["by"]) for e in sent] == [
        (result["campaign"], result["queued"][LOS_ANGELES], "ana@clinic.test")
    ]
    assert client.get("/api/contacts/+14155550126", headers=AUTH).status_code == 404
    # The record keeps the campaign's message and event like any other.
    assert record_everything(runtime) > 0
    recorded = client.get(f"{url}/events", headers=AUTH).get_json()
    assert [e["type"] for e in recorded if e["type"] == "campaign_sent"] == ["campaign_sent"]


def test_a_campaign_waits_out_quiet_hours_in_the_contacts_zone(client, runtime, emulator, clock):
    clock.now = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)  # 22:30 in Los Angeles
    contact(client, LOS_ANGELES)
    queued = campaign(client, [LOS_ANGELES]).get_json()["queued"]
    ref = message_ref(LOS_ANGELES, queued[LOS_ANGELES])
    Sender(runtime).drain()
    assert emulator.messages() == []
    held = runtime.store.message(ref)
    assert (str(held.status), held.reason) == ("deferred", "quiet_hours")
    assert held.send_at == "2026-12-01T16:00:00+00:00"  # 08:00 in Los Angeles


def test_campaigns_and_journeys_share_the_caps(client, runtime, emulator, clock):
    clock.now = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 09:00 in Miami
    queue_promotions(runtime, FLORIDA, 2)  # two of a journey's promotions
    Sender(runtime).drain()
    first = campaign(client, [FLORIDA]).get_json()["queued"][FLORIDA]
    second = campaign(client, [FLORIDA]).get_json()["queued"][FLORIDA]
    skipped = campaign(client, [FLORIDA], when_capped="skip").get_json()["queued"][FLORIDA]
    Sender(runtime).drain()
    refs = [message_ref(FLORIDA, m) for m in (first, second, skipped)]
    assert statuses(runtime, refs) == ["queued", "deferred", "suppressed"]
    assert runtime.store.message(refs[1]).send_at == "2026-12-02T14:00:00+00:00"
    assert runtime.store.message(refs[2]).reason == "frequency_cap"
    assert len(emulator.messages()) == 3
    clock.now += timedelta(days=1)
    runtime.outbox.push(refs[1])  # what the worker's tick does with the message's timer
    Sender(runtime).drain()
    assert statuses(runtime, refs[1:2]) == ["queued"]


def test_a_campaign_sent_again_under_its_id_reaches_no_one_twice(client, runtime, emulator, clock):
    clock.now = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    contact(client, LOS_ANGELES)
    contact(client, "+14155550124")
    first = campaign(client, [LOS_ANGELES], id="winter-sale").get_json()
    again = campaign(client, [LOS_ANGELES, "+14155550124"], id="winter-sale").get_json()
    assert list(first["queued"]) == [LOS_ANGELES]
    assert list(again["queued"]) == ["+14155550124"]
    assert again["held"] == {LOS_ANGELES: "already_sent"}
    other = campaign(client, [LOS_ANGELES], id="spring-sale").get_json()
    assert list(other["queued"]) == [LOS_ANGELES]
    Sender(runtime).drain()
    assert sorted(m["to"] for m in emulator.messages()) == [
        LOS_ANGELES,
        LOS_ANGELES,
        "+14155550124",
    ]


def test_a_contact_handed_to_staff_gets_no_campaign(client, runtime, emulator, clock):
    clock.now = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    contact(client, LOS_ANGELES)
    assert client.post(f"/api/contacts/{LOS_ANGELES}/handoff", headers=AUTH).status_code == 200
    answer = campaign(client, [LOS_ANGELES]).get_json()
    assert (answer["queued"], answer["held"]) == ({}, {LOS_ANGELES: "handoff"})


def test_a_bad_campaign_is_a_400_saying_why(client, runtime):
    contact(client, LOS_ANGELES)
    cases = [
        ({"text": "", "phones": [LOS_ANGELES]}, "'text' must be a non-empty string"),
        ({"text": "x" * 1601, "phones": [LOS_ANGELES]}, "'text' can be at most 1600"),
        ({"text": "Hi", "phones": []}, "'phones' must be a non-empty list"),
        ({"text": "Hi", "phones": LOS_ANGELES}, "'phones' must be a non-empty list"),
        ({"text": "Hi", "phones": [LOS_ANGELES, "12"]}, "'phones[1]'"),
        ({"text": "Hi", "phones": [LOS_ANGELES, 14155550124]}, "'phones[1]' must be a string"),
        ({"text": "Hi", "phones": [LOS_ANGELES], "when_capped": "drop"}, "'defer' or 'skip'"),
        ({"text": "Hi", "phones": [LOS_ANGELES], "colour": "red"}, "colour"),
        ({"text": "Hi", "phones": [LOS_ANGELES], "id": "a b"}, "'id' must be"),
        ({"text": "Hi", "phones": [LOS_ANGELES], "id": 7}, "'id' must be"),
    ]
    for body, says in cases:
        answer = client.post("/api/campaigns", json=body, headers=AUTH)
        assert answer.status_code == 400, body
        assert says in answer.get_json()["error"], (body, answer.get_json())
    assert (
        client.post("/api/campaigns", json={"text": "Hi", "phones": [LOS_ANGELES]}).status_code
        == 401
    )
    assert runtime.store.load_contact(LOS_ANGELES).message_seq == 0
