"""Fixtures for the inbox: staff accounts, a signed-in test client, the app served over HTTP.

Page tests drive Debian's Chromium through Playwright (tests/browser.py) against the app
served by a werkzeug server in a thread.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from bot.config import Settings
from bot.runtime import Runtime
from bot.staff import StaffAccounts
from parley.app import create_app
from tests.conftest import Clock, free_port

PASSWORD = "correct horse battery"


@pytest.fixture
def accounts(runtime: Runtime) -> StaffAccounts:
    """The staff accounts of the app under test; Ana (admin) and Bo (agent) have one."""
    accounts = StaffAccounts(runtime.record)
    accounts.add("ana@example.com", PASSWORD, name="Ana Lima", role="admin")
    accounts.add("bo@example.com", PASSWORD, name="Bo Chen")
    return accounts


def csrf_token(html: str) -> str:
    """Return the CSRF token of the first form in a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(
    client,
    email: str = "ana@example.com",
    password: str = PASSWORD,
    address: str = "127.0.0.1",
    **extra: str,
):
    """Fill the sign-in form as a browser would (with its CSRF token); return the answer."""
    environ = {"REMOTE_ADDR": address}
    token = csrf_token(client.get("/inbox/sign-in", environ_base=environ).get_data(as_text=True))
    data = {"email": email, "password": password, "csrf_token": token, **extra}
    return client.post("/inbox/sign-in", data=data, environ_base=environ)


@dataclasses.dataclass(frozen=True)
class Served:
    """The app served over HTTP, and the runtime behind it."""

    url: str
    runtime: Runtime


@pytest.fixture
def served(settings: Settings, redis_url: str, clock: Clock) -> Iterator[Served]:
    """Serve the app on a loopback port, as a deployment would be."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    runtime = Runtime(dataclasses.replace(settings, public_url=base), redis_url, clock=clock)
    server = make_server("127.0.0.1", port, create_app(runtime), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(base, runtime)
    finally:
        server.shutdown()
        thread.join(10)
        runtime.record.dispose()


@pytest.fixture
def inbox_url(served: Served) -> str:
    """The served app's base URL."""
    return served.url
