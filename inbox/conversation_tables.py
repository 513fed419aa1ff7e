"""The conversations page's tables: staff response times, hand-offs, opt-outs, unclear replies.

Each is one definition, shown as HTML and exported as CSV like the journeys' tables
(inbox/tables.py), from the figures `GET /api/analytics/conversations` answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inbox.tables import COUNT, RATE, SECONDS, TEXT, Column, Table


def conversation_tables(figures: Mapping[str, Any]) -> list[Table]:
    """Every table of the conversations page, in the order the page shows them."""
    return [
        staff_response(figures),
        handoffs(figures),
        opt_outs_by_journey(figures),
        opt_outs_by_week(figures),
        unclear_replies(figures),
    ]


def staff_response(figures: Mapping[str, Any]) -> Table:
    """How long staff took to answer a contact waiting for them, binned as Chatwoot does."""
    response = figures["staff_response_s"]
    bins = list(response["bins"])
    table = Table(
        "staff_response",
        "Staff response time",
        [
            Column("Answers"),
            Column("p50", SECONDS),
            Column("p90", SECONDS),
            *(Column(f"Within {label}" if label != "24h+" else "After 24h") for label in bins),
        ],
    )
    table.rows.append(
        [response["count"], response["p50"], response["p90"], *response["bins"].values()]
    )
    return table


def handoffs(figures: Mapping[str, Any]) -> Table:
    """Conversations handed to staff, by the reason given."""
    table = Table("handoffs", "Hand-offs by reason", [Column("Reason", TEXT), Column("Hand-offs")])
    for reason, count in figures["handoffs"]["by_reason"].items():
        table.rows.append([reason or "(none given)", count])
    return table


def opt_outs_by_journey(figures: Mapping[str, Any]) -> Table:
    """Opt-outs credited to each journey, out of the messages it delivered."""
    table = Table(
        "opt_outs_by_journey",
        "Opt-outs by journey",
        [Column("Journey", TEXT), Column("Opt-outs"), Column("Delivered"), Column("Rate", RATE)],
    )
    for row in figures["opt_outs"]["by_journey"]:
        journey = row["journey"] or "(no journey)"
        table.rows.append([journey, row["opt_outs"], row["delivered"], row["rate"]])
    return table


def opt_outs_by_week(figures: Mapping[str, Any]) -> Table:
    """Opt-outs each ISO week, out of every message delivered that week."""
    table = Table(
        "opt_outs_by_week",
        "Opt-outs by week",
        [
            Column("Week", TEXT),
            Column("From", TEXT),
            Column("Opt-outs"),
            Column("Delivered"),
            Column("Rate", RATE),
        ],
    )
    for row in figures["opt_outs"]["by_week"]:
        table.rows.append(
            [row["week"], row["from"], row["opt_outs"], row["delivered"], row["rate"]]
        )
    return table


def unclear_replies(figures: Mapping[str, Any]) -> Table:
    """Each journey step's replies the bot could not use, the most confusing first."""
    table = Table(
        "unclear_replies",
        "Unclear replies by step",
        [
            Column("Journey", TEXT),
            Column("Step", TEXT),
            Column("Replies", COUNT),
            Column("Unclear"),
            Column("Unclear rate", RATE),
        ],
    )
    for row in figures["unclear_replies"]:
        table.rows.append(
            [row["journey"], row["step"], row["replies"], row["unclear"], row["rate"]]
        )
    return table
