"""The analytics pages' parts alone: split verdicts in words, figures as shown, charts' text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bot.analytics.splits import split_test
from inbox import charts
from inbox.tables import COUNT, MONEY, RATE, SECONDS, cell, steps, verdict

SVG = "{http://www.w3.org/2000/svg}"


def arms(**entered_goals: tuple[int, int]) -> tuple[dict, dict]:
    """Return a split's test and its arms' figures, as the report gives them."""
    test = split_test(entered_goals)
    figures = {
        arm: {"entered": n, "goals": g, "goal_rate": round(g / n, 4) if n else None}
        for arm, (n, g) in entered_goals.items()
    }
    return test, figures


def test_a_clear_winner_is_named_with_its_goal_rate() -> None:
    test, figures = arms(a=(500, 150), b=(500, 50))
    said = verdict(test, figures)
    assert said.startswith("a wins (30.00% reached a goal): the difference is significant at 5%")
    assert "chi-square test" in said


def test_no_winner_yet_says_how_many_runs_each_arm_needs() -> None:
    test, figures = arms(a=(40, 10), b=(40, 8))
    assert not test["significant"]
    needed = f"{test['needed_per_arm']:,}"
    assert verdict(test, figures).startswith(
        f"No winner yet: about {needed} runs per arm are needed"
    )


def test_equal_rates_and_too_few_arms_are_said_in_words() -> None:
    assert verdict(*arms(a=(10, 2), b=(10, 2))).startswith(
        "No winner: the arms' goal rates are the same"
    )
    assert verdict(*arms(a=(10, 2), b=(0, 0))).startswith("Not enough runs yet")


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (1200, COUNT, "1,200"),
        (0.9167, RATE, "91.67%"),
        (0.0, RATE, "0.00%"),
        (None, RATE, "—"),
        (3600.0, SECONDS, "3,600 s"),
        (120.5, MONEY, "120.50"),
    ],
)
def test_figures_are_shown_as_people_read_them(value, kind: str, shown: str) -> None:
    assert cell(value, kind) == shown


def test_a_step_nobody_reached_has_no_drop_off_rate() -> None:
    figures = {"steps": [{"step": "ask", "reached": 0, "dropped_off": 0, "sent": 0, "delivered": 0,
                          "clicked": 0, "replies": 0, "unclear": 0, "unclear_rate": None,
                          "opt_outs": 0}]}  # fmt: skip
    assert steps(figures).rows[0][3] is None
    assert steps(figures).csv().splitlines()[1] == "ask,0,0,,0,0,0,0,0,,0"


DAYS = [
    {"day": "2026-11-28", "sent": 3, "delivered": 2, "clicked": 1, "conversions": 0},
    {"day": "2026-11-29", "sent": 10, "delivered": 9, "clicked": 4, "conversions": 2},
    {"day": "2026-11-30", "sent": 5, "delivered": 5, "clicked": 0, "conversions": 1},
]


def test_each_chart_states_its_numbers_in_words() -> None:
    spark = ET.fromstring(str(charts.sparkline(DAYS, "sent", "Messages sent")))
    label = spark.get("aria-label")
    assert label == (
        "Messages sent per day, 2026-11-28 to 2026-11-30: 18 in all, at most 10 "
        "(on 2026-11-29), 5 on the last day"
    )
    assert spark.get("role") == "img" and spark.findtext(f"{SVG}title") == label
    quiet = ET.fromstring(str(charts.sparkline([{**d, "sent": 0} for d in DAYS], "sent", "Sent")))
    assert quiet.get("aria-label") == "Sent per day, 2026-11-28 to 2026-11-30: none"

    series = ET.fromstring(str(charts.time_series(DAYS)))
    assert "Sent 18 in all, Delivered 16 in all, Clicked 5 in all, Conversions 3 in all" in (
        series.get("aria-label") or ""
    )
    names = [t.text or "" for t in series.iter(f"{SVG}text") if t.get("class") == "chart-name"]
    assert sorted(names) == ["Clicked 0", "Conversions 1", "Delivered 5", "Sent 5"]
    dashes = {line.get("stroke-dasharray") for line in series.iter(f"{SVG}polyline")}
    assert len(dashes) == 4  # told apart without colour

    reached = [
        {"step": "ask", "reached": 10, "dropped_off": 4},
        {"step": "never", "reached": 0, "dropped_off": 0},
    ]
    funnel = ET.fromstring(str(charts.funnel(10, reached)))
    assert funnel.get("aria-label") == (
        "Funnel: 10 runs entered; ask: 10 reached, 4 dropped off (40%); "
        "never: 0 reached, 0 dropped off. Hatched: runs that dropped off at the step."
    )
