"""A hand-off tells the configured webhook, signed, and again until the webhook takes it."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot import worker
from bot.delivery import handoff_notice
from bot.runtime import Runtime
from bot.worker import tick
from parley.app import create_app
from tests.texting import Texter

PHONE = "+14155550123"
SECRET = "hook-secret"


class Hook:
    """A webhook receiver on loopback that fails its first `failures` calls with a 500."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[dict[str, str], bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.calls.append((dict(self.headers), body))
                status = 500 if len(hook.calls) <= hook.failures else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    hook = Hook(failures=1)
    yield hook
    hook.server.shutdown()


@pytest.fixture
def hooked(settings, redis_url, clock, hook: Hook, monkeypatch) -> Iterator[tuple[Runtime, Texter]]:
    """A deployment that tells `hook` about hand-offs, retrying at once instead of in 10 s."""
    monkeypatch.setattr(handoff_notice, "RETRY_INTERVALS", [0, 0])
    configured = replace(settings, handoff_webhook_url=hook.url, handoff_webhook_secret=SECRET)
    runtime = Runtime(configured, redis_url, clock)
    client = create_app(runtime).test_client()
    yield runtime, Texter(client, PHONE, settings.auth_token, settings.api_token)
    runtime.record.dispose()


def test_a_hand_off_is_posted_signed_and_retried_until_taken(hooked, hook: Hook) -> None:
    runtime, texter = hooked
    texter.text("I'd like to talk to a person")
    tick(runtime)
    worker.run(runtime, burst=True)
    assert len(hook.calls) == 2  # a 500, then taken
    headers, body = hook.calls[-1]
    expected = hmac.new(
        SECRET.encode(), headers["X-Parley-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Parley-Signature"] == "sha256=" + expected
    notice = json.loads(body)
    assert notice["phone"] == PHONE and notice["reason"] == "requested"
    assert notice["text"].startswith(f"{PHONE} is waiting for staff (requested)")
    assert notice["url"] == "https://parley.example.com/inbox/c/%2B14155550123"


def test_an_opt_out_in_plain_words_to_review_is_posted(hooked, hook: Hook) -> None:
    runtime, texter = hooked
    texter.text("please stop texting me")
    tick(runtime)
    worker.run(runtime, burst=True)
    assert len(hook.calls) == 2  # a 500, then taken
    notice = json.loads(hook.calls[-1][1])
    assert (notice["phone"], notice["reason"]) == (PHONE, "opt_out_review")


def test_no_notice_once_staff_have_answered(hooked, hook: Hook) -> None:
    runtime, texter = hooked
    texter.text("agent please")
    runtime.desk.reply(PHONE, "ana@clinic.test", "Ana here, how can I help?")
    tick(runtime)
    worker.run(runtime, burst=True)
    assert hook.calls == []


def test_without_a_webhook_nothing_is_scheduled(runtime, client, settings) -> None:
    texter = Texter(client, PHONE, settings.auth_token, settings.api_token)
    texter.text("human")
    assert runtime.timers.pending() == 0
