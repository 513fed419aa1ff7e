"""The analytics pages in a real browser: the figures shown are the API's, for any range.

The survey journey is run for real (tests/inbox/analytics_data.py); the dashboard and the
journey's page are then read the way a person reads them, by role and name, and every
number is compared with `GET /api/analytics/journeys/survey` for the same range.
Screenshots of both pages are saved for a person to look at.
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser import screenshot
from tests.inbox.analytics_data import api_figures, first_day, last_day, run_survey
from tests.inbox.conftest import PASSWORD, Served
from tests.survey import real_now, with_flows

READ_TABLE = """table => {
  const heads = [...table.querySelectorAll('thead th')].map(th => th.textContent.trim());
  return [...table.querySelectorAll('tbody tr')].map(tr =>
    Object.fromEntries([...tr.children].map((cell, i) => [heads[i], cell.innerText.trim()])));
}"""


@pytest.fixture
def settings(settings):
    return with_flows(settings)


@pytest.fixture
def now(clock) -> datetime:
    return real_now(clock)


def shown(text: str) -> Any:
    """Read a figure as the page shows it: 1,200 · 91.67% · 3,600 s · 4.00 · — (none)."""
    text = text.strip()
    if text == "—":
        return None
    if text.endswith("%"):
        return round(float(text[:-1].replace(",", "")) / 100, 4)
    if text.endswith(" s"):
        return float(text[:-2].replace(",", ""))
    number = text.replace(",", "")
    if re.fullmatch(r"-?\d+", number):
        return int(number)
    if re.fullmatch(r"-?\d+\.\d+", number):
        return float(number)
    return text


def table(page: Page, name: str) -> list[dict[str, Any]]:
    """Return a table's rows, found by its caption, each cell read as a figure."""
    found: Locator = page.get_by_role("table", name=name, exact=True)
    rows = found.evaluate(READ_TABLE)
    return [{head: shown(value) for head, value in row.items()} for row in rows]


