"""Opt-outs in plain words wait for staff in the inbox: kept as they stand, or undone."""

from __future__ import annotations

import pytest

from bot.delivery.sender import Sender
from tests.inbox.conftest import csrf_token, sign_in
from tests.texting import Texter

PHONE = "+14155550123"
STAFF = "ana@example.com"  # the account tests.inbox.conftest makes


@pytest.fixture
def texter(client, settings) -> Texter:
    return Texter(client, PHONE, settings.auth_token, settings.api_token)


def act(client, action: str) -> str:
    page = client.get(f"/inbox/c/{PHONE}").get_data(as_text=True)
    response = client.post(
        f"/inbox/c/{PHONE}/{action}", data={"csrf_token": csrf_token(page)}, follow_redirects=True
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def consent_events(texter: Texter) -> list[tuple[str, bool, str]]:
    return [
        (e["purpose"], e["granted"], e["method"])
        for e in texter.events()
        if e["type"] == "consent_changed"
    ]


def test_an_opt_out_in_plain_words_waits_for_staff_and_can_be_undone(
    client, accounts, texter: Texter
) -> None:
    consent = {"phone": PHONE, "consent": {"marketing": True, "source": "form:signup"}}
    assert client.post("/api/contacts", json=consent, headers=texter.headers).status_code == 200
    texter.text("why do you keep texting me, I don't want these anymore")
    contact = texter.contact()
    assert contact["subscribed"] is False  # honoured at once
    assert contact["opt_out_review"]["text"].startswith("why do you keep texting me")
    assert contact["conversation"]["status"] == "open"
    assert contact["conversation"]["waiting_since"] is not None  # in the Waiting view
    sign_in(client, STAFF)
    page = client.get(f"/inbox/c/{PHONE}").get_data(as_text=True)
    assert "Undo opt-out" in page and "Keep opt-out" in page
    act(client, "undo-opt-out")
    contact = texter.contact()
    assert contact["subscribed"] is True
    assert contact["opt_out_review"] is None
    assert contact["consent"]["marketing"]["granted"] is True  # as it was before
    assert contact["consent"]["marketing"]["method"] == "staff"
    assert contact["conversation"]["assignee"] == STAFF
    # The opt-out revoked both purposes; undoing it grants both again, as they were (the
    # transactional one implied), so the ledger's last word on each is the staff member's.
    assert consent_events(texter)[-4:] == [
        ("marketing", False, "words"),
        ("transactional", False, "words"),
        ("marketing", True, "staff"),
        ("transactional", True, "staff"),
    ]
    page = client.get(f"/inbox/c/{PHONE}").get_data(as_text=True)
    assert "Undo opt-out" not in page


def test_a_kept_opt_out_stands_and_the_conversation_is_resolved(
    client, accounts, texter: Texter
) -> None:
    texter.text("please take me off your list")
    sign_in(client, STAFF)
    act(client, "keep-opt-out")
    contact = texter.contact()
    assert contact["subscribed"] is False
    assert contact["opt_out_review"] is None
    assert contact["conversation"]["status"] == "resolved"
    # Nothing to review any more: a second press is explained, not an error.
    page = act(client, "undo-opt-out")
    assert "no opt-out waiting for review" in page
    assert texter.contact()["subscribed"] is False


def test_a_keyword_opt_out_needs_no_review(client, accounts, texter: Texter) -> None:
    texter.text("STOP")
    contact = texter.contact()
    assert contact["subscribed"] is False
    assert contact["opt_out_review"] is None
    assert contact["conversation"]["status"] == "bot"


@pytest.mark.parametrize("later", ["STOP", "START", "no more promos please"])
def test_the_contacts_own_later_word_settles_the_review(
    client, accounts, texter: Texter, later: str
) -> None:
    consent = {"phone": PHONE, "consent": {"marketing": True, "source": "form:signup"}}
    assert client.post("/api/contacts", json=consent, headers=texter.headers).status_code == 200
    texter.text("why do you keep texting me, I don't want these anymore")
    texter.text(later)
    before = texter.contact()
    assert before["opt_out_review"] is None
    sign_in(client, STAFF)
    page = act(client, "undo-opt-out")  # too late: the contact has spoken since
    assert "no opt-out waiting for review" in page
    after = texter.contact()
    assert (after["subscribed"], after["consent"]) == (before["subscribed"], before["consent"])


def test_leaving_marketing_when_out_of_everything_sends_nothing(
    texter: Texter, runtime, emulator
) -> None:
    texter.text("STOP")
    Sender(runtime).drain()
    texter.text("no more promos please")
    Sender(runtime).drain()
    assert [m["body"] for m in emulator.messages()] == [
        "You're unsubscribed from Bright Smile Dental and will get no more messages. "
        "Reply START to resubscribe."
    ]
    assert texter.contact()["subscribed"] is False
