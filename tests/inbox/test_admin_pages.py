"""The admin pages in a real browser: a canned reply saved, then picked under a thread."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.inbox.conftest import Served
from tests.inbox.test_conversations import maria, record, sign_in  # noqa: F401 (a fixture)
from tests.texting import Texter


def test_an_admin_saves_a_canned_reply_and_picks_it_under_a_thread(
    page: Page,
    served: Served,
    accounts,
    maria: Texter,  # noqa: F811 (the fixture)
) -> None:
    maria.text("I want to talk to a person please")
    record(served.runtime)
    sign_in(page, served.url)
    page.get_by_role("banner").get_by_role("link", name="Canned replies").click()
    expect(page.get_by_role("heading", name="Canned replies", level=1)).to_be_visible()
    page.get_by_label("Title").fill("Opening hours")
    page.get_by_label("Reply text").fill("We're open 9-5, Monday to Friday.")
    page.get_by_role("button", name="Add canned reply").click()
    expect(page.get_by_role("status")).to_have_text("Added the canned reply “Opening hours”.")
    expect(page.get_by_role("table", name="Canned replies")).to_contain_text(
        "We're open 9-5, Monday to Friday."
    )

    page.goto(served.url + "/inbox/c/%2B14155550123")
    page.get_by_label("Canned reply").select_option(label="Opening hours")
    reply = page.get_by_label("Reply", exact=True)
    expect(reply).to_have_value("We're open 9-5, Monday to Friday.")
    expect(reply).to_be_focused()
    expect(page.locator("#reply-count")).to_have_text("33 characters, 1 SMS segment (GSM-7)")


def test_an_agent_is_told_that_only_admins_manage_staff(
    page: Page, served: Served, accounts
) -> None:
    sign_in(page, served.url, "bo@example.com")
    banner = page.get_by_role("banner")
    expect(banner.get_by_role("link", name="Canned replies")).to_be_visible()
    expect(banner.get_by_role("link", name="Staff", exact=True)).to_have_count(0)
    answer = page.goto(served.url + "/inbox/staff")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("heading", name="Admins only")).to_be_visible()
    expect(page.get_by_text("Only admins can do this.")).to_be_visible()


def test_an_admin_adds_an_account_by_its_labels_on_a_phone(
    page: Page, served: Served, accounts
) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    sign_in(page, served.url)
    page.get_by_role("banner").get_by_role("link", name="Staff", exact=True).click()
    page.get_by_label("Email").fill("cy@example.com")
    page.get_by_label("Name").fill("Cy Diaz")
    page.get_by_label("Role").select_option("admin")
    page.get_by_label("Password").fill("too short")
    page.get_by_role("button", name="Add account").click()
    expect(page.get_by_role("alert")).to_have_text("The password must be at least 10 characters.")
    expect(page.get_by_label("Email")).to_have_value("cy@example.com")
    expect(page.get_by_label("Role")).to_have_value("admin")
    expect(page.get_by_label("Password")).to_have_value("")
    page.get_by_label("Password").fill("a long enough one")
    page.get_by_role("button", name="Add account").click()
    expect(page.get_by_role("status")).to_have_text("Added cy@example.com (admin).")
    staff = page.get_by_role("table", name="Staff accounts")
    expect(staff.get_by_role("row").filter(has_text="cy@example.com")).to_contain_text("Cy Diaz")
    wide = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    assert page.evaluate(wide)
    page.get_by_role("button", name="Remove cy@example.com").click()
    expect(page.get_by_role("status")).to_contain_text("Removed cy@example.com")
    expect(staff).not_to_contain_text("cy@example.com")
