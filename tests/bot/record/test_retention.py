"""Retention: old conversation history goes, in batches; consent evidence never does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text

from bot.config import Settings
from bot.record import database, retention
from bot.record.schema import (
    consent_ledger,
    contacts,
    conversation_events,
    conversions,
    journey_runs,
    link_clicks,
    messages,
)
from parley.cli import main

PHONE = "+14155550100"
NOW = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=30)


@pytest.fixture
def engine(engine: Engine, record_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The record, up to date, and the environment pointing `python -m bot` at it."""
    monkeypatch.setenv("DATABASE_URL", record_url)
    monkeypatch.delenv("RECORD_RETENTION_DAYS", raising=False)
    return engine


def message(id: str, at: datetime) -> dict[str, Any]:
    return {
        "id": id,
        "phone": PHONE,
        "direction": "outbound",
        "body": "Reply YES to confirm",
        "status": "delivered",
        "status_history": [],
        "created_at": at,
        "updated_at": at,
    }


def event(id: str, at: datetime) -> dict[str, Any]:
    return {"id": id, "phone": PHONE, "type": "intent", "at": at, "data": {}}


def click(id: str, at: datetime) -> dict[str, Any]:
    return {"id": id, "code": "abc", "phone": PHONE, "url": "https://x.example", "at": at}


def run(id: str, started: datetime, ended: datetime | None) -> dict[str, Any]:
    return {
        "id": id,
        "phone": PHONE,
        "journey": "feedback",
        "status": "completed" if ended else "waiting",
        "steps": [],
        "started_at": started,
        "ended_at": ended,
        "updated_at": ended or started,
    }


def consent(id: str, at: datetime) -> dict[str, Any]:
    return {
        "id": id,
        "phone": PHONE,
        "purpose": "marketing",
        "granted": True,
        "method": "keyword",
        "source": "SM1",
        "evidence": "JOIN",
        "at": at,
    }


def contact(phone: str, at: datetime) -> dict[str, Any]:
    return {
        "phone": phone,
        "fields": {},
        "tags": [],
        "timezone": "America/Los_Angeles",
        "subscribed": True,
        "handoff": False,
        "created_at": at,
        "last_active_at": at,
        "updated_at": at,
    }


def conversion(id: str, at: datetime) -> dict[str, Any]:
    return {
        "id": id,
        "phone": PHONE,
        "event": "order_placed",
        "journey": "abandoned_cart",
        "total": Decimal("19.99"),
        "currency": "USD",
        "at": at,
    }


def fill(engine: Engine, cutoff: datetime, slack: timedelta = timedelta(0)) -> None:
    """Write rows on either side of `cutoff` (30 days before now) in every table.

    The rows "at cutoff" are `slack` after it, the ones "just before" `slack` before it.
    """
    now = cutoff + timedelta(days=30)
    long_ago = now - timedelta(days=3000)
    just_before = cutoff - slack - timedelta(microseconds=1)
    cutoff += slack
    rows: dict[Any, list[dict[str, Any]]] = {
        messages: [
            message("old", long_ago),
            message("just before", just_before),
            message("at cutoff", cutoff),
            message("new", now),
        ],
        conversation_events: [
            event("old", long_ago),
            event("just before", just_before),
            event("at cutoff", cutoff),
            event("new", now),
        ],
        link_clicks: [click("old", just_before), click("at cutoff", cutoff), click("new", now)],
        journey_runs: [
            run("ended long ago", long_ago, long_ago + timedelta(days=1)),
            run("ended just before", long_ago, just_before),
            run("ended at cutoff", long_ago, cutoff),
            run("still waiting", long_ago, None),
            run("ended lately", now - timedelta(days=1), now),
        ],
        consent_ledger: [consent("old", long_ago), consent("new", now)],
        contacts: [contact(PHONE, long_ago), contact("+14155550199", just_before)],
        conversions: [conversion("old", long_ago), conversion("new", now)],
    }
    with engine.begin() as connection:
        for table, table_rows in rows.items():
            connection.execute(insert(table), table_rows)


