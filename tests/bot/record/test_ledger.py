"""The consent ledger: each consent decision the record stream carries becomes one row, once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy import Engine, insert, select

from bot.record import database
from bot.record.ledger import contact_ledger
from bot.record.schema import consent_ledger, conversation_events
from bot.record.writer import Commit, RecordWriter

PHONE = "+14155550100"
T0 = "2026-11-30T15:00:00+00:00"
T5 = "2026-11-30T15:05:00+00:00"


def decision(purpose: str, granted: bool, seq: int, at: str = T0, **more: Any) -> dict[str, Any]:
    """Return a consent_changed event as the event log stores it."""
    return {
        "at": at,
        "type": "consent_changed",
        "purpose": purpose,
        "granted": granted,
        "source": "SM0001",
        "method": "keyword",
        "evidence": "STOP",
        "seq": seq,
        **more,
    }


STOP = Commit(
    "1764514800000-0",
    T0,
    PHONE,
    events=[
        {"at": T0, "type": "message_received", "text": "STOP", "intent": "opt_out", "seq": 1},
        decision("marketing", False, 2),
        decision("transactional", False, 3),
        {"at": T0, "type": "opted_out", "source": "SM0001", "seq": 4},
    ],
)
GRANT = Commit(
    "1764515100000-0",
    T5,
    PHONE,
    events=[
        decision(
            "marketing",
            True,
            5,
            at=T5,
            source="form:checkout",
            method="form",
            evidence='{"phone": "+14155550100"}',
            disclosure="Promotions, up to 4 a month",
        )
    ],
)


def ledger(engine: Engine) -> list[tuple[Any, ...]]:
    query = select(
        consent_ledger.c.id,
        consent_ledger.c.purpose,
        consent_ledger.c.granted,
        consent_ledger.c.method,
        consent_ledger.c.source,
        consent_ledger.c.evidence,
        consent_ledger.c.disclosure,
        consent_ledger.c.seq,
    ).order_by(consent_ledger.c.at, consent_ledger.c.seq)
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


EXPECTED = [
    (f"{PHONE}:2", "marketing", False, "keyword", "SM0001", "STOP", None, 2),
    (f"{PHONE}:3", "transactional", False, "keyword", "SM0001", "STOP", None, 3),
    (
        f"{PHONE}:5",
        "marketing",
        True,
        "form",
        "form:checkout",
        '{"phone": "+14155550100"}',
        "Promotions, up to 4 a month",
        5,
    ),
]


def test_each_consent_decision_becomes_one_ledger_row(engine: Engine) -> None:
    RecordWriter(engine).apply([STOP, GRANT])
    assert ledger(engine) == EXPECTED
    rows = contact_ledger(engine, PHONE)
    assert [row["at"] for row in rows] == [
        datetime(2026, 11, 30, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 15, 5, tzinfo=UTC),
    ]
    assert contact_ledger(engine, "+14155550199") == []


def test_writing_the_same_entries_again_adds_no_row(engine: Engine) -> None:
    writer = RecordWriter(engine)
    writer.apply([STOP])
    writer.apply([STOP, GRANT])  # a recorder that died before acknowledging
    writer.apply([GRANT, STOP, GRANT])  # in any order, twice in one batch
    assert ledger(engine) == EXPECTED


def test_a_row_once_written_is_never_changed(engine: Engine) -> None:
    writer = RecordWriter(engine)
    writer.apply([GRANT])
    altered = Commit(GRANT.id, GRANT.at, PHONE, events=[{**GRANT.events[0], "evidence": "edited"}])
    writer.apply([altered])
    assert ledger(engine) == EXPECTED[2:]


def test_an_event_logged_before_events_were_numbered_is_named_by_its_entry(
    engine: Engine,
) -> None:
    old = decision("marketing", True, 0)
    del old["seq"], old["method"]  # logged before decisions said how they were made
    RecordWriter(engine).apply([Commit("1764514800000-3", T0, PHONE, events=[old])])
    assert ledger(engine) == [
        ("1764514800000-3:0", "marketing", True, "api", "SM0001", "STOP", None, 0)
    ]


def test_an_overlong_source_is_cut_to_fit(engine: Engine) -> None:
    long = decision("marketing", True, 1, source="s" * 500, evidence="x\x00y")
    RecordWriter(engine).apply([Commit("1764514800000-0", T0, PHONE, events=[long])])
    [row] = contact_ledger(engine, PHONE)
    assert row["source"] == "s" * 200
    assert row["evidence"] == "xy"


def test_upgrading_a_record_fills_the_ledger_from_its_consent_events(record_url: str) -> None:
    engine = database.connect(record_url)
    try:
        config = database._config()
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0009")  # a record from before the ledger was written
            connection.commit()
        writer = RecordWriter(engine)
        event_rows = [
            {
                "id": f"{PHONE}:{event['seq']}",
                "seq": event["seq"],
                "phone": PHONE,
                "type": event["type"],
                "at": datetime.fromisoformat(event["at"]),
                "data": {k: v for k, v in event.items() if k not in ("type", "at", "seq")},
            }
            for commit in (STOP, GRANT)
            for event in commit.events
        ]
        with engine.begin() as connection:
            connection.execute(insert(conversation_events), event_rows)
        database.upgrade(record_url)
        assert ledger(engine) == EXPECTED
        writer.apply([STOP, GRANT])  # the same decisions arriving again
        assert ledger(engine) == EXPECTED
    finally:
        engine.dispose()