def sign_in(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_label("Email").fill("ana@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def pick(page: Page, start: str, end: str) -> None:
    """Choose a range with the picker's date inputs, as a person would."""
    page.get_by_label("From", exact=True).fill(start)
    page.get_by_label("To", exact=True).fill(end)
    page.get_by_role("button", name="Show").click()


def check_journey_page(page: Page, api: dict[str, Any]) -> None:
    """Compare every figure the journey's page shows with the API's."""
    expect(page.get_by_role("heading", name="Survey", level=1)).to_be_visible()
    [overview] = table(page, "Runs and conversions")
    assert (overview["Entered"], overview["Completed"]) == (api["entered"], api["completed"])
    assert overview["Conversions"] == api["conversions"]
    assert overview["From business events"] == api["conversions_by"]["events"]
    assert overview["From goals reached"] == api["conversions_by"]["goals"]
    assert overview["Opt-outs"] == api["opt_outs"]
    for currency, amount in api["revenue"].items():
        assert overview[f"Revenue ({currency})"] == amount
    [messages] = table(page, "Messages")
    for key in ("sent", "delivered", "failed", "clicked", "suppressed"):
        assert messages[key.capitalize()] == api["messages"][key], key
    assert messages["Delivery rate"] == api["messages"]["delivery_rate"]
    assert messages["Click rate"] == api["messages"]["click_rate"]
    [replies] = table(page, "Replies, response time and ratings")
    assert replies["Response time p50"] == api["response_time_s"]["p50"]
    assert replies["Response time p90"] == api["response_time_s"]["p90"]
    assert replies["Ratings"] == api["ratings"]["count"]
    assert replies["Mean rating"] == api["ratings"]["mean"]
    assert replies["CSAT"] == api["ratings"]["csat"]
    assert (replies["Replies"], replies["Unclear replies"]) == (
        api["replies"]["count"],
        api["replies"]["unclear"],
    )
    steps = table(page, "Steps")
    assert [s["Step"] for s in steps] == [s["step"] for s in api["steps"]]
    for row, step in zip(steps, api["steps"], strict=True):
        assert (row["Reached"], row["Dropped off"]) == (step["reached"], step["dropped_off"])
        assert (row["Sent"], row["Delivered"]) == (step["sent"], step["delivered"])
        assert (row["Unclear replies"], row["Opt-outs"]) == (step["unclear"], step["opt_outs"])
    paths = table(page, "Paths between steps")
    assert [(p["From"], p["To"], p["Runs"]) for p in paths] == [
        (p["from"], p["to"], p["runs"]) for p in api["paths"]
    ]
    funnel = page.get_by_role("img", name=re.compile(r"^Funnel:"))
    expect(funnel).to_have_attribute("aria-label", re.compile(f"{api['entered']:,} runs entered"))
    for step in api["steps"]:
        words = f"{step['step']}: {step['reached']:,} reached, {step['dropped_off']:,} dropped off"
        assert words in (funnel.get_attribute("aria-label") or "")
    series = page.get_by_role("img", name=re.compile(r"^Per day"))
    expect(series).to_have_attribute(
        "aria-label", re.compile(f"Sent {api['messages']['sent']:,} in all")
    )


def test_the_pages_show_the_apis_figures_for_the_range_picked(
    page: Page, served: Served, accounts, client, runtime, emulator, now
) -> None:
    run_survey(client, runtime, emulator, now)
    start, end = first_day(now), last_day(now)
    api = api_figures(client)  # the default range, as the pages' default
    today = date.fromisoformat(api["to"])  # where the clock stands: the survey's last timer
    assert start < api["to"] <= end and api["entered"] > 0

    sign_in(page, served.url + "/inbox/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", name="Analytics", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Last 30 days")).to_have_attribute("aria-current", "page")
    expect(page.get_by_label("To", exact=True)).to_have_value(today.isoformat())
    rows = {row["Journey"].split()[0]: row for row in table(page, "Journeys")}
    assert set(rows) >= {"Survey", "Welcome"}
    survey = rows["Survey"]
    assert (survey["Entered"], survey["Completed"]) == (api["entered"], api["completed"])
    assert (survey["Conversions"], survey["Sent"]) == (api["conversions"], api["messages"]["sent"])
    assert survey["Delivery rate"] == api["messages"]["delivery_rate"]
    assert survey["Click rate"] == api["messages"]["click_rate"]
    assert survey["Opt-outs"] == api["opt_outs"]
    assert (survey["Revenue (EUR)"], survey["Revenue (USD)"]) == (
        api["revenue"]["EUR"],
        api["revenue"]["USD"],
    )
    spark = page.get_by_role("img", name=re.compile("Messages sent by survey per day"))
    expect(spark).to_have_attribute(
        "aria-label", re.compile(f": {api['messages']['sent']:,} in all")
    )
    screenshot(page, "analytics", "dashboard")

    page.get_by_role("link", name="Survey").click()
    check_journey_page(page, api)
    verdict = page.locator("p[data-split=happy]")
    # The arms are drawn at random: their goal rates differ (a number of runs still needed)
    # or, now and then, come out the same; neither is a win.
    split = api["split_tests"]["happy"]
    assert split["significant"] is False
    said = (
        r"No winner yet: about [\d,]+ runs per arm"
        if split["needed_per_arm"] is not None
        else r"No winner: the arms' goal rates are the same so far"
    )
    expect(verdict).to_contain_text(re.compile(said))
    arms = table(page, "Split arms")
    assert {a["Arm"]: (a["Entered"], a["Goals"]) for a in arms} == {
        arm: (f["entered"], f["goals"]) for arm, f in api["splits"]["happy"].items()
    }
    [test] = table(page, "Split tests")
    assert test["p-value"] == round(api["split_tests"]["happy"]["p_value"], 4)
    assert test["Runs needed per arm"] == api["split_tests"]["happy"]["needed_per_arm"]
    diagram = page.get_by_role("img", name=re.compile("journey's steps and arrows"))
    expect(diagram).to_be_visible()
    assert diagram.evaluate("img => img.naturalWidth") > 300  # the drawing loaded
    drawing = page.request.get(diagram.evaluate("img => img.src")).text()
    for step in api["steps"]:
        assert f"{step['reached']} reached · {step['dropped_off']} dropped off" in drawing
    screenshot(page, "analytics", "journey")

    # The CSV a person downloads holds what the page shows.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download steps as CSV").click()
    assert re.fullmatch(r"survey-steps-[\d-]+-to-[\d-]+\.csv", download.value.suggested_filename)
    with Path(download.value.path()).open(newline="") as file:
        exported = list(csv.DictReader(file))
    assert [(r["Step"], int(r["Reached"]), int(r["Dropped off"])) for r in exported] == [
        (s["step"], s["reached"], s["dropped_off"]) for s in api["steps"]
    ]

    # The first day alone: the runs whose waits timed out days later have not dropped off.
    pick(page, start, start)
    one_day = api_figures(client, **{"from": start, "to": start})
    dropped = [sum(s["dropped_off"] for s in f["steps"]) for f in (one_day, api)]
    assert dropped[0] < dropped[1]
    check_journey_page(page, one_day)
    expect(page.get_by_text(f"From {start} to {start}")).to_be_visible()

    # Before the survey: nothing at all.
    before = (date.fromisoformat(start) - timedelta(days=10)).isoformat()
    pick(page, before, before)
    [overview] = table(page, "Runs and conversions")
    assert (overview["Entered"], overview["Conversions"]) == (0, 0)

    # A preset goes back to the last 7 days, which hold the whole survey.
    page.get_by_role("link", name="Last 7 days").click()
    check_journey_page(
        page, api_figures(client, **{"from": (today - timedelta(days=6)).isoformat()})
    )

    # A range that runs backwards is explained, not an error page.
    pick(page, end, start)
    expect(page.get_by_role("alert")).to_contain_text(f"from ({end}) is after to ({start})")
    if start != end:
        expect(page.get_by_label("From", exact=True)).to_have_value(end)


def test_a_signed_out_visitor_signs_in_and_comes_back(page: Page, served: Served, accounts) -> None:
    page.goto(served.url + "/inbox/analytics/journeys/survey")
    expect(page).to_have_url(re.compile(r"/inbox/sign-in\?next=.*analytics"))
    page.get_by_label("Email").fill("bo@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(served.url + "/inbox/analytics/journeys/survey")
    expect(page.get_by_role("heading", name="Survey", level=1)).to_be_visible()
    page.goto(served.url + "/inbox/analytics/journeys/nope")
    expect(page.get_by_role("heading", name="No such journey")).to_be_visible()
