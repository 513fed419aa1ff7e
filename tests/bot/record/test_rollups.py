"""The analytics rollups the writer keeps: once per fact, in any order, as a rebuild has them."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from bot.record import rollups
from bot.record.facts import response_bucket
from bot.record.schema import journey_counts
from bot.record.writer import Commit, Entry, RecordWriter, StatusChange
from parley.cli import main

PHONE = "+14155550100"
ZONE = ZoneInfo("America/New_York")
T0 = "2026-11-30T15:00:00+00:00"  # 10:00 in New York
T1 = "2026-11-30T15:02:00+00:00"
LATE = "2026-12-01T02:30:00+00:00"  # 11.5 hours after the question: Nov 30 in New York
DAY = date(2026, 11, 30)


def run(step: str, status: str = "waiting", ended_at: str | None = None) -> dict[str, Any]:
    return {
        "id": "r1",
        "journey": "survey",
        "status": status,
        "step": step,
        "started_at": T0,
        "ended_at": ended_at,
    }


def message(message_id: str, step: str, at: str) -> dict[str, str]:
    return {
        "id": message_id,
        "phone": PHONE,
        "direction": "outbound",
        "body": "How did we do?",
        "status": "pending",
        "at": at,
        "kind": "transactional",
        "journey": "survey",
        "step": step,
    }


ASKED = Commit(
    "1796050800000-0",
    T0,
    PHONE,
    runs=[run("ask")],
    messages=[message("m1", "ask", T0)],
    events=[
        {"at": T0, "type": "journey_started", "journey": "survey", "seq": 1},
        {"at": T0, "type": "message_created", "run_id": "r1", "step": "ask", "seq": 2},
        {"at": T0, "type": "wait_started", "run_id": "r1", "step": "ask", "seq": 3},
    ],
)
SENT = StatusChange("1796050801000-0", "2026-11-30T15:00:01+00:00", PHONE, "m1", "sent", sid="SM1")
DELIVERED = StatusChange("1796050802000-0", "2026-11-30T15:00:02+00:00", PHONE, "m1", "delivered")
ANSWERED = Commit(
    "1796050920000-0",
    T1,
    PHONE,
    runs=[run("thanks", status="completed", ended_at=T1)],
    messages=[message("m2", "thanks", T1)],
    events=[
        {
            "at": T1,
            "type": "message_received",
            "text": "5",
            "intent": "rating",
            "confidence": 1.0,
            "journey": "survey",
            "run_id": "r1",
            "step": "ask",
            "waited_s": 120.0,
            "unclear": False,
            "rating": 5,
            "seq": 4,
        },
        {
            "at": T1,
            "type": "split_chosen",
            "run_id": "r1",
            "step": "happy",
            "variant": "a",
            "seq": 5,
        },
        {
            "at": T1,
            "type": "goal_reached",
            "run_id": "r1",
            "journey": "survey",
            "goal": "rated",
            "seq": 6,
        },
        {"at": T1, "type": "message_created", "run_id": "r1", "step": "thanks", "seq": 7},
        {
            "at": T1,
            "type": "journey_ended",
            "run_id": "r1",
            "journey": "survey",
            "status": "completed",
            "seq": 8,
        },
    ],
)
FAILED = StatusChange("1796050921000-0", T1, PHONE, "m2", "failed", error_code=30003)
ORDERED = Commit(
    "1796092200000-0",
    LATE,
    PHONE,
    events=[
        {
            "at": LATE,
            "type": "conversion_reported",
            "event": "order_placed",
            "total": "19.99",
            "currency": "EUR",
            "windows": {"survey": [432000.0, 43200.0]},
            "seq": 9,
        }
    ],
)
STOPPED = Commit(
    "1796092300000-0",
    LATE,
    PHONE,
    events=[{"at": LATE, "type": "opted_out", "source": "SM9", "seq": 10}],
)
ALL: list[Entry] = [ASKED, SENT, DELIVERED, ANSWERED, FAILED, ORDERED, STOPPED]


def counts(engine: Engine) -> dict[tuple[str, str], int]:
    """Return the survey's figures, having checked the conversation-wide ones."""
    with engine.connect() as connection:
        rows = connection.execute(select(journey_counts)).all()
    assert {(row.journey, row.day) for row in rows if row.value} <= {("survey", DAY), ("", DAY)}
    assert {(row.metric, row.key): row.value for row in rows if row.value and not row.journey} == {
        ("delivered", "survey"): 1,
        ("opt_outs", "survey"): 1,
    }
    return {(row.metric, row.key): row.value for row in rows if row.value and row.journey}


