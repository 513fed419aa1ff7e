"""The thread and the list over HTTP: pages of history, actions as forms, what needs a session."""

from __future__ import annotations

import re

import pytest

from bot.record.drain import RecordDrain
from bot.record.writer import RecordWriter
from bot.storage import keys
from tests.inbox.conftest import csrf_token, sign_in
from tests.texting import Texter

PHONE = "+14155550123"
ACTIONS = (
    "take-over",
    "hand-back",
    "resolve",
    "reply",
    "note",
    "snooze",
    "assign",
    "keep-opt-out",
    "undo-opt-out",
)


@pytest.fixture
def texter(client, settings) -> Texter:
    return Texter(client, PHONE, settings.auth_token, settings.api_token)


def test_a_long_thread_shows_its_latest_page_and_links_to_earlier_ones(
    client, accounts, texter: Texter, runtime
) -> None:
    for n in range(55):  # 110 messages: a page of 100 and 10 before it
        texter.text(f"question {n}")
    drain = RecordDrain(runtime.redis, RecordWriter(runtime.record), keys.RECORD, "t")
    while drain.run_once():
        pass
    sign_in(client)
    latest = client.get(f"/inbox/c/{PHONE}").get_data(as_text=True)
    assert "question 54" in latest and "question 4<" not in latest
    earlier = re.search(r'href="([^"]+before=[^"]+)">Earlier messages', latest)
    assert earlier, "a full page links to the messages before it"
    older = client.get(earlier.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "question 0<" in older and "question 54" not in older
    assert "Latest messages" in older


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_needs_a_session(client, accounts, texter: Texter, action: str) -> None:
    texter.text("human")
    response = client.post(f"/inbox/c/{PHONE}/{action}", data={"body": "hi"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/inbox/sign-in")
    assert texter.contact()["conversation"]["assignee"] is None


@pytest.mark.parametrize("action", ACTIONS)
def test_a_forged_csrf_token_is_refused(client, accounts, texter: Texter, action: str) -> None:
    texter.text("human")
    sign_in(client)
    data = {"body": "hi", "text": "note", "csrf_token": "forged"}
    response = client.post(f"/inbox/c/{PHONE}/{action}", data=data)
    assert response.status_code == 400
    assert texter.contact()["conversation"]["assignee"] is None


def test_the_api_token_does_not_open_the_inbox_pages(client, texter: Texter) -> None:
    texter.text("human")
    for path in ("/inbox/", f"/inbox/c/{PHONE}", "/inbox/feed", "/inbox/rows"):
        response = client.get(path, headers=texter.headers)
        assert response.status_code == 302, path


def test_a_refused_reply_is_explained_and_keeps_what_was_typed(
    client, accounts, texter: Texter
) -> None:
    texter.text("human")
    texter.text("STOP")
    sign_in(client)
    page = client.get(f"/inbox/c/{PHONE}").get_data(as_text=True)
    data = {"body": "please stay", "csrf_token": csrf_token(page)}
    response = client.post(f"/inbox/c/{PHONE}/reply", data=data, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "This contact opted out (STOP)" in html
    assert ">please stay</textarea>" in html
    assert [m["body"] for m in texter.outbound() if m.get("author")] == []


def test_an_unknown_view_or_contact_is_a_404(client, accounts) -> None:
    sign_in(client)
    assert client.get("/inbox/?view=later").status_code == 404
    assert client.get("/inbox/c/+14155550000").status_code == 404
    assert client.get("/inbox/c/not-a-number").status_code == 404
