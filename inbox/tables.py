"""The analytics pages' tables: one definition each, shown as HTML and exported as CSV.

A table holds the figures themselves (counts, rates as fractions, seconds, money);
the page formats them for people (`cell`), the CSV writes them as they are, so both
always carry the same figures as `GET /api/analytics/journeys/<id>`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inbox.charts import number

COUNT, RATE, SECONDS, MONEY, MEAN, TEXT, P_VALUE, YES_NO = (
    "count", "rate", "seconds", "money", "mean", "text", "p_value", "yes_no"
)  # fmt: skip


@dataclass(frozen=True)
class Column:
    """A column: its heading, and what kind of figure its cells hold."""

    name: str
    kind: str = COUNT


@dataclass
class Table:
    """A table of figures: `key` names it in `?format=csv&table=<key>`."""

    key: str
    caption: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)

    def csv(self) -> str:
        """Return the table as CSV: a heading row, then the figures unformatted."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([column.name for column in self.columns])
        for row in self.rows:
            writer.writerow(["" if value is None else _plain(value) for value in row])
        return out.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def cell(value: Any, kind: str) -> str:
    """Show one figure as the page shows it: 1,200 · 91.67% · 3,600 s · 120.50 · none."""
    if value is None:
        return "—"
    if kind == RATE:
        return f"{value * 100:.2f}%"
    if kind == SECONDS:
        return f"{number(value)} s"
    if kind == MONEY:
        return f"{value:,.2f}"
    if kind == MEAN:
        return f"{value:.2f}"
    if kind == P_VALUE:
        return f"{value:.4f}"
    if kind == YES_NO:
        return "yes" if value else "no"
    if kind == COUNT:
        return number(value)
    return str(value)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def currencies(*reports: Mapping[str, Any]) -> list[str]:
    """Return every currency the reports earned revenue in, sorted."""
    return sorted({currency for report in reports for currency in report.get("revenue", {})})


def journeys_table(rows: Sequence[tuple[str, str, Mapping[str, Any]]]) -> Table:
    """The dashboard's table: one row per journey, given as (id, name, figures)."""
    money = currencies(*(figures for _, _, figures in rows))
    table = Table(
        "journeys",
        "Journeys",
        [
            Column("Journey", TEXT),
            Column("Name", TEXT),
            Column("Entered"),
            Column("Completed"),
            Column("Conversions"),
            Column("Sent"),
            Column("Delivery rate", RATE),
            Column("Click rate", RATE),
            Column("Opt-outs"),
            *(Column(f"Revenue ({currency})", MONEY) for currency in money),
        ],
    )
    for journey, name, figures in rows:
        messages = figures["messages"]
        table.rows.append(
            [
                journey,
                name,
                figures["entered"],
                figures["completed"],
                figures["conversions"],
                messages["sent"],
                messages["delivery_rate"],
                messages["click_rate"],
                figures["opt_outs"],
                *(figures["revenue"].get(currency, 0.0) for currency in money),
            ]
        )
    return table


def journey_tables(figures: Mapping[str, Any], days: Sequence[Mapping[str, Any]]) -> list[Table]:
    """Every table of a journey's page, in the order the page shows them."""
    return [
        overview(figures),
        messages(figures),
        steps(figures),
        paths(figures),
        goals(figures),
        replies(figures),
        splits(figures),
        split_tests(figures),
        daily(days),
    ]


def overview(figures: Mapping[str, Any]) -> Table:
    """Runs, conversions, opt-outs and revenue over the range: one row."""
    money = currencies(figures)
    by = figures["conversions_by"]
    return Table(
        "overview",
        "Runs and conversions",
        [
            Column("Entered"),
            Column("Completed"),
            Column("Conversions"),
            Column("From business events"),
            Column("From goals reached"),
            Column("Opt-outs"),
            *(Column(f"Revenue ({currency})", MONEY) for currency in money),
        ],
        [
            [
                figures["entered"],
                figures["completed"],
                figures["conversions"],
                by["events"],
                by["goals"],
                figures["opt_outs"],
                *(figures["revenue"][currency] for currency in money),
            ]
        ],
    )


def messages(figures: Mapping[str, Any]) -> Table:
    """The journey's messages over the range: one row."""
    m = figures["messages"]
    return Table(
        "messages",
        "Messages",
        [
            Column("Sent"),
            Column("Delivered"),
            Column("Failed"),
            Column("Clicked"),
            Column("Suppressed"),
            Column("Delivery rate", RATE),
            Column("Click rate", RATE),
        ],
        [
            [
                m["sent"],
                m["delivered"],
                m["failed"],
                m["clicked"],
                m["suppressed"],
                m["delivery_rate"],
                m["click_rate"],
            ]
        ],
    )


