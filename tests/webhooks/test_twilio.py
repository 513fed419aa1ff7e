"""Twilio's webhooks: de-duplication, odd input, and status callbacks that never go backwards."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import requests
from werkzeug.serving import make_server

from tests.conftest import PUBLIC_URL, sign
from tests.texting import Texter, new_sid, post_signed

PHONE = "+14155550123"


def texter(client, settings) -> Texter:
    return Texter(client, PHONE, settings.auth_token, settings.api_token)


def test_the_same_message_sid_twice_is_processed_once(client, settings) -> None:
    phone = texter(client, settings)
    sid = new_sid()
    assert phone.text("hello", sid=sid).status_code == 200
    assert phone.text("hello", sid=sid).status_code == 200
    assert [m["direction"] for m in phone.messages()] == ["inbound", "outbound"]
    assert [e["type"] for e in phone.events()].count("message_received") == 1


def test_eight_concurrent_deliveries_are_processed_once(app, settings) -> None:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        params = {"MessageSid": new_sid(), "From": PHONE, "To": "+15005550006", "Body": "hi"}
        signature = sign(f"{PUBLIC_URL}/webhooks/twilio/sms", params, settings.auth_token)
        barrier = threading.Barrier(8)

        def deliver(_: int) -> int:
            barrier.wait()
            response = requests.post(
                f"{base}/webhooks/twilio/sms",
                data=params,
                headers={"X-Twilio-Signature": signature},
                timeout=10,
            )
            return response.status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(deliver, range(8)))
        assert codes == [200] * 8
        headers = {"Authorization": f"Bearer {settings.api_token}"}
        messages = requests.get(f"{base}/api/contacts/{PHONE}/messages", headers=headers).json()
        assert [m["direction"] for m in messages] == ["inbound", "outbound"]
    finally:
        server.shutdown()


def test_inbound_without_from_is_a_400(client, settings) -> None:
    params = {"MessageSid": new_sid(), "To": "+15005550006", "Body": "hi"}
    response = post_signed(client, "/webhooks/twilio/sms", params, settings.auth_token)
    assert response.status_code == 400
    assert b"From" in response.data


def test_an_oversized_request_is_refused_without_a_500(client, settings) -> None:
    phone = texter(client, settings)
    response = phone.text("x" * 100_000)
    assert response.status_code == 413


def test_binary_and_control_characters_get_a_calm_200(client, settings) -> None:
    phone = texter(client, settings)
    response = phone.text("\x00\x01\xff\ufffd hi \x7f")
    assert response.status_code == 200
    assert phone.messages()[0]["body"] == "\xff\ufffd hi "


def test_a_raw_binary_post_is_not_a_500(client) -> None:
    response = client.post(
        "/webhooks/twilio/sms",
        data=bytes(range(256)),
        content_type="application/octet-stream",
    )
    assert response.status_code in (400, 403)


def _status(client, settings, sid: str, status: str, error: str | None = None) -> int:
    params = {"MessageSid": sid, "MessageStatus": status}
    if error:
        params["ErrorCode"] = error
    response = post_signed(client, "/webhooks/twilio/status", params, settings.auth_token)
    return response.status_code


def _sent_message(runtime, client, settings) -> tuple[Texter, str]:
    from bot.delivery.sender import Sender

    phone = texter(client, settings)
    phone.text("hello")
    Sender(runtime).drain()
    (message,) = [m for m in runtime.store.messages(PHONE) if m.direction == "outbound"]
    return phone, message.sid


def test_status_never_moves_backwards(runtime, client, settings, emulator) -> None:
    phone, sid = _sent_message(runtime, client, settings)
    assert _status(client, settings, sid, "delivered") == 204
    assert _status(client, settings, sid, "sent") == 204
    assert _status(client, settings, sid, "queued") == 204
    assert phone.outbound()[0]["status"] == "delivered"


def test_a_callback_before_the_sender_records_the_sid_is_kept(runtime, client, settings) -> None:
    from bot.domain.messages import Status

    phone = texter(client, settings)
    phone.text("hello")
    (message,) = [m for m in runtime.store.messages(PHONE) if m.direction == "outbound"]
    assert _status(client, settings, "SMearly", "delivered") == 204
    assert runtime.store.accept(message.ref, "SMearly", Status.QUEUED) == "delivered"
    assert phone.outbound()[0]["status"] == "delivered"


def test_error_21610_in_a_callback_unsubscribes(runtime, client, settings) -> None:
    phone, sid = _sent_message(runtime, client, settings)
    assert _status(client, settings, sid, "failed", "21610") == 204
    assert phone.contact()["subscribed"] is False


def test_a_callback_for_an_unknown_sid_is_ignored(client, settings) -> None:
    assert _status(client, settings, "SMnobody", "delivered") == 204


def test_a_callback_naming_its_message_settles_a_send_whose_answer_was_lost(
    runtime, client, settings
) -> None:
    from bot.domain.messages import Status

    phone = texter(client, settings)
    phone.text("hello")
    (message,) = [m for m in runtime.store.messages(PHONE) if m.direction == "outbound"]
    assert runtime.store.claim_message(message.ref, "claim-1")  # handed to Twilio...
    params = {"MessageSid": "SMlinked", "MessageStatus": "delivered"}
    path = "/webhooks/twilio/status?" + urlencode({"message": message.ref})
    assert post_signed(client, path, params, settings.auth_token).status_code == 204
    linked = runtime.store.message(message.ref)
    assert (linked.sid, linked.status) == ("SMlinked", Status.DELIVERED)
    # ... and Twilio's answer, arriving after its own callback, does not move it back.
    assert runtime.store.accept(message.ref, "SMlinked", Status.QUEUED) == "delivered"
    assert phone.outbound()[0]["status"] == "delivered"
    # One message, one sid: a callback naming it for another sid does not take it over.
    other = {"MessageSid": "SMother", "MessageStatus": "failed"}
    assert post_signed(client, path, other, settings.auth_token).status_code == 204
    assert runtime.store.message(message.ref).sid == "SMlinked"
    assert phone.outbound()[0]["status"] == "delivered"


def test_a_callback_that_links_its_message_keeps_its_error_code(runtime, client, settings) -> None:
    phone = texter(client, settings)
    phone.text("hello")
    (message,) = [m for m in runtime.store.messages(PHONE) if m.direction == "outbound"]
    assert runtime.store.claim_message(message.ref, "claim-1")
    params = {"MessageSid": "SMgone", "MessageStatus": "undelivered", "ErrorCode": "30007"}
    # A URL given to Twilio before messages were named by ref: `To` completes the name.
    params["To"] = PHONE
    path = f"/webhooks/twilio/status?message={message.id}"
    assert post_signed(client, path, params, settings.auth_token).status_code == 204
    linked = runtime.store.message(message.ref)
    assert (linked.status, linked.error_code) == ("undelivered", 30007)