KEPT = {
    "messages": ["at cutoff", "new"],
    "conversation_events": ["at cutoff", "new"],
    "link_clicks": ["at cutoff", "new"],
    "journey_runs": ["ended at cutoff", "ended lately", "still waiting"],
    # Never pruned, however old.
    "consent_ledger": ["new", "old"],
    "contacts": ["+14155550100", "+14155550199"],
    "conversions": ["new", "old"],
}


def remaining(engine: Engine) -> dict[str, list[str]]:
    tables = {
        "messages": messages.c.id,
        "conversation_events": conversation_events.c.id,
        "link_clicks": link_clicks.c.id,
        "journey_runs": journey_runs.c.id,
        "consent_ledger": consent_ledger.c.id,
        "contacts": contacts.c.phone,
        "conversions": conversions.c.id,
    }
    with engine.connect() as connection:
        return {
            name: sorted(connection.execute(select(key)).scalars()) for name, key in tables.items()
        }


def test_prune_deletes_exactly_what_is_older_than_the_cutoff(engine) -> None:
    fill(engine, CUTOFF)
    deleted = retention.prune(engine, CUTOFF)
    assert deleted == {
        "messages": 2,
        "conversation_events": 2,
        "link_clicks": 1,
        "journey_runs": 2,
    }
    assert remaining(engine) == KEPT


def test_prune_in_batches_smaller_than_the_rows(engine) -> None:
    old = CUTOFF - timedelta(days=1)
    with engine.begin() as connection:
        connection.execute(insert(messages), [message(f"m{n:02}", old) for n in range(12)])
        connection.execute(insert(conversation_events), [event(f"e{n}", old) for n in range(10)])
        connection.execute(insert(messages), [message("kept", NOW)])
        connection.execute(insert(consent_ledger), [consent(f"c{n}", old) for n in range(7)])
    batches: list[tuple[str, int]] = []
    deleted = retention.prune(engine, CUTOFF, batch=5, progress=lambda *b: batches.append(b))
    assert deleted == {
        "messages": 12,
        "conversation_events": 10,
        "link_clicks": 0,
        "journey_runs": 0,
    }
    assert batches == [
        ("messages", 5),
        ("messages", 5),
        ("messages", 2),
        ("conversation_events", 5),
        ("conversation_events", 5),
    ]
    with engine.connect() as connection:
        assert connection.execute(select(messages.c.id)).scalars().all() == ["kept"]
        assert len(connection.execute(select(consent_ledger.c.id)).all()) == 7


def test_a_batch_must_hold_a_row(engine) -> None:
    with pytest.raises(ValueError, match="at least one row"):
        retention.prune(engine, CUTOFF, batch=0)


def test_pruning_twice_deletes_nothing_more(engine) -> None:
    fill(engine, CUTOFF)
    retention.prune(engine, CUTOFF)
    assert set(retention.prune(engine, CUTOFF).values()) == {0}
    assert remaining(engine) == KEPT


def test_prune_due_does_nothing_without_a_retention(engine) -> None:
    fill(engine, CUTOFF)
    before = remaining(engine)
    assert retention.prune_due(Settings(), engine, NOW) == {}
    assert remaining(engine) == before


def test_prune_due_keeps_the_days_the_setting_says(engine) -> None:
    fill(engine, CUTOFF)
    settings = Settings.from_env({"RECORD_RETENTION_DAYS": "30"})
    deleted = retention.prune_due(settings, engine, NOW, batch=1)
    assert deleted == {"messages": 2, "conversation_events": 2, "link_clicks": 1, "journey_runs": 2}
    assert remaining(engine) == KEPT


def test_prune_due_with_a_retention_longer_than_the_calendar_deletes_nothing(engine) -> None:
    fill(engine, CUTOFF)
    before = remaining(engine)
    assert retention.prune_due(Settings(record_retention_days=10**12), engine, NOW) == {}
    assert remaining(engine) == before


