"""Staff at work in a real browser: see who waits, take over, reply, note, hand back, live."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Page, Route, expect

from bot.delivery.sender import Sender
from bot.record.drain import RecordDrain
from bot.record.writer import RecordWriter
from bot.runtime import Runtime
from bot.storage import keys
from tests.browser import screenshot
from tests.inbox.conftest import PASSWORD, Served
from tests.texting import Texter

PHONE = "+14155550123"


def record(runtime: Runtime) -> None:
    """Copy everything committed into the record, naming what changed on the feed."""
    drain = RecordDrain(
        runtime.redis, RecordWriter(runtime.record), keys.RECORD, "test", feed=keys.RECORD_FEED
    )
    while drain.run_once():
        pass


@pytest.fixture
def maria(client, settings, served: Served) -> Texter:
    """Maria's phone (a named contact) texting the served deployment's Redis."""
    texter = Texter(client, PHONE, settings.auth_token, settings.api_token)
    body = {"phone": PHONE, "fields": {"first_name": "Maria", "last_name": "Silva"}}
    assert client.post("/api/contacts", json=body, headers=texter.headers).status_code == 200
    return texter


def sign_in(page: Page, base: str, email: str = "ana@example.com") -> None:
    page.goto(base + "/inbox/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_staff_take_over_reply_note_and_hand_back(
    page: Page, served: Served, accounts, maria: Texter, emulator
) -> None:
    maria.text("I want to talk to a person please")
    record(served.runtime)
    sign_in(page, served.url)
    banner = page.get_by_role("banner")
    expect(banner.get_by_role("link", name=re.compile("Waiting for staff"))).to_contain_text("1")
    conversations = page.get_by_role("list", name="Conversations")
    expect(conversations.get_by_role("link", name="Maria Silva")).to_be_visible()
    expect(conversations).to_contain_text("waiting")
    conversations.get_by_role("link", name="Maria Silva").click()

    messages = page.get_by_role("list", name="Messages")
    expect(messages).to_contain_text("I want to talk to a person please")
    expect(messages).to_contain_text("intent: human")
    expect(page.get_by_text("Waiting for staff, nobody assigned")).to_be_visible()
    page.get_by_role("button", name="Take over").click()
    expect(page.get_by_text("Owned by Ana Lima (ana@example.com)")).to_be_visible()

    reply = page.get_by_label("Reply", exact=True)
    reply.fill("Hi Maria, this is Ana. How can I help?")
    expect(page.locator("#reply-count")).to_have_text("38 characters, 1 SMS segment (GSM-7)")
    reply.fill("Olá Maria 👋")
    expect(page.locator("#reply-count")).to_contain_text("1 SMS segment (UCS-2)")
    reply.fill("Hi Maria, this is Ana. How can I help?")
    page.get_by_role("button", name="Send").click()
    sent = messages.get_by_role("listitem").filter(has_text="this is Ana")
    expect(sent).to_contain_text("ana@example.com")
    expect(sent).to_contain_text("pending")
    Sender(served.runtime).drain()
    assert [m["body"] for m in emulator.messages() if m["to"] == PHONE][-1] == (
        "Hi Maria, this is Ana. How can I help?"
    )

    page.get_by_label("Note").fill("Asked about her refund; check with billing")
    page.get_by_role("button", name="Add note").click()
    expect(messages).to_contain_text("Asked about her refund; check with billing")

    page.get_by_role("button", name="Hand back").click()
    expect(page.get_by_text("The bot is answering")).to_be_visible()
    expect(messages).to_contain_text("Handed back to the bot")


def test_a_new_message_appears_without_reloading(
    page: Page, served: Served, accounts, maria: Texter
) -> None:
    maria.text("agent")
    record(served.runtime)
    sign_in(page, served.url)
    page.get_by_role("link", name="Maria Silva").click()
    page.get_by_label("Reply", exact=True).fill("half-typed answer")
    page.wait_for_timeout(2500)  # the page has read the feed's position once
    maria.text("are you there?")
    record(served.runtime)
    messages = page.get_by_role("list", name="Messages")
    expect(messages).to_contain_text("are you there?", timeout=8000)
    expect(page.get_by_label("Reply", exact=True)).to_have_value("half-typed answer")  # kept


def test_a_change_written_before_the_pages_first_poll_still_shows(
    page: Page, served: Served, accounts, maria: Texter
) -> None:
    maria.text("agent")
    record(served.runtime)
    sign_in(page, served.url)
    expect(page.get_by_role("link", name="Maria Silva")).to_be_visible()
    held: list[str] = []

    def change_before_the_first_poll(route: Route) -> None:
        # The thread page's first ask waits until a new text is in the record.
        if not held and "/inbox/c/" in (route.request.headers.get("referer") or ""):
            held.append(route.request.url)
            maria.text("still there?")
            record(served.runtime)
        route.continue_()

    page.route("**/inbox/feed*", change_before_the_first_poll)
    page.get_by_role("link", name="Maria Silva").click()
    messages = page.get_by_role("list", name="Messages")
    expect(messages).to_contain_text("agent")
    expect(messages).to_contain_text("still there?", timeout=8000)
    assert held, "the page asked the feed"


def test_staff_cannot_text_someone_who_opted_out_and_are_told_why(
    page: Page, served: Served, accounts, maria: Texter
) -> None:
    maria.text("human")
    maria.text("STOP")
    record(served.runtime)
    sign_in(page, served.url)
    page.goto(served.url + "/inbox/c/%2B14155550123")
    expect(page.get_by_role("status").filter(has_text="opted out")).to_be_visible()
    expect(page.get_by_label("Reply", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Send")).to_be_disabled()


def test_the_keyboard_moves_through_the_list_and_reaches_the_reply(
    page: Page, served: Served, accounts, maria: Texter
) -> None:
    maria.text("can a person help me")
    record(served.runtime)
    sign_in(page, served.url)
    page.get_by_role("link", name="All").click()
    expect(page.get_by_role("link", name=re.compile("^All"))).to_have_attribute(
        "aria-current", "page"
    )
    page.wait_for_load_state("load")  # inbox.js is listening
    page.keyboard.press("j")
    expect(page.get_by_role("link", name="Maria Silva")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Maria Silva", level=2)).to_be_visible()
    page.wait_for_load_state("load")
    page.keyboard.press("r")
    expect(page.get_by_label("Reply", exact=True)).to_be_focused()


def test_an_opt_out_in_plain_words_is_reviewed_and_undone_in_the_browser(
    page: Page, served: Served, accounts, maria: Texter
) -> None:
    maria.text("why do you keep texting me, I don't want these anymore")
    record(served.runtime)
    sign_in(page, served.url)
    waiting = page.get_by_role("link", name="Maria Silva")
    expect(waiting).to_be_visible()  # the Waiting view, where staff look first
    waiting.click()
    review = page.get_by_role("region", name="Opt-out to review")
    expect(review).to_contain_text("want these anymore")
    expect(page.get_by_text("Opt-out in plain words, to review")).to_be_visible()
    screenshot(page, "opt-out-review", "to-review")
    review.get_by_role("button", name="Undo opt-out").click()
    expect(page.get_by_role("region", name="Opt-out to review")).to_have_count(0)
    expect(page.get_by_text("Opt-out undone")).to_be_visible()
    assert maria.contact()["subscribed"] is True
    expect(page.get_by_label("Reply", exact=True)).to_be_enabled()


def test_a_reply_with_track_links_sends_short_links_and_counts_them_so(
    page: Page, served: Served, accounts, maria: Texter, emulator
) -> None:
    maria.text("I want to talk to a person please")
    record(served.runtime)
    sign_in(page, served.url)
    page.get_by_role("link", name="Maria Silva").click()
    url = "https://shop.example/" + "long/" * 40 + "end"
    text = f"Your order: {url}."
    page.get_by_label("Reply", exact=True).fill(text)
    expect(page.locator("#reply-count")).to_have_text(
        f"{len(text)} characters, 2 SMS segments (GSM-7)"
    )
    page.get_by_label("Track links").check()
    short = len(served.url) + len("/l/") + 11
    sent_length = len("Your order: .") + short
    expect(page.locator("#reply-count")).to_have_text(
        f"{sent_length} characters, 1 SMS segment (GSM-7)"
    )
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("list", name="Messages")).to_contain_text("Your order: ")
    Sender(served.runtime).drain()
    body = [m["body"] for m in emulator.messages() if m["to"] == PHONE][-1]
    assert len(body) == sent_length and body.startswith(f"Your order: {served.url}/l/")
    path = body.removeprefix(f"Your order: {served.url}").rstrip(".")
    answer = requests.get(served.url + path, allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and answer.headers["Location"] == url