EXPECTED = {
    ("entered", ""): 1,
    ("reached", "ask"): 1,
    ("reached", "happy"): 1,
    ("reached", "thanks"): 1,
    ("path", "ask>happy"): 1,
    ("path", "happy>thanks"): 1,
    ("goal", "rated"): 1,
    ("goal_runs", ""): 1,
    ("completed", ""): 1,
    ("split", "happy/a"): 1,
    ("split_goal", "happy/a"): 1,
    ("sent", "ask"): 1,
    ("delivered", "ask"): 1,
    ("failed", "thanks"): 1,
    ("replies", "ask"): 1,
    ("response", "120"): 1,
    ("rating_count", "ask"): 1,
    ("rating_sum", "ask"): 5,
    ("rating_good", "ask"): 1,
    ("conversions", "ask"): 1,
    ("revenue", "EUR"): 199_900,
    ("opt_outs", "ask"): 1,
}


def test_each_fact_is_counted_once_on_its_days(engine: Engine) -> None:
    writer = RecordWriter(engine, ZONE)
    for entry in ALL:
        writer.apply([entry])
    assert counts(engine) == EXPECTED
    writer.apply(ALL)  # the stream read again after a crash
    assert counts(engine) == EXPECTED
    assert rollups.rebuild(engine, ZONE) > 0
    assert counts(engine) == EXPECTED


@pytest.mark.parametrize("order", list(itertools.permutations(range(5)))[::17])
def test_any_order_of_arrival_counts_the_same(engine: Engine, order: tuple[int, ...]) -> None:
    writer = RecordWriter(engine, ZONE)
    first: list[Entry] = [ASKED, SENT, DELIVERED, ANSWERED, FAILED]
    for index in order:
        writer.apply([first[index]])
    writer.apply([ORDERED, STOPPED])
    assert counts(engine) == EXPECTED


def test_a_rebuild_since_a_day_keeps_the_days_before(engine: Engine) -> None:
    writer = RecordWriter(engine, ZONE)
    writer.apply(ALL)
    with engine.begin() as connection:  # as if the rows of Nov 30 had been pruned
        rollups.add(connection, Counter({("survey", date(2026, 11, 1), "entered", ""): 7}))
    rollups.rebuild(engine, ZONE, since=date(2026, 11, 15))
    with engine.connect() as connection:
        early = connection.execute(
            select(journey_counts.c.value).where(journey_counts.c.day == date(2026, 11, 1))
        ).scalar_one()
    assert early == 7
    assert rollups.rebuild(engine, ZONE) > 0
    with engine.connect() as connection:
        days = {row.day for row in connection.execute(select(journey_counts))}
    assert days == {DAY}


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [(0.4, 0), (59.6, 60), (99, 99), (120, 120), (125, 120), (3599, 3500), (86_400, 86_000)],
)
def test_response_times_are_kept_to_two_significant_digits(seconds: float, bucket: int) -> None:
    assert response_bucket(seconds) == bucket


def test_the_command_line_rebuilds_the_figures(
    engine: Engine, record_url: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("DATABASE_URL", record_url)
    monkeypatch.setenv("DEFAULT_TIMEZONE", "America/New_York")
    RecordWriter(engine, ZONE).apply(ALL)
    with engine.begin() as connection:  # figures gone wrong
        connection.execute(journey_counts.update().values(value=journey_counts.c.value + 3))
    assert main(["analytics", "rebuild", "--no-progress"]) == 0
    assert counts(engine) == EXPECTED
    out = capsys.readouterr().out
    assert "rebuilt the journeys' figures for every day" in out

    assert main(["analytics", "rebuild", "--since", "30 Nov"]) == 2
    assert "--since must be a date such as" in capsys.readouterr().err
