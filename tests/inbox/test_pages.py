"""The inbox in a real browser: signing in and out by the names a screen reader hears."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.inbox.conftest import PASSWORD

# The WCAG contrast ratio of an element's text on the first background behind it.
CONTRAST = """element => {
  const rgb = text => text.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const channel = c => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  let behind = element, background;
  while (behind) {
    background = rgb(getComputedStyle(behind).backgroundColor);
    if (background.length < 4 || background[3] > 0) break;
    behind = behind.parentElement;
  }
  if (!behind) background = [255, 255, 255];
  const [a, b] = [luminance(rgb(getComputedStyle(element).color)), luminance(background)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def fill_sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_staff_sign_in_see_conversations_and_sign_out(page: Page, inbox_url, accounts) -> None:
    page.goto(inbox_url + "/inbox/")
    expect(page).to_have_url(re.compile(r"/inbox/sign-in\?next="))
    fill_sign_in(page, "ana@example.com", PASSWORD)
    expect(page.get_by_role("heading", name="Conversations", level=1)).to_be_visible()
    expect(page).to_have_url(inbox_url + "/inbox/")
    expect(page.get_by_role("banner")).to_contain_text("Ana Lima")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    page.goto(inbox_url + "/inbox/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_a_wrong_password_is_announced_and_keeps_the_email(page: Page, inbox_url, accounts) -> None:
    page.goto(inbox_url + "/inbox/sign-in")
    fill_sign_in(page, "ana@example.com", "not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password")
    expect(page.get_by_label("Email")).to_have_value("ana@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()


def test_the_page_asked_for_is_shown_after_signing_in(page: Page, inbox_url, accounts) -> None:
    page.goto(inbox_url + "/inbox/?status=open")
    fill_sign_in(page, "bo@example.com", PASSWORD)
    expect(page).to_have_url(inbox_url + "/inbox/?status=open")
    expect(page.get_by_role("banner")).to_contain_text("Bo Chen")


def test_the_keyboard_reaches_everything_in_order_and_shows_where_it_is(
    page: Page, inbox_url, accounts
) -> None:
    page.goto(inbox_url + "/inbox/sign-in")
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                "(e => e.labels?.[0]?.textContent || e.textContent.trim())(document.activeElement)"
            )
        )
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", order[-1]
    assert order == ["Skip to content", "Parley inbox", "Email", "Password", "Sign in"]


def test_the_skip_link_moves_focus_to_the_content(page: Page, inbox_url, accounts) -> None:
    page.goto(inbox_url + "/inbox/sign-in")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


@pytest.mark.parametrize(
    "viewport",
    [{"width": 1280, "height": 800}, {"width": 360, "height": 740}],
    ids=["laptop", "phone"],
)
def test_the_pages_fit_the_screen_and_their_text_is_legible(
    page: Page, inbox_url, accounts, viewport
) -> None:
    page.set_viewport_size(viewport)
    page.goto(inbox_url + "/inbox/sign-in")
    fill_sign_in(page, "ana@example.com", "not the password")
    checked = [
        page.get_by_role("heading", name="Sign in"),
        page.get_by_text("Email", exact=True),
        page.get_by_role("button", name="Sign in"),
        page.get_by_role("alert"),
        page.get_by_role("link", name="Parley inbox"),
    ]
    page.get_by_label("Password").fill(PASSWORD)
    wide = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    assert page.evaluate(wide)
    for element in checked:
        assert element.evaluate(CONTRAST) >= 4.5, element
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
    assert page.evaluate(wide)
    for element in (
        page.get_by_role("button", name="Sign out"),
        page.get_by_role("banner").get_by_text("Ana Lima"),
    ):
        expect(element).to_be_in_viewport()
        assert element.evaluate(CONTRAST) >= 4.5, element
