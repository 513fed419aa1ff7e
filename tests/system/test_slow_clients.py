"""The Procfile's web process keeps answering while clients hold connections open or send slowly."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import pytest
import requests

from tests.processes import deployment

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
    with deployment(redis_url, emulator, tmp_path, workers=0) as (parley, _):
        port = int(parley.base.rsplit(":", 1)[1])
        with slow_clients(port) as dribbling:
            time.sleep(1.0)  # the server takes them all in
            for turn in range(6):
                try:
                    health = requests.get(f"{parley.base}/healthz", timeout=ANSWER_TIMEOUT)
                    webhook = parley.text(
                        "hi", phone=f"+141555501{turn:02d}", timeout=ANSWER_TIMEOUT
                    )
                except requests.Timeout:
                    pytest.fail(f"no answer within {ANSWER_TIMEOUT}s while slow clients hold on")
                assert health.status_code == 200
                assert webhook.status_code == 200, webhook.text
                dribble(dribbling)
                time.sleep(0.5)