def steps(figures: Mapping[str, Any]) -> Table:
    """Each step: runs that reached it and dropped off there, its messages and replies."""
    table = Table(
        "steps",
        "Steps",
        [
            Column("Step", TEXT),
            Column("Reached"),
            Column("Dropped off"),
            Column("Drop-off rate", RATE),
            Column("Sent"),
            Column("Delivered"),
            Column("Clicked"),
            Column("Replies"),
            Column("Unclear replies"),
            Column("Unclear rate", RATE),
            Column("Opt-outs"),
        ],
    )
    for s in figures["steps"]:
        table.rows.append(
            [
                s["step"],
                s["reached"],
                s["dropped_off"],
                _rate(s["dropped_off"], s["reached"]),
                s["sent"],
                s["delivered"],
                s["clicked"],
                s["replies"],
                s["unclear"],
                s["unclear_rate"],
                s["opt_outs"],
            ]
        )
    return table


def paths(figures: Mapping[str, Any]) -> Table:
    """Each edge runs moved along, with its share of the runs that reached where it starts."""
    reached = {s["step"]: s["reached"] for s in figures["steps"]}
    table = Table(
        "paths",
        "Paths between steps",
        [Column("From", TEXT), Column("To", TEXT), Column("Runs"), Column("Share of from", RATE)],
    )
    for p in figures["paths"]:
        table.rows.append(
            [p["from"], p["to"], p["runs"], _rate(p["runs"], reached.get(p["from"], 0))]
        )
    return table


def goals(figures: Mapping[str, Any]) -> Table:
    """Each goal and the runs that reached it."""
    return Table(
        "goals",
        "Goals",
        [Column("Goal", TEXT), Column("Runs")],
        [[name, runs] for name, runs in figures["goals"].items()],
    )


def replies(figures: Mapping[str, Any]) -> Table:
    """Replies to the journey's questions: how many, how fast, unclear ones, ratings."""
    r, t, g = figures["replies"], figures["response_time_s"], figures["ratings"]
    return Table(
        "replies",
        "Replies, response time and ratings",
        [
            Column("Replies"),
            Column("Unclear replies"),
            Column("Unclear rate", RATE),
            Column("Response time p50", SECONDS),
            Column("Response time p90", SECONDS),
            Column("Responses timed"),
            Column("Ratings"),
            Column("Mean rating", MEAN),
            Column("CSAT", RATE),
        ],
        [
            [
                r["count"],
                r["unclear"],
                r["unclear_rate"],
                t["p50"],
                t["p90"],
                t["count"],
                g["count"],
                g["mean"],
                g["csat"],
            ]
        ],
    )


def splits(figures: Mapping[str, Any]) -> Table:
    """Each split arm: runs that entered it, runs of those that reached a goal, the rate."""
    table = Table(
        "splits",
        "Split arms",
        [
            Column("Split step", TEXT),
            Column("Arm", TEXT),
            Column("Entered"),
            Column("Goals"),
            Column("Goal rate", RATE),
        ],
    )
    for step, arms in figures["splits"].items():
        for arm, f in arms.items():
            table.rows.append([step, arm, f["entered"], f["goals"], f["goal_rate"]])
    return table


def split_tests(figures: Mapping[str, Any]) -> Table:
    """Each split's significance test: p-value, winner, the sample each arm needs."""
    table = Table(
        "split_tests",
        "Split tests",
        [
            Column("Split step", TEXT),
            Column("Test", TEXT),
            Column("p-value", P_VALUE),
            Column("Significant", YES_NO),
            Column("Winner", TEXT),
            Column("Runs needed per arm"),
            Column("Verdict", TEXT),
        ],
    )
    for step, t in figures["split_tests"].items():
        table.rows.append(
            [
                step,
                t["test"],
                t["p_value"],
                t["significant"],
                t["winner"],
                t["needed_per_arm"],
                verdict(t, figures["splits"].get(step, {})),
            ]
        )
    return table


def verdict(test: Mapping[str, Any], arms: Mapping[str, Mapping[str, Any]]) -> str:
    """Say in plain words what a split's test found."""
    needed = test.get("needed_per_arm")
    if test.get("test") is None:
        return "Not enough runs yet: at least two arms need runs to be compared."
    p = f"p = {test['p_value']:.4f}, {test['test']} test"
    if test.get("significant"):
        winner = test["winner"]
        rate = arms.get(winner, {}).get("goal_rate")
        shown = f" ({rate * 100:.2f}% reached a goal)" if rate is not None else ""
        return f"{winner} wins{shown}: the difference is significant at 5% ({p})."
    if needed is None:
        return f"No winner: the arms' goal rates are the same so far ({p})."
    return f"No winner yet: about {number(needed)} runs per arm are needed ({p})."


def daily(days: Sequence[Mapping[str, Any]]) -> Table:
    """Each day of the range: messages sent, delivered, clicked, and conversions."""
    return Table(
        "daily",
        "Per day",
        [
            Column("Day", TEXT),
            Column("Sent"),
            Column("Delivered"),
            Column("Clicked"),
            Column("Conversions"),
        ],
        [[d["day"], d["sent"], d["delivered"], d["clicked"], d["conversions"]] for d in days],
    )
