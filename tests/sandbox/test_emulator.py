"""Drive the Twilio emulator through the real twilio SDK."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sandbox.emulator import create_emulator
from sandbox.emulator_server import EmulatorServer
from sandbox.emulator_store import count_segments

FROM = "+15005550006"
TO = "+14155550123"


class CallbackReceiver:
    """A loopback HTTP server that records every POST it receives."""

    def __init__(self, status: int = 204) -> None:
        self.posts: list[dict[str, Any]] = []
        self._status = status
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/webhooks/twilio/status"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(environ)
        with self._lock:
            self.posts.append(
                {
                    "path": req.path,
                    "params": req.form.to_dict(),
                    "signature": req.headers.get("X-Twilio-Signature"),
                }
            )
        return Response(status=self._status)(environ, start_response)

    def __enter__(self) -> CallbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


def make_client(server: EmulatorServer, token: str | None = None, **http: Any) -> Client:
    client = Client(
        server.account_sid,
        token or server.auth_token,
        http_client=TwilioHttpClient(**http) if http else None,
    )
    client.api.base_url = server.base_url
    return client


@pytest.fixture
def client(emulator: EmulatorServer) -> Client:
    return make_client(emulator)


def test_create_returns_message_instance(client: Client, emulator: EmulatorServer) -> None:
    msg = client.messages.create(to=TO, from_=FROM, body="hi there")
    assert re.fullmatch(r"SM[0-9a-f]{32}", msg.sid)
    assert (msg.status, msg.to, msg.from_, msg.body) == ("queued", TO, FROM, "hi there")
    assert msg.account_sid == emulator.account_sid
    assert msg.num_segments == "1" and msg.num_media == "0"
    assert msg.direction == "outbound-api" and msg.api_version == "2010-04-01"
    assert msg.date_created is not None and msg.date_created.tzinfo is not None
    assert msg.price is None and msg.price_unit == "USD"
    assert msg.error_code is None and msg.error_message is None
    assert msg.uri == f"/2010-04-01/Accounts/{emulator.account_sid}/Messages/{msg.sid}.json"
    assert [m["sid"] for m in emulator.messages()] == [msg.sid]


def test_messaging_service_create_is_accepted(client: Client, emulator: EmulatorServer) -> None:
    service = "MG" + "1" * 32
    msg = client.messages.create(to=TO, messaging_service_sid=service, body="hello")
    assert msg.status == "accepted" and msg.messaging_service_sid == service
    done = emulator.wait_for(lambda ms: ms[0]["status"] == "delivered")
    assert done[0]["from"] == FROM  # a sender is picked when the message goes out


def test_fetch_and_list(client: Client, emulator: EmulatorServer) -> None:
    first = client.messages.create(to=TO, from_=FROM, body="one")
    second = client.messages.create(to="+14155550999", from_=FROM, body="two")
    third = client.messages.create(to=TO, from_=FROM, body="three")
    assert client.messages(second.sid).fetch().body == "two"
    listed = client.messages.list(to=TO)
    assert [m.sid for m in listed] == [third.sid, first.sid]  # newest first, like Twilio
    assert len(client.messages.list(from_=FROM)) == 3
    assert client.messages.list(to="+19999999999") == []
    with pytest.raises(TwilioRestException) as err:
        client.messages("SM" + "f" * 32).fetch()
    assert (err.value.status, err.value.code) == (404, 20404)


def test_list_follows_next_page_uri(client: Client) -> None:
    sids = {client.messages.create(to=TO, from_=FROM, body=str(i)).sid for i in range(7)}
    assert {m.sid for m in client.messages.list(page_size=3)} == sids
    assert len(client.messages.list(limit=4, page_size=3)) == 4


def test_delete_message(client: Client, emulator: EmulatorServer) -> None:
    msg = client.messages.create(to=TO, from_=FROM, body="bye")
    assert client.messages(msg.sid).delete() is True
    assert emulator.messages() == []


def test_bad_auth_is_401(emulator: EmulatorServer) -> None:
    client = make_client(emulator, token="wrong-token")
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(to=TO, from_=FROM, body="hi")
    assert (err.value.status, err.value.code) == (401, 20003)
    assert emulator.messages() == []


def test_other_account_in_path_is_404(emulator: EmulatorServer) -> None:
    client = make_client(emulator)
    with pytest.raises(TwilioRestException) as err:
        client.api.v2010.accounts("AC" + "9" * 32).messages.create(to=TO, from_=FROM, body="x")
    assert err.value.status == 404


@pytest.mark.parametrize(
    ("to", "code", "fragment"),
    [
        ("+15005550001", 21211, "is not a valid phone number"),
        ("+15005550002", 21612, "is not currently reachable"),
        ("+15005550004", 21610, "Attempt to send to unsubscribed recipient"),
        ("+15005550009", 21614, "is not a mobile number"),
        ("not-a-number", 21211, "is not a valid phone number"),
    ],
)
def test_magic_numbers_raise(
    client: Client, emulator: EmulatorServer, to: str, code: int, fragment: str
) -> None:
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(to=to, from_=FROM, body="hi")
    assert (err.value.status, err.value.code) == (400, code)
    assert fragment in err.value.msg
    assert emulator.messages() == []


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": "", "from_": FROM, "body": "hi"}, 21604),
        ({"to": TO, "from_": FROM}, 21602),
        ({"to": TO, "body": "hi"}, 21603),
        ({"to": TO, "from_": FROM, "body": "x" * 1601}, 21617),
    ],
)
def test_validation_errors(client: Client, kwargs: dict[str, str], code: int) -> None:
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(**kwargs)
    assert (err.value.status, err.value.code) == (400, code)


def test_error_json_shape(emulator: EmulatorServer) -> None:
    url = f"{emulator.base_url}/2010-04-01/Accounts/{emulator.account_sid}/Messages.json"
    reply = requests.post(
        url,
        data={"To": "+15005550001", "From": FROM, "Body": "hi"},
        auth=(emulator.account_sid, emulator.auth_token),
        timeout=5,
    )
    assert reply.status_code == 400
    assert reply.json() == {
        "code": 21211,
        "message": "The 'To' number +15005550001 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (429, 20429), (503, 20503)])
def test_injected_status_faults(
    client: Client, emulator: EmulatorServer, status: int, code: int
) -> None:
    emulator.inject_fault(status=status, count=2)
    for _ in range(2):  # the SDK does not retry, so each call sees one fault
        with pytest.raises(TwilioRestException) as err:
            client.messages.create(to=TO, from_=FROM, body="hi")
        assert (err.value.status, err.value.code) == (status, code)
    assert client.messages.create(to=TO, from_=FROM, body="hi").status == "queued"
    assert len(emulator.messages()) == 1


def test_injected_fault_custom_code_over_http(client: Client, emulator: EmulatorServer) -> None:
    reply = requests.post(
        f"{emulator.base_url}/_emulator/faults",
        json={"status": 500, "count": 1, "code": 30001},
        timeout=5,
    )
    assert reply.status_code == 201
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(to=TO, from_=FROM, body="hi")
    assert (err.value.status, err.value.code) == (500, 30001)
    bad = requests.post(f"{emulator.base_url}/_emulator/faults", json={"count": 1}, timeout=5)
    assert bad.status_code == 400


def test_delay_fault_trips_client_timeout(emulator: EmulatorServer) -> None:
    emulator.inject_fault(delay=1.0)
    slow = make_client(emulator, timeout=0.2)
    with pytest.raises(requests.exceptions.Timeout):
        slow.messages.create(to=TO, from_=FROM, body="hi")
    # The delayed request still completes server-side, as a real timed-out send might.
    emulator.wait_for(lambda ms: len(ms) == 1)
    assert slow.messages.create(to=TO, from_=FROM, body="again").status == "queued"


def test_emulator_http_routes_and_reset(client: Client, emulator: EmulatorServer) -> None:
    msg = client.messages.create(to=TO, from_=FROM, body="hi")
    listed = requests.get(f"{emulator.base_url}/_emulator/messages", timeout=5).json()
    assert [m["sid"] for m in listed] == [msg.sid]
    assert listed[0]["status_callback"] is None
    emulator.inject_fault(status=500, count=5)
    assert requests.delete(f"{emulator.base_url}/_emulator/messages", timeout=5).status_code == 204
    assert emulator.messages() == []
    assert client.messages.create(to=TO, from_=FROM, body="hi").status == "queued"


def test_status_callbacks_sent_then_delivered(client: Client, emulator: EmulatorServer) -> None:
    with CallbackReceiver() as receiver:
        msg = client.messages.create(to=TO, from_=FROM, body="hi", status_callback=receiver.url)
        emulator.wait_for(lambda ms: len(ms[0]["callbacks"]) == 2)
    statuses = [p["params"]["MessageStatus"] for p in receiver.posts]
    assert statuses == ["sent", "delivered"]
    validator = RequestValidator(emulator.auth_token)
    for post in receiver.posts:
        params = post["params"]
        assert post["path"] == "/webhooks/twilio/status"
        assert params["MessageSid"] == params["SmsSid"] == msg.sid
        assert params["SmsStatus"] == params["MessageStatus"]
        assert (params["From"], params["To"]) == (FROM, TO)
        assert params["AccountSid"] == emulator.account_sid
        assert params["ApiVersion"] == "2010-04-01"
        assert "ErrorCode" not in params
        assert validator.validate(receiver.url, params, post["signature"])
        assert not validator.validate(receiver.url, {**params, "To": "+1"}, post["signature"])
    fetched = client.messages(msg.sid).fetch()
    assert fetched.status == "delivered" and fetched.date_sent is not None


def test_status_callbacks_undelivered(client: Client, emulator: EmulatorServer) -> None:
    with CallbackReceiver() as receiver:
        msg = client.messages.create(
            to="+14155550013", from_=FROM, body="hi", status_callback=receiver.url
        )
        emulator.wait_for(lambda ms: len(ms[0]["callbacks"]) == 2)
    assert [p["params"]["MessageStatus"] for p in receiver.posts] == ["sent", "undelivered"]
    assert "ErrorCode" not in receiver.posts[0]["params"]
    assert receiver.posts[1]["params"]["ErrorCode"] == "30003"
    validator = RequestValidator(emulator.auth_token)
    assert all(
        validator.validate(receiver.url, p["params"], p["signature"]) for p in receiver.posts
    )
    fetched = client.messages(msg.sid).fetch()
    assert (fetched.status, fetched.error_code) == ("undelivered", 30003)


def test_callback_failures_are_dropped(client: Client, emulator: EmulatorServer) -> None:
    with CallbackReceiver() as closed:
        dead_url = closed.url  # nothing listens here once the receiver has shut down
    with CallbackReceiver(status=500) as broken:
        client.messages.create(to=TO, from_=FROM, body="a", status_callback=dead_url)
        client.messages.create(to=TO, from_=FROM, body="b", status_callback=broken.url)
        msgs = emulator.wait_for(lambda ms: all(len(m["callbacks"]) == 2 for m in ms))
    assert all(c["error"] for c in msgs[0]["callbacks"])
    assert [c["http_status"] for c in msgs[1]["callbacks"]] == [500, 500]
    assert [m["status"] for m in msgs] == ["delivered", "delivered"]


def test_callback_delay_holds_status() -> None:
    with EmulatorServer(callback_delay=1.5) as server, CallbackReceiver() as receiver:
        client = make_client(server)
        client.messages.create(to=TO, from_=FROM, body="hi", status_callback=receiver.url)
        assert server.messages()[0]["status"] == "queued"
        assert receiver.posts == []
        server.wait_for(lambda ms: ms[0]["status"] == "delivered", timeout=10)
        deadline = time.monotonic() + 5
        while len(receiver.posts) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)  # the last callback may still be on its way
    assert len(receiver.posts) == 2


def test_wait_for_times_out(emulator: EmulatorServer) -> None:
    with pytest.raises(TimeoutError):
        emulator.wait_for(lambda ms: len(ms) > 0, timeout=0.1)


def test_concurrent_clients(emulator: EmulatorServer) -> None:
    def burst(n: int) -> list[str]:
        client = make_client(emulator)
        return [client.messages.create(to=TO, from_=FROM, body=f"{n}-{i}").sid for i in range(25)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        sids = [sid for batch in pool.map(burst, range(8)) for sid in batch]
    assert len(set(sids)) == 200
    assert {m["sid"] for m in emulator.messages()} == set(sids)


def test_app_factory_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMULATOR_ACCOUNT_SID", "AC" + "a" * 32)
    monkeypatch.setenv("EMULATOR_AUTH_TOKEN", "env-token")
    app = create_emulator()
    path = f"/2010-04-01/Accounts/{'AC' + 'a' * 32}/Messages.json"
    form = {"To": TO, "From": FROM, "Body": "hi"}
    http = app.test_client()
    good = http.post(path, data=form, auth=("AC" + "a" * 32, "env-token"))
    assert good.status_code == 201 and good.get_json()["status"] == "queued"
    assert http.post(path, data=form, auth=("AC" + "0" * 32, "emulator-token")).status_code == 401
    assert http.get("/nope").get_json()["status"] == 404
    app.extensions["parley_emulator"]["dispatcher"].stop()


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("[" * 80, 1),  # extension characters count twice
        ("[" * 81, 2),
        ("é" * 160, 1),  # é is in the GSM alphabet
        ("ł" * 70, 1),  # ł is not, so UCS-2 limits apply
        ("ł" * 71, 2),
        ("\U0001f600" * 35, 1),  # emoji are two UTF-16 units each
        ("\U0001f600" * 36, 2),
    ],
)
def test_count_segments(body: str, segments: int) -> None:
    assert count_segments(body) == segments
