"""The conversations page: staff response times, hand-offs, opt-outs and unclear replies."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from urllib.parse import quote

from tests.inbox.analytics_data import first_day, run_survey
from tests.inbox.test_analytics_http import now, settings, staff  # noqa: F401 (fixtures)
from tests.survey import AUTH, Survey, record

PAGE = "/inbox/analytics/conversations"


def test_the_page_and_its_csv_carry_the_apis_figures(staff, runtime, emulator, now) -> None:  # noqa: F811
    run_survey(staff, runtime, emulator, now)
    survey = Survey(staff, runtime, emulator, runtime.clock())  # on from where it left off
    waits = [20 * 60, 3 * 3600, 30 * 3600]
    people = survey.phones[70:73]
    for phone in people:
        assert phone.text("can I talk to a person please").status_code == 200
    for phone, waited in zip(people, waits, strict=True):
        survey.at(waited)
        url = f"/api/contacts/{quote(phone.phone)}/messages"
        body = {"body": "Hi, this is Ana.", "author": "ana@example.com"}
        assert staff.post(url, json=body, headers=AUTH).status_code == 201
    survey.send()
    record(runtime)
    span = {"from": first_day(now), "to": (runtime.clock() + timedelta(days=2)).date().isoformat()}
    api = staff.get("/api/analytics/conversations", query_string=span, headers=AUTH).get_json()
    assert api["staff_response_s"]["count"] == 3
    assert api["opt_outs"]["count"] > 0

    page = staff.get(PAGE, query_string=span)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Staff response time" in html and "Unclear replies by step" in html

    def table(key: str) -> list[dict[str, str]]:
        answer = staff.get(PAGE, query_string={**span, "format": "csv", "table": key})
        assert answer.status_code == 200 and answer.mimetype == "text/csv"
        return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))

    (response,) = table("staff_response")
    assert int(response["Answers"]) == 3
    assert [int(response[f"Within {b}"]) for b in ("0-1h", "1-4h", "4-8h", "8-24h")] == [
        1, 1, 0, 0
    ]  # fmt: skip
    assert int(response["After 24h"]) == 1
    by_journey = {row["Journey"]: row for row in table("opt_outs_by_journey")}
    survey_row = next(r for r in api["opt_outs"]["by_journey"] if r["journey"] == "survey")
    assert int(by_journey["survey"]["Opt-outs"]) == survey_row["opt_outs"] > 0
    assert int(by_journey["survey"]["Delivered"]) == survey_row["delivered"]
    unclear = table("unclear_replies")
    assert (unclear[0]["Journey"], unclear[0]["Step"]) == ("survey", "ask")
    assert int(unclear[0]["Unclear"]) == api["unclear_replies"][0]["unclear"] > 0
    reasons = {row["Reason"]: int(row["Hand-offs"]) for row in table("handoffs")}
    assert sum(reasons.values()) == api["handoffs"]["count"] >= 3
    # The page shows the same counts the CSV has.
    cells = re.findall(r"<td class=\"kind-count\">([\d,]+)</td>", html)
    assert "3" in cells


def test_a_bad_range_is_told_and_signed_out_visitors_sign_in(staff, app) -> None:  # noqa: F811
    answer = staff.get(PAGE, query_string={"from": "2026-12-05", "to": "2026-12-01"})
    assert answer.status_code == 400
    assert "is after to" in answer.get_data(as_text=True)
    csv_answer = staff.get(PAGE, query_string={"from": "nope", "format": "csv"})
    assert csv_answer.status_code == 400
    signed_out = app.test_client().get(PAGE)
    assert signed_out.status_code == 302 and "/inbox/sign-in" in signed_out.location
