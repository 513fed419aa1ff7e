"""The analytics pages over plain HTTP: CSV exports, bad ranges, unknown journeys, sign-in."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import datetime

import pytest

from bot.runtime import Runtime
from parley.app import create_app
from tests.inbox.analytics_data import api_figures, first_day, last_day, run_survey
from tests.inbox.conftest import sign_in
from tests.survey import Survey, a_clear_winner, real_now, with_flows


@pytest.fixture
def settings(settings):
    return with_flows(settings)


@pytest.fixture
def now(clock) -> datetime:
    return real_now(clock)


@pytest.fixture
def staff(client, accounts):
    """The test client, signed in as Ana."""
    assert sign_in(client).status_code == 302
    return client


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csv_exports_carry_the_apis_figures(staff, runtime, emulator, now) -> None:
    run_survey(staff, runtime, emulator, now)
    span = {"from": first_day(now), "to": last_day(now)}
    api = api_figures(staff, **span)

    answer = staff.get(
        "/inbox/analytics/journeys/survey", query_string={**span, "format": "csv", "table": "steps"}
    )
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="survey-steps-{span["from"]}-to-{span["to"]}.csv"'
    )
    steps = rows(answer.get_data(as_text=True))
    assert [r["Step"] for r in steps] == [s["step"] for s in api["steps"]]
    for row, step in zip(steps, api["steps"], strict=True):
        assert int(row["Reached"]) == step["reached"]
        assert int(row["Dropped off"]) == step["dropped_off"]
        assert int(row["Sent"]) == step["sent"]
        assert int(row["Unclear replies"]) == step["unclear"]
        assert int(row["Opt-outs"]) == step["opt_outs"]

    def one(table: str) -> dict[str, str]:
        query = {**span, "format": "csv", "table": table}
        found = rows(
            staff.get("/inbox/analytics/journeys/survey", query_string=query).get_data(as_text=True)
        )
        assert len(found) == 1
        return found[0]

    messages = one("messages")
    assert int(messages["Sent"]) == api["messages"]["sent"] > 0
    assert int(messages["Failed"]) == api["messages"]["failed"] > 0
    assert float(messages["Delivery rate"]) == api["messages"]["delivery_rate"]
    overview = one("overview")
    assert int(overview["Conversions"]) == api["conversions"] > 0
    assert float(overview["Revenue (EUR)"]) == api["revenue"]["EUR"] > 0
    assert float(overview["Revenue (USD)"]) == api["revenue"]["USD"] > 0
    replies = one("replies")
    assert float(replies["Response time p50"]) == api["response_time_s"]["p50"]
    assert float(replies["CSAT"]) == api["ratings"]["csat"]
    assert int(replies["Ratings"]) == api["ratings"]["count"]

    query = {**span, "format": "csv", "table": "splits"}
    arms = rows(
        staff.get("/inbox/analytics/journeys/survey", query_string=query).get_data(as_text=True)
    )
    assert {r["Arm"]: int(r["Entered"]) for r in arms} == {
        arm: f["entered"] for arm, f in api["splits"]["happy"].items()
    }

    dashboard = staff.get(
        "/inbox/analytics/", query_string={**span, "format": "csv", "table": "journeys"}
    )
    assert dashboard.headers["Content-Disposition"] == (
        f'attachment; filename="journeys-journeys-{span["from"]}-to-{span["to"]}.csv"'
    )
    survey = next(r for r in rows(dashboard.get_data(as_text=True)) if r["Journey"] == "survey")
    assert int(survey["Entered"]) == api["entered"]
    assert int(survey["Sent"]) == api["messages"]["sent"]
    assert float(survey["Revenue (USD)"]) == api["revenue"]["USD"]


def test_every_table_on_a_page_has_its_csv(staff, runtime) -> None:
    page = staff.get("/inbox/analytics/journeys/survey").get_data(as_text=True)
    links = re.findall(r'href="([^"]*format=csv[^"]*)"', page)
    tables = re.findall(r'data-table="([a-z_]+)"', page)
    assert len(tables) >= 9 and len(links) == len(tables)
    for link in links:
        answer = staff.get(link.replace("&amp;", "&"))
        assert answer.status_code == 200 and answer.mimetype == "text/csv", link


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"from": "yesterday"}, "from must be a date"),
        ({"to": "2026-13-01"}, "to must be a date"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "is after to"),
        ({"from": "2000-01-01"}, "at most"),
    ],
)
@pytest.mark.parametrize("path", ["/inbox/analytics/", "/inbox/analytics/journeys/survey"])
def test_a_bad_range_is_told_why_not_a_500(staff, path: str, query, says: str) -> None:
    answer = staff.get(path, query_string=query)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert 'role="alert"' in page and says in page
    assert 'name="from"' in page  # the picker is there to put it right
    as_csv = staff.get(path, query_string={**query, "format": "csv", "table": "steps"})
    assert as_csv.status_code == 400 and says in as_csv.get_data(as_text=True)


def test_an_unknown_journey_or_table_is_a_404(staff) -> None:
    answer = staff.get("/inbox/analytics/journeys/nope")
    assert answer.status_code == 404
    assert "No such journey" in answer.get_data(as_text=True)
    assert staff.get("/inbox/analytics/journeys/nope/diagram.svg").status_code == 404
    csv_answer = staff.get("/inbox/analytics/journeys/survey?format=csv&table=nope")
    assert csv_answer.status_code == 404
    assert "the tables are: overview, messages, steps" in csv_answer.get_data(as_text=True)


def test_the_default_range_is_the_last_30_days_in_the_business_time_zone(staff) -> None:
    page = staff.get("/inbox/analytics/").get_data(as_text=True)
    assert "from 2026-11-01 to 2026-11-30" in page  # the clock: 2026-11-30 12:00 in New York
    assert 'aria-current="page">Last 30 days' in page


def test_the_diagram_carries_each_steps_counts(staff, runtime, emulator, now) -> None:
    run_survey(staff, runtime, emulator, now)
    span = {"from": first_day(now), "to": last_day(now)}
    api = api_figures(staff, **span)
    answer = staff.get("/inbox/analytics/journeys/survey/diagram.svg", query_string=span)
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
    drawing = answer.get_data(as_text=True)
    assert f"{api['entered']} entered" in drawing
    for step in api["steps"]:
        assert f"{step['reached']} reached · {step['dropped_off']} dropped off" in drawing
    for path in api["paths"]:
        assert f"{path['runs']} runs" in drawing


@pytest.mark.parametrize(
    "path",
    [
        "/inbox/analytics/",
        "/inbox/analytics/journeys/survey",
        "/inbox/analytics/journeys/survey?format=csv&table=steps",
        "/inbox/analytics/journeys/survey/diagram.svg",
    ],
)
def test_signed_out_visitors_are_sent_to_sign_in(client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 302
    assert "/inbox/sign-in?next=" in answer.headers["Location"]


def test_a_journey_no_longer_loaded_keeps_its_figures_without_a_diagram(
    staff, settings, redis_url, clock, runtime, emulator, now
) -> None:
    run_survey(staff, runtime, emulator, now)
    span = {"from": first_day(now), "to": last_day(now)}
    api = api_figures(staff, **span)
    # The same deployment after the survey's file was taken away.
    without = Runtime(replace(settings, flows_dir=None), redis_url, clock=clock)
    try:
        assert "survey" not in without.journeys
        later = create_app(without).test_client()
        assert sign_in(later).status_code == 302
        dashboard = later.get("/inbox/analytics/", query_string=span).get_data(as_text=True)
        assert 'data-journey="survey"' in dashboard
        page = later.get("/inbox/analytics/journeys/survey", query_string=span)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "no longer loaded, so it has no diagram" in html
        query = {**span, "format": "csv", "table": "steps"}
        steps = rows(
            later.get("/inbox/analytics/journeys/survey", query_string=query).get_data(as_text=True)
        )
        assert {r["Step"]: int(r["Reached"]) for r in steps} == {
            s["step"]: s["reached"] for s in api["steps"]
        }
        assert later.get("/inbox/analytics/journeys/survey/diagram.svg").status_code == 404
    finally:
        without.record.dispose()


def test_a_clear_winner_is_named_on_the_page_and_in_its_csv(staff, runtime, emulator, now) -> None:
    a_clear_winner(Survey(staff, runtime, emulator, now), 40)

    span = {"from": first_day(now), "to": last_day(now)}
    api = api_figures(staff, **span)
    assert api["split_tests"]["happy"]["winner"] == "offer_a"
    page = staff.get("/inbox/analytics/journeys/survey", query_string=span).get_data(as_text=True)
    said = re.search(r'<p class="verdict" data-split="happy">(.*?)</p>', page, re.S)
    assert said and "offer_a wins (100.00% reached a goal): the difference is significant" in (
        said.group(1)
    )
    query = {**span, "format": "csv", "table": "split_tests"}
    [test] = rows(
        staff.get("/inbox/analytics/journeys/survey", query_string=query).get_data(as_text=True)
    )
    assert (test["Winner"], test["Significant"]) == ("offer_a", "yes")
    assert float(test["p-value"]) == api["split_tests"]["happy"]["p_value"]
