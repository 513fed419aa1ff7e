"""The Procfile's web process keeps answering while clients hold connections open or send slowly."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import pytest
import requests

from tests.conftest import BUSINESS_NUMBER, free_port, sign
from tests.processes import procfile_env, running, wait_healthy
from tests.texting import new_sid

IDLE, HALF_SENT, DRIBBLING = 50, 50, 10
ANSWER_TIMEOUT = 5.0  # far more than an answer takes; a process with no free thread takes longer
HEAD = (
    b"POST /webhooks/twilio/sms HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: x\r\n"
)
# Half stop inside the head, half inside a body they promised.
HALF_SENT_REQUESTS = (HEAD, HEAD + b"Content-Length: 1000\r\n\r\nBody=hel")


@contextmanager
def slow_clients(port: int) -> Iterator[list[socket.socket]]:
    """Open the idle and half-sent connections; yield the dribbling ones; close all after."""
    with ExitStack() as stack:

        def connect(sent: bytes) -> socket.socket:
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
            sock.sendall(sent)
            return sock

        for _ in range(IDLE):
            connect(b"")
        for number in range(HALF_SENT):
            connect(HALF_SENT_REQUESTS[number % 2])
        yield [connect(HEAD + b"X-Padding: ") for _ in range(DRIBBLING)]


def dribble(sockets: list[socket.socket]) -> None:
    """Send one more byte of the dribbling requests."""
    for sock in sockets:
        with suppress(OSError):  # closed by the server: it may stop waiting for a request
            sock.send(b"a")


def test_health_and_webhooks_are_answered_while_slow_clients_hold_connections(
    redis_url: str, emulator, tmp_path: Path
) -> None:
    port = free_port()
    env = procfile_env(port, redis_url, emulator, tmp_path / "var")
    base = env["PUBLIC_URL"]
    url = f"{base}/webhooks/twilio/sms"
    with running(("web",), env, tmp_path):
        wait_healthy(base)
        with slow_clients(port) as dribbling:
            time.sleep(1.0)  # the server takes them all in
            for turn in range(6):
                try:
                    health = requests.get(f"{base}/healthz", timeout=ANSWER_TIMEOUT)
                    params = {
                        "MessageSid": new_sid(),
                        "From": f"+141555501{turn:02d}",
                        "To": BUSINESS_NUMBER,
                        "Body": "hi",
                    }
                    signature = sign(url, params, emulator.auth_token)
                    webhook = requests.post(
                        url,
                        data=params,
                        headers={"X-Twilio-Signature": signature},
                        timeout=ANSWER_TIMEOUT,
                    )
                except requests.Timeout:
                    pytest.fail(f"no answer within {ANSWER_TIMEOUT}s while slow clients hold on")
                assert health.status_code == 200
                assert webhook.status_code == 200, webhook.text
                dribble(dribbling)
                time.sleep(0.5)
