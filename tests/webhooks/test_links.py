"""GET /l/<code>: tracked short links lead on at once, and each click is recorded."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from bot.delivery.sender import Sender
from bot.record.drain import RecordDrain
from bot.record.schema import link_clicks, links
from bot.record.writer import RecordWriter
from bot.runtime import Runtime
from bot.storage import keys
from parley.app import create_app
from tests.conftest import PUBLIC_URL, free_port
from tests.texting import Texter, post_signed

PHONE = "+14155550123"
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"
SHORT = re.compile(re.escape(PUBLIC_URL) + r"/l/([A-Za-z0-9_-]{11})")


@pytest.fixture
def texter(client, settings) -> Texter:
    texter = Texter(client, PHONE, settings.auth_token, settings.api_token)
    body = {"phone": PHONE, "consent": {"marketing": True, "source": "test"}}
    assert client.post("/api/contacts", json=body, headers=texter.headers).status_code == 200
    return texter


def record(runtime: Runtime) -> None:
    """Copy the record stream into the record."""
    drain = RecordDrain(runtime.redis, RecordWriter(runtime.record), keys.RECORD, "test")
    while drain.run_once():
        pass


def clicks(runtime: Runtime) -> list[dict]:
    with runtime.record.connect() as connection:
        rows = connection.execute(select(link_clicks).order_by(link_clicks.c.at)).mappings()
        return [dict(row) for row in rows]


def staff_reply(texter: Texter, body: str, **extra: object) -> dict:
    response = texter.client.post(
        f"/api/contacts/{quote(PHONE)}/messages",
        json={"body": body, **extra},
        headers=texter.headers,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def abandoned_cart(texter: Texter) -> tuple[str, str]:
    """Start the abandoned cart journey; return its message's text and short link's code."""
    data = {"item": "the blue sneakers", "cart_url": "https://shop.example/c/42?utm=sms"}
    assert texter.event("cart_abandoned", data).status_code == 202
    (message,) = texter.outbound()
    (code,) = SHORT.findall(message["body"])
    return message["body"], code


def test_a_journey_message_carries_a_short_link_that_leads_to_its_url(
    client, runtime, texter
) -> None:
    body, code = abandoned_cart(texter)
    assert "shop.example" not in body
    assert f"cart: {PUBLIC_URL}/l/{code}. Reply YES" in body  # the full stop stays outside
    ttl = runtime.redis.ttl(keys.link(code))
    assert 399 * 86400 < ttl <= 400 * 86400  # LINK_TTL_DAYS

    response = client.get(f"/l/{code}", headers={"User-Agent": BROWSER})
    assert response.status_code == 302
    assert response.headers["Location"] == "https://shop.example/c/42?utm=sms"
    assert "no-store" in response.headers["Cache-Control"]
    assert "Set-Cookie" not in response.headers

    record(runtime)
    (row,) = clicks(runtime)
    assert row["code"] == code and row["phone"] == PHONE and row["counted"] is True
    assert (row["journey"], row["step"]) == ("abandoned_cart", "remind")
    assert row["url"] == "https://shop.example/c/42?utm=sms" and row["user_agent"] == BROWSER
    (message,) = texter.outbound()
    assert row["message_id"] == message["id"]
    with runtime.record.connect() as connection:
        (link,) = connection.execute(select(links)).mappings()
    assert (link["code"], link["message_id"], link["url"]) == (code, message["id"], row["url"])


def test_each_message_and_link_gets_a_code_of_its_own(client, runtime, texter) -> None:
    first = staff_reply(texter, "See https://a.example/x and https://a.example/x", track_links=True)
    second = staff_reply(texter, "Again: https://a.example/x", track_links=True)
    codes = SHORT.findall(first["body"]) + SHORT.findall(second["body"])
    assert len(codes) == len(set(codes)) == 3


def test_staff_replies_keep_their_links_unless_asked_to_track_them(client, texter) -> None:
    assert staff_reply(texter, "Here: https://a.example/x")["body"] == "Here: https://a.example/x"
    assert SHORT.search(staff_reply(texter, "Here: https://a.example/x", track_links=True)["body"])
    response = client.post(
        f"/api/contacts/{quote(PHONE)}/messages",
        json={"body": "Here: https://a.example/x", "track_links": "yes"},
        headers=texter.headers,
    )
    assert response.status_code == 400
    assert "track_links" in response.get_json()["error"]


def test_an_unknown_code_is_a_short_plain_404(client, runtime, texter) -> None:
    for path in ("/l/AAAAAAAAAAA", "/l/x", "/l/%00%ff", "/l/" + "a" * 5000, "/l/..%2f"):
        response = client.get(path, headers={"User-Agent": BROWSER})
        assert response.status_code == 404, path
        assert response.mimetype == "text/plain"
        assert "unknown" in response.get_data(as_text=True)
    record(runtime)
    assert clicks(runtime) == []


def test_a_preview_bot_is_led_on_and_recorded_but_not_counted(client, runtime, texter) -> None:
    _, code = abandoned_cart(texter)
    for agent in ("facebookexternalhit/1.1", "WhatsApp/2.23.20", "curl/8.5.0", ""):
        response = client.get(f"/l/{code}", headers={"User-Agent": agent})
        assert response.status_code == 302
    record(runtime)
    assert [row["counted"] for row in clicks(runtime)] == [False] * 4
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'parley_link_clicks_total{counted="false"} 4.0' in metrics
    assert 'parley_link_clicks_total{counted="true"} 0.0' in metrics


def test_a_click_within_a_second_of_delivery_is_not_counted(
    client, runtime, settings, texter, emulator
) -> None:
    _, code = abandoned_cart(texter)
    Sender(runtime).drain()
    (sent,) = emulator.messages()
    params = {"MessageSid": sent["sid"], "MessageStatus": "delivered", "To": PHONE}
    assert (
        post_signed(client, "/webhooks/twilio/status", params, settings.auth_token).status_code
        == 204
    )
    # A mail or SMS security scanner follows the link the moment it arrives.
    assert client.get(f"/l/{code}", headers={"User-Agent": BROWSER}).status_code == 302
    record(runtime)
    (row,) = clicks(runtime)
    assert row["counted"] is False
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'parley_link_clicks_total{counted="false"} 1.0' in metrics


def test_a_click_written_again_changes_nothing(client, runtime, texter) -> None:
    _, code = abandoned_cart(texter)
    client.get(f"/l/{code}", headers={"User-Agent": BROWSER})
    (_, fields), *_ = [item for item in runtime.redis.xrange(keys.RECORD) if "k" in item[1]]
    record(runtime)
    before = clicks(runtime)
    runtime.redis.xadd(keys.RECORD, fields)  # the same click, as a replay writes it
    record(runtime)
    assert clicks(runtime) == before
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'parley_link_clicks_total{counted="true"} 1.0' in metrics
    assert json.loads(fields["k"])["code"] == code


def test_a_link_redis_has_let_go_still_leads_on_from_the_record(client, runtime, texter) -> None:
    _, code = abandoned_cart(texter)
    record(runtime)
    runtime.redis.delete(keys.link(code))  # LINK_TTL_DAYS went by
    response = client.get(f"/l/{code}", headers={"User-Agent": BROWSER})
    assert response.status_code == 302
    assert response.headers["Location"] == "https://shop.example/c/42?utm=sms"
    record(runtime)
    (row,) = clicks(runtime)
    assert (row["code"], row["counted"], row["journey"]) == (code, True, "abandoned_cart")


def test_with_redis_down_a_link_leads_on_from_the_record(client, runtime, settings, texter) -> None:
    _, code = abandoned_cart(texter)
    record(runtime)
    down = Runtime(settings, f"redis://127.0.0.1:{free_port()}/0", clock=runtime.clock)
    try:
        app = create_app(down)
        response = app.test_client().get(f"/l/{code}", headers={"User-Agent": BROWSER})
        assert response.status_code == 302
        assert response.headers["Location"] == "https://shop.example/c/42?utm=sms"
        assert app.test_client().get("/l/AAAAAAAAAAA").status_code == 404
    finally:
        down.record.dispose()


def test_a_head_request_is_led_on_without_a_click(client, runtime, texter) -> None:
    _, code = abandoned_cart(texter)
    assert client.head(f"/l/{code}", headers={"User-Agent": BROWSER}).status_code == 302
    record(runtime)
    assert clicks(runtime) == []


def test_a_journey_that_says_track_links_false_sends_its_links_as_written(
    client, runtime, settings, texter, tmp_path: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "plain.yaml").write_text(
        "id: plain\nkind: transactional\ntrack_links: false\ntrigger: {event: plain}\n"
        "steps:\n  - id: only\n    send: 'See https://a.example/x'\n"
    )
    runtime.settings = replace(settings, flows_dir=str(flows))
    tracked = Runtime(runtime.settings, runtime.redis_url, clock=runtime.clock)
    try:
        other = Texter(create_app(tracked).test_client(), PHONE, settings.auth_token,
                       settings.api_token)  # fmt: skip
        assert other.event("plain").status_code == 202
        assert [m["body"] for m in other.outbound()] == ["See https://a.example/x"]
    finally:
        tracked.record.dispose()


def test_without_a_base_url_links_go_as_written_and_startup_says_why(settings) -> None:
    bare = replace(settings, public_url=None, link_base_url=None)
    assert bare.link_base is None
    assert any("LINK_BASE_URL" in warning for warning in bare.startup_warnings())
    assert replace(bare, link_base_url="https://go.example").link_base == "https://go.example"
