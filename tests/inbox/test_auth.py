"""Signing in to the inbox: accounts, failures and their limits, CSRF, cookies, sign-out."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings, SettingsError
from bot.runtime import Runtime
from parley.app import create_app
from sandbox.emulator_server import EmulatorServer
from tests.conftest import free_port
from tests.inbox.conftest import PASSWORD, csrf_token, sign_in
from tests.parley.test_cli import bot, one_line_error
from tests.processes import Processes, environment, wait_until

API = {"Authorization": "Bearer test-token"}


def test_pages_send_people_to_sign_in_first(client) -> None:
    response = client.get("/inbox/?page=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/inbox/sign-in?next=/inbox/?page%3D2"


def test_scripts_get_a_401_instead_of_a_page(client) -> None:
    response = client.get("/inbox/", headers={"Sec-Fetch-Mode": "cors"})
    assert response.status_code == 401
    assert response.mimetype == "text/plain"


def test_the_sign_in_form_labels_its_fields(client) -> None:
    html = client.get("/inbox/sign-in").get_data(as_text=True)
    assert '<label for="email">Email</label>' in html
    assert '<input id="email" name="email" type="email"' in html
    assert '<label for="password">Password</label>' in html
    assert '<input id="password" name="password" type="password"' in html
    assert '<button type="submit" class="button">Sign in</button>' in html


def test_signing_in_opens_the_inbox_and_names_who_is_in(client, accounts) -> None:
    response = sign_in(client, " ANA@example.com", next="/inbox/?page=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/inbox/?page=2"
    page = client.get("/inbox/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert ">Conversations</h1>" in html
    assert "Ana Lima" in html
    assert ">Sign out</button>" in html


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("ana@example.com", "wrong horse battery"),
        ("nobody@example.com", PASSWORD),
        ("ana@example.com", ""),
        ("", ""),
    ],
)
def test_a_failed_sign_in_does_not_say_which_part_was_wrong(
    client, accounts, email, password
) -> None:
    response = sign_in(client, email, password)
    assert response.status_code == 200
    assert "Wrong email or password" in response.get_data(as_text=True)
    assert client.get("/inbox/").status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/inbox/",
        "//evil.example/inbox/",
        "/\\evil.example/inbox/",
        "/api/contacts",
        "/inboxes",
        "javascript:alert(1)",
        "/inbox/../api/contacts",
    ],
)
def test_after_sign_in_only_inbox_pages_are_a_destination(client, accounts, target) -> None:
    response = sign_in(client, next=target)
    assert response.headers["Location"] == "/inbox/"


def test_five_failures_lock_the_account_for_a_while(client, accounts, runtime) -> None:
    for _ in range(5):
        assert sign_in(client, password="not the password").status_code == 200
    locked = sign_in(client)  # even the right password, now
    assert locked.status_code == 429
    assert "Too many failed sign-ins. Try again in 15 minutes" in locked.get_data(as_text=True)
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    assert client.get("/inbox/").status_code == 302
    # Another account is not locked by Ana's failures.
    assert sign_in(client.application.test_client(), "bo@example.com").status_code == 302
    # When the window ends, the right password works again.
    for key in runtime.redis.scan_iter("parley:signin:account:*"):
        runtime.redis.pexpire(key, 1)
    wait_until(lambda: sign_in(client).status_code == 302, 5, "the lock to end")


def test_signing_in_clears_the_accounts_failures(client, accounts) -> None:
    fresh = client.application.test_client
    for _ in range(4):
        sign_in(client, password="not the password")
    assert sign_in(client).status_code == 302
    for _ in range(4):
        assert sign_in(fresh(), password="not the password").status_code == 200
    assert sign_in(fresh()).status_code == 302


def test_twenty_failures_from_one_address_lock_it_out(client, accounts) -> None:
    for n in range(20):
        assert sign_in(client, f"guess{n}@example.com").status_code == 200
    refused = sign_in(client)
    assert refused.status_code == 429
    assert "Try again in 15 minutes" in refused.get_data(as_text=True)
    # Ana's account is not locked: from elsewhere she signs in.
    assert sign_in(client.application.test_client(), address="192.0.2.7").status_code == 302


def test_a_form_without_its_csrf_token_is_refused(client, accounts) -> None:
    refused = client.post("/inbox/sign-in", data={"email": "ana@example.com", "password": PASSWORD})
    assert refused.status_code == 400
    assert "expired" in refused.get_data(as_text=True)
    assert client.get("/inbox/").status_code == 302
    sign_in(client)
    assert client.post("/inbox/sign-out").status_code == 400
    forged = client.post("/inbox/sign-out", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert client.get("/inbox/").status_code == 200  # still signed in


def test_signing_out_ends_the_session(client, accounts) -> None:
    sign_in(client)
    token = csrf_token(client.get("/inbox/").get_data(as_text=True))
    response = client.post("/inbox/sign-out", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/inbox/sign-in"
    assert "You have signed out." in client.get("/inbox/sign-in").get_data(as_text=True)
    assert client.get("/inbox/").status_code == 302


def test_a_removed_account_is_signed_out_at_once(client, accounts) -> None:
    sign_in(client)
    accounts.remove("ana@example.com")
    assert client.get("/inbox/").status_code == 302


def test_an_account_removed_and_added_again_needs_a_new_sign_in(client, accounts) -> None:
    sign_in(client)
    accounts.remove("ana@example.com")
    accounts.add("ana@example.com", PASSWORD)
    assert client.get("/inbox/").status_code == 302
    sign_in(client)
    assert client.get("/inbox/").status_code == 200


def test_a_session_lasts_twelve_hours(client, accounts) -> None:
    sign_in(client)
    with client.session_transaction() as session:
        session["at"] = (datetime.now(UTC) - timedelta(hours=11, minutes=59)).timestamp()
    assert client.get("/inbox/").status_code == 200
    with client.session_transaction() as session:
        session["at"] = (datetime.now(UTC) - timedelta(hours=12, minutes=1)).timestamp()
    assert client.get("/inbox/").status_code == 302


def test_the_api_token_does_not_open_the_inbox(client, accounts) -> None:
    response = client.get("/inbox/", headers=API)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/inbox/sign-in")


def test_a_session_does_not_open_the_api(client, accounts) -> None:
    sign_in(client)
    assert client.get("/inbox/").status_code == 200
    assert client.get("/api/contacts").status_code == 401
    assert client.post("/api/contacts", json={"phone": "+14155550123"}).status_code == 401
    # The API needs no CSRF token: its bearer token is not sent by browsers on their own.
    assert (
        client.post("/api/contacts", json={"phone": "+14155550123"}, headers=API).status_code == 200
    )


def test_the_session_cookie_is_out_of_scripts_reach(client, accounts) -> None:
    cookie = sign_in(client).headers["Set-Cookie"]
    assert cookie.startswith("parley_session=")
    assert "; HttpOnly" in cookie
    assert "; SameSite=Lax" in cookie
    assert "; Secure" in cookie  # PUBLIC_URL is https


def test_over_plain_http_the_cookie_is_not_marked_secure(settings, redis_url, accounts) -> None:
    runtime = Runtime(dataclasses.replace(settings, public_url="http://127.0.0.1:5000"), redis_url)
    try:
        client = create_app(runtime).test_client()
        cookie = sign_in(client).headers["Set-Cookie"]
        assert "; Secure" not in cookie
        assert "; HttpOnly" in cookie
    finally:
        runtime.record.dispose()


def test_twilio_credentials_need_a_secret_key() -> None:
    env = {"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "token"}
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env(env)
    result = bot("staff", "list", env={**env, "SECRET_KEY": ""})
    assert result.returncode == 2
    assert one_line_error(result).startswith("parley: SECRET_KEY must be set")


def test_the_web_process_refuses_to_start_without_a_secret_key(
    redis_url, emulator: EmulatorServer, tmp_path
) -> None:
    env = environment(redis_url, emulator, free_port(), tmp_path / "var")
    processes = Processes(env, tmp_path)
    try:
        web = processes.start("web", SECRET_KEY="")
        wait_until(lambda: web.poll() is not None, 60, "the web process to stop")
        assert web.returncode != 0
        log = processes.log("web")
        assert "SECRET_KEY must be set" in log, log
        assert "Traceback" not in log, log
    finally:
        processes.stop()


def test_pages_are_never_framed_or_cached(client, accounts) -> None:
    sign_in(client)
    for path in ("/inbox/", "/inbox/sign-in"):
        response = client.get(path)
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert client.get("/inbox/").headers["Cache-Control"] == "no-store"
