"""The staff inbox against the Procfile's own web, worker and recorder, in a real browser.

Staff accounts are made with the command line, customers text through signed webhooks,
replies go to the Twilio emulator, whose status callbacks come back to the web process;
the pages only ever show what those processes did. Screenshots of each page are saved
under test-results/screenshots/ for a person to look at.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import screenshot
from tests.processes import ROOT, Parley, Processes, deployment, wait_until

PHONE = "+14155550123"
PASSWORD = "correct horse battery"
OFFER = "Welcome! You're in. Here's 10% off your next order: use code WELCOME10."


@pytest.fixture
def parley(redis_url: str, emulator, tmp_path: Path) -> Iterator[tuple[Parley, Processes]]:
    with deployment(redis_url, emulator, tmp_path, recorders=1) as running:
        yield running


def add_staff(processes: Processes, email: str, name: str, role: str) -> None:
    """Make an account with the command line, as an operator would."""
    command = [sys.executable, "-m", "bot", "staff", "add", email, "--name", name, "--role", role]
    done = subprocess.run(
        [*command, "--password-stdin"],
        input=PASSWORD + "\n",
        env=processes.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def signed_in(browser: Browser, base: str, email: str, shot: str | None = None) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(15_000)
    page.goto(base + "/inbox/")
    if shot:
        screenshot(page, shot, "0-sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Conversations", level=1)).to_be_visible()
    return page


def texts_to(emulator, phone: str) -> list[str]:
    return [m["body"] for m in emulator.messages() if m["to"] == phone]


def test_a_day_at_the_inbox(parley, emulator, browser: Browser, request) -> None:
    client, processes = parley
    add_staff(processes, "ana@example.com", "Ana Lima", "admin")
    add_staff(processes, "bo@example.com", "Bo Chen", "agent")
    shot = request.node.name

    assert client.text("JOIN").status_code == 200
    wait_until(lambda: texts_to(emulator, PHONE), what="the welcome's question")
    assert client.text("can I talk to a person").status_code == 200
    wait_until(lambda: len(texts_to(emulator, PHONE)) == 2, what="the hand-off's answer")

    ana = signed_in(browser, client.base, "ana@example.com", shot)
    waiting = ana.get_by_role("list", name="Conversations")
    expect(waiting.get_by_role("link", name=PHONE)).to_be_visible()
    screenshot(ana, shot, "1-waiting-for-staff")
    bo = signed_in(browser, client.base, "bo@example.com")
    bo.get_by_role("link", name=PHONE).click()
    expect(bo.get_by_text("Waiting for staff, nobody assigned")).to_be_visible()

    waiting.get_by_role("link", name=PHONE).click()
    messages = ana.get_by_role("list", name="Messages")
    asked = messages.get_by_role("listitem").filter(has_text="can I talk to a person")
    expect(asked).to_contain_text("intent: human")
    ana.get_by_role("button", name="Take over").click()
    expect(ana.get_by_text("Owned by Ana Lima (ana@example.com)")).to_be_visible()
    # Bo's open page learns of it without a reload.
    expect(bo.get_by_text("Owned by Ana Lima (ana@example.com)")).to_be_visible()
    screenshot(bo, shot, "2-another-agent-sees-the-assignment")

    ana.get_by_label("Reply", exact=True).fill(
        "Hi, this is Ana. The offers come weekly. Anything else?"
    )
    ana.get_by_role("button", name="Send").click()
    wait_until(
        lambda: (
            "Hi, this is Ana. The offers come weekly. Anything else?" in texts_to(emulator, PHONE)
        ),
        what="the staff reply at the emulator",
    )
    sent = messages.get_by_role("listitem").filter(has_text="this is Ana")
    expect(sent).to_contain_text("delivered", timeout=20_000)  # the callback, live
    screenshot(ana, shot, "3-reply-delivered")

    assert client.text("no, that's all, thanks!").status_code == 200
    expect(messages).to_contain_text("no, that's all, thanks!", timeout=5_000)
    assert len(texts_to(emulator, PHONE)) == 3  # the bot kept quiet

    ana.get_by_role("button", name="Hand back").click()
    expect(ana.get_by_text("The bot is answering")).to_be_visible()
    assert client.text("YES").status_code == 200
    wait_until(lambda: any(OFFER in t for t in texts_to(emulator, PHONE)), what="the offer")
    expect(messages).to_contain_text("You're in", timeout=10_000)
    screenshot(ana, shot, "4-handed-back-journey-goes-on")
    for name, path in (("5-staff", "/inbox/staff"), ("6-canned-replies", "/inbox/canned")):
        ana.goto(client.base + path)
        screenshot(ana, shot, name)
    ana.set_viewport_size({"width": 390, "height": 844})
    ana.goto(client.base + "/inbox/")
    screenshot(ana, shot, "7-list-on-a-phone")


def test_stop_during_a_takeover(parley, emulator, browser: Browser, request) -> None:
    client, processes = parley
    add_staff(processes, "ana@example.com", "Ana Lima", "agent")
    other = "+14155550199"
    assert client.text("I need a human", phone=other).status_code == 200
    ana = signed_in(browser, client.base, "ana@example.com")
    ana.get_by_role("link", name=other).click()
    ana.get_by_role("button", name="Take over").click()
    expect(ana.get_by_text("Owned by Ana Lima (ana@example.com)")).to_be_visible()
    assert client.text("STOP", phone=other).status_code == 200
    confirmation = wait_until(
        lambda: [t for t in texts_to(emulator, other) if "unsubscribed" in t.lower()],
        what="the STOP confirmation",
    )
    assert len(confirmation) == 1
    messages = ana.get_by_role("list", name="Messages")
    expect(messages).to_contain_text("STOP", timeout=5_000)
    expect(messages).to_contain_text(re.compile("Opted out"))
    ana.reload()
    expect(ana.get_by_label("Reply", exact=True)).to_be_disabled()
    expect(ana.get_by_role("status").filter(has_text="opted out")).to_be_visible()
    screenshot(ana, request.node.name, "opted-out-during-takeover")
