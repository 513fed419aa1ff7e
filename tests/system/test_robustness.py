"""Whatever arrives, the answer is a clear 2xx or 4xx: never a 500, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import available_timezones

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.texting import new_sid, post_signed

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
texts = st.text(max_size=300)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
# Times that some time zone's clock would show off the calendar.
near_calendar_ends = st.one_of(
    st.datetimes(max_value=datetime(1, 1, 3)), st.datetimes(min_value=datetime(9999, 12, 29))
).flatmap(lambda at: st.sampled_from([at, at.replace(tzinfo=UTC)]))
# What a WSGI server hands over as a header value: any bytes, read as Latin-1.
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80)
# Digits of every script, and numbers far longer than any error code.
error_codes = st.one_of(
    st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=12),
    st.text("0123456789", min_size=4000, max_size=6000),
)


@FUZZ
@given(
    body=texts,
    sender=st.one_of(texts, st.sampled_from(["+14155550123", "4155550123", "+1 (212) 555-0199"])),
    sid=st.text(min_size=1, max_size=40),
    opt_out=st.one_of(st.none(), st.sampled_from(["STOP", "START", "HELP", "bogus"])),
)
def test_any_signed_inbound_gets_200_or_400(client, settings, body, sender, sid, opt_out) -> None:
    params = {"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": body}
    if opt_out:
        params["OptOutType"] = opt_out
    response = post_signed(client, "/webhooks/twilio/sms", params, settings.auth_token)
    assert response.status_code in (200, 400), response.data


@FUZZ
@given(
    path=st.sampled_from(["/webhooks/twilio/sms", "/webhooks/twilio/status"]),
    signature=st.one_of(st.none(), header_values),
    signature_settings=st.one_of(
        st.none(), header_values, header_values.map(lambda name: f"key=k,algorithm={name}")
    ),
)
def test_any_signature_headers_without_the_token_get_403(
    client, path, signature, signature_settings
) -> None:
    headers = {}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    if signature_settings is not None:
        headers["X-Twilio-Webhooks-Signature-Settings"] = signature_settings
    params = {"MessageSid": new_sid(), "MessageStatus": "failed", "ErrorCode": "21610",
              "From": "+14155550123", "Body": "STOP"}  # fmt: skip
    assert client.post(path, data=params, headers=headers).status_code == 403


@FUZZ
@given(
    sid=st.text(max_size=40),
    status=st.one_of(texts, st.sampled_from(["sent", "delivered", "failed", "undelivered"])),
    error=st.one_of(st.none(), texts, error_codes, st.sampled_from(["21610", "30003"])),
)
def test_any_signed_status_callback_is_answered(client, settings, sid, status, error) -> None:
    params = {"MessageSid": sid, "MessageStatus": status}
    if error is not None:
        params["ErrorCode"] = error
    response = post_signed(client, "/webhooks/twilio/status", params, settings.auth_token)
    assert response.status_code in (204, 400), response.data


@FUZZ
@given(body=json_values, path=st.sampled_from(["/api/contacts", "/api/events"]))
def test_any_json_to_the_api_gets_a_clear_answer(client, settings, body, path) -> None:
    headers = {"Authorization": f"Bearer {settings.api_token}"}
    response = client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 202, 400), response.get_json()
    if response.status_code == 400:
        assert response.get_json()["error"]


@FUZZ
@given(
    phone=st.sampled_from(["+14155550123", "+12125550199"]),
    fields=st.dictionaries(st.text(max_size=12), json_values, max_size=5),
    data=st.dictionaries(st.text(max_size=12), json_values, max_size=5),
    event=st.sampled_from(["appointment_booked", "cart_abandoned", "order_placed", "signup"]),
)
def test_odd_fields_and_event_data_never_break_a_journey(
    client, settings, phone, fields, data, event
) -> None:
    headers = {"Authorization": f"Bearer {settings.api_token}"}
    client.post("/api/contacts", json={"phone": phone, "fields": fields}, headers=headers)
    response = client.post(
        "/api/events", json={"phone": phone, "event": event, "data": data}, headers=headers
    )
    assert response.status_code in (202, 400), response.get_json()


# How to open one more level, how to close it, and what closes the body around them.
NESTINGS = [("[", "]", ""), ('{"a":', "}", ""),
            ('{"phone":"+14155550123","event":"x","data":{"a":', "}", "}")]  # fmt: skip


@FUZZ
@given(
    depth=st.integers(min_value=1, max_value=20_000),
    nesting=st.sampled_from(NESTINGS),
    closed=st.booleans(),
    path=st.sampled_from(["/api/contacts", "/api/events"]),
)
def test_json_nested_to_any_depth_gets_a_clear_answer(
    client, settings, depth, nesting, closed, path
) -> None:
    opener, closer, tail = nesting
    body = opener * depth + ("1" + closer * depth + tail if closed else "")
    headers = {"Authorization": f"Bearer {settings.api_token}"}
    response = client.post(path, data=body, content_type="application/json", headers=headers)
    assert response.status_code in (200, 202, 400, 413), response.get_json()
    if response.status_code >= 400:
        assert response.get_json()["error"]


@FUZZ
@given(zone=st.one_of(texts, st.sampled_from(["America", "Etc", "posix", "../x", "/etc/passwd"])))
def test_any_time_zone_gets_a_clear_answer(client, settings, zone) -> None:
    headers = {"Authorization": f"Bearer {settings.api_token}"}
    body = {"phone": "+14155550123", "timezone": zone}
    response = client.post("/api/contacts", json=body, headers=headers)
    assert response.status_code in (200, 400), response.get_json()


@FUZZ
@given(
    at=st.one_of(
        st.datetimes(timezones=st.none() | st.timezones()),
        near_calendar_ends,
        st.dates(),
    ).map(lambda at: at.isoformat()),
    zone=st.sampled_from(sorted(available_timezones())),
    event=st.sampled_from(["appointment_booked", "cart_abandoned"]),
)
def test_any_event_time_in_any_zone_gets_a_clear_answer(client, settings, at, zone, event) -> None:
    headers = {"Authorization": f"Bearer {settings.api_token}"}
    consent = {"marketing": True, "source": "test"}
    contact = {"phone": "+14155550123", "timezone": zone, "consent": consent}
    assert client.post("/api/contacts", json=contact, headers=headers).status_code == 200
    data = {"appointment_at": at, "abandoned_at": at, "provider": "Dr. Lee"}
    body = {"phone": "+14155550123", "event": event, "data": data}
    response = client.post("/api/events", json=body, headers=headers)
    assert response.status_code in (202, 400), response.get_json()