def test_prune_due_leaves_the_work_to_a_process_already_pruning(postgres_url: str) -> None:
    database.upgrade(postgres_url)
    engine, elsewhere = database.connect(postgres_url), database.connect(postgres_url)
    key = {"key": retention.PRUNE_LOCK}
    try:
        fill(engine, CUTOFF)
        before = remaining(engine)
        settings = Settings(record_retention_days=30)
        with elsewhere.connect() as other:  # another process, pruning
            other.execute(text("SELECT pg_advisory_lock(:key)"), key)
            assert retention.prune_due(settings, engine, NOW) == {}
            assert remaining(engine) == before
            other.execute(text("SELECT pg_advisory_unlock(:key)"), key)
        assert retention.prune_due(settings, engine, NOW)["messages"] == 2
        assert remaining(engine) == KEPT
        # It let go of the lock (its connection still open in the pool): others can prune.
        with elsewhere.connect() as other:
            taken = other.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar()
            assert taken is True
            other.execute(text("SELECT pg_advisory_unlock(:key)"), key)
    finally:
        engine.dispose()
        elsewhere.dispose()


# `python -m bot db prune` counts its days back from the real now.
def command(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["db", "prune", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def real_cutoff(days: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(days=days)


def test_db_prune_keeps_the_days_given(engine, capsys) -> None:
    fill(engine, real_cutoff(30), slack=timedelta(hours=1))  # the command runs a little later
    status, out, err = command(capsys, "--days", "30")
    assert status == 0, err
    assert out.startswith("parley: deleted what is older than 30 days (before ")
    assert out.endswith(
        "): 2 messages, 2 conversation events, 1 link clicks, 2 ended journey runs;"
        " the consent ledger, contacts and conversions are kept\n"
    )
    assert err == ""
    assert remaining(engine) == KEPT


def test_db_prune_defaults_to_the_setting_and_days_override_it(engine, capsys, monkeypatch) -> None:
    fill(engine, real_cutoff(30), slack=timedelta(hours=1))
    monkeypatch.setenv("RECORD_RETENTION_DAYS", "3650")
    status, out, _ = command(capsys)
    assert status == 0
    assert "older than 3650 days" in out and "0 messages" in out
    assert remaining(engine)["messages"] == ["at cutoff", "just before", "new", "old"]
    monkeypatch.setenv("RECORD_RETENTION_DAYS", "1000")
    status, out, _ = command(capsys)
    assert "older than 1000 days" in out and "1 messages" in out  # the one from long ago
    status, out, _ = command(capsys, "--days", "30")
    assert status == 0
    assert "older than 30 days" in out and "1 messages" in out
    assert remaining(engine) == KEPT


def test_db_prune_without_a_retention_prunes_nothing(engine, capsys) -> None:
    fill(engine, real_cutoff(30))
    before = remaining(engine)
    status, out, err = command(capsys)
    assert status == 0
    assert out == "parley: RECORD_RETENTION_DAYS is unset and no --days given: nothing is pruned\n"
    assert err == ""
    assert remaining(engine) == before


def test_db_prune_shows_progress_when_asked(engine, capsys) -> None:
    fill(engine, real_cutoff(30), slack=timedelta(hours=1))
    status, _, err = command(capsys, "--days", "30", "--progress")
    assert status == 0
    assert "pruning: 7row" in err  # 2 + 2 + 1 + 2 rows deleted


@pytest.mark.parametrize("days", ["0", "-1", "thirty", "1.5", "30d", ""])
def test_db_prune_with_bad_days_is_one_line_and_exit_2(engine, capsys, days) -> None:
    fill(engine, real_cutoff(30))
    before = remaining(engine)
    status, out, err = command(capsys, "--days", days)
    assert status == 2
    assert out == ""
    assert err == f"parley: --days must be a whole number of days above 0, not {days!r}\n"
    assert remaining(engine) == before


def test_a_bad_retention_setting_stops_db_prune(engine, capsys, monkeypatch) -> None:
    monkeypatch.setenv("RECORD_RETENTION_DAYS", "forever")
    status, out, err = command(capsys)
    assert (status, out) == (2, "")
    assert err.startswith("parley: RECORD_RETENTION_DAYS must be a whole number of days")
    assert err.count("\n") == 1
