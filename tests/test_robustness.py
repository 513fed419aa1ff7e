"""Whatever arrives, the answer is a clear 2xx or 4xx: never a 500, never a crash."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.texting import post_signed

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
    sid=st.text(max_size=40),
    status=st.one_of(texts, st.sampled_from(["sent", "delivered", "failed", "undelivered"])),
    error=st.one_of(st.none(), texts, st.sampled_from(["21610", "30003"])),
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
