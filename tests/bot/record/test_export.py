"""`python -m bot export`: the record's messages and events, oldest first, as JSONL or CSV."""

from __future__ import annotations

import csv
import io
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from bot.record import export
from bot.record.schema import conversation_events, messages
from parley.cli import main

ANA = "+14155550100"
BEN = "+14155550199"
NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(engine: Engine, record_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The record, up to date, and the environment pointing `python -m bot` at it."""
    monkeypatch.setenv("DATABASE_URL", record_url)
    return engine


def message(id: str, at: datetime, phone: str = ANA, **changes: Any) -> dict[str, Any]:
    """Return a messages row."""
    row = {
        "id": id,
        "phone": phone,
        "seq": 1,
        "direction": "outbound",
        "body": f"Reply YES to confirm ({id})",
        "kind": "transactional",
        "journey": "appointment_confirmation",
        "step": "ask",
        "status": "delivered",
        "status_history": [["pending", at.isoformat()], ["delivered", at.isoformat()]],
        "reason": None,
        "sid": f"SM{id}",
        "error_code": None,
        "segments": 1,
        "created_at": at,
        "updated_at": at + timedelta(seconds=5),
    }
    return {**row, **changes}


def event(id: str, at: datetime, phone: str = ANA, **changes: Any) -> dict[str, Any]:
    """Return a conversation_events row."""
    row = {
        "id": id,
        "phone": phone,
        "type": "intent",
        "at": at,
        "intent": "affirm",
        "confidence": 0.75,
        "journey": "appointment_confirmation",
        "run_id": "r1",
        "data": {"text": "yes", "entities": []},
        "seq": 1,
    }
    return {**row, **changes}


def add(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(table), rows)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command line; return its exit status, stdout and stderr."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_messages_come_out_as_json_lines_oldest_first_with_utc_times(engine, capsys) -> None:
    later = message(
        "m2",
        NOON + timedelta(minutes=1),
        direction="inbound",
        body="Oui, ça marche 👍\nÀ demain",
        kind=None,
        journey=None,
        step=None,
        status="received",
        seq=2,
        status_history=[["received", "2026-11-30T12:01:00+00:00"]],
        sid="SMin",
        segments=None,
    )
    add(engine, messages, [later, message("m1", NOON, error_code=30003, reason="quiet_hours")])

    status, out, err = run(capsys, "export", "messages")

    assert status == 0, err
    assert lines(out) == [
        {
            "id": "m1",
            "created_at": "2026-11-30T12:00:00+00:00",
            "phone": ANA,
            "seq": 1,
            "direction": "outbound",
            "body": "Reply YES to confirm (m1)",
            "kind": "transactional",
            "journey": "appointment_confirmation",
            "step": "ask",
            "status": "delivered",
            "reason": "quiet_hours",
            "sid": "SMm1",
            "error_code": 30003,
            "segments": 1,
            "status_history": [
                ["pending", "2026-11-30T12:00:00+00:00"],
                ["delivered", "2026-11-30T12:00:00+00:00"],
            ],
            "updated_at": "2026-11-30T12:00:05+00:00",
        },
        {
            "id": "m2",
            "created_at": "2026-11-30T12:01:00+00:00",
            "phone": ANA,
            "seq": 2,
            "direction": "inbound",
            "body": "Oui, ça marche 👍\nÀ demain",
            "kind": None,
            "journey": None,
            "step": None,
            "status": "received",
            "reason": None,
            "sid": "SMin",
            "error_code": None,
            "segments": None,
            "status_history": [["received", "2026-11-30T12:01:00+00:00"]],
            "updated_at": "2026-11-30T12:01:05+00:00",
        },
    ]
    assert err == "parley: exported 2 messages to stdout\n"


def test_events_come_out_as_json_lines(engine, capsys) -> None:
    add(engine, conversation_events, [event("c1:0", NOON, data={"text": "yes", "n": [1, 2]})])
    status, out, err = run(capsys, "export", "events", "--format", "jsonl")
    assert status == 0, err
    assert lines(out) == [
        {
            "id": "c1:0",
            "at": "2026-11-30T12:00:00+00:00",
            "phone": ANA,
            "type": "intent",
            "intent": "affirm",
            "confidence": 0.75,
            "journey": "appointment_confirmation",
            "run_id": "r1",
            "data": {"text": "yes", "n": [1, 2]},
            "seq": 1,
        }
    ]
    assert err == "parley: exported 1 event to stdout\n"


def test_pages_follow_time_then_id_without_losing_or_repeating_a_row(
    engine, capsys, monkeypatch
) -> None:
    monkeypatch.setattr(export, "PAGE", 3)
    # Ties on the time across page ends: the id decides, and no row is skipped or doubled.
    times = [NOON, NOON, NOON, NOON, NOON + timedelta(seconds=1), NOON - timedelta(days=1)]
    rows = [message(f"m{n}", at) for n, at in zip([5, 2, 9, 7, 1, 4], times, strict=True)]
    rows += [message(f"t{n}", NOON) for n in range(4)]  # 10 rows: pages of 3, 3, 3, 1
    add(engine, messages, rows)
    status, out, err = run(capsys, "export", "messages")
    assert status == 0, err
    assert [row["id"] for row in lines(out)] == [
        "m4",
        "m2",
        "m5",
        "m7",
        "m9",
        "t0",
        "t1",
        "t2",
        "t3",
        "m1",
    ]


def test_messages_of_one_moment_come_in_the_order_they_were_made(engine, capsys) -> None:
    # One transition writes several messages at one time; their numbers order them.
    made = [("zz", 5), ("aa", 7), ("mm", 6), ("old", 0)]
    add(engine, messages, [message(id, NOON, seq=seq) for id, seq in made])
    add(engine, messages, [message("first", NOON - timedelta(seconds=1), seq=9)])
    status, out, err = run(capsys, "export", "messages")
    assert status == 0, err
    assert [row["id"] for row in lines(out)] == ["first", "old", "zz", "mm", "aa"]


def test_pages_end_between_messages_of_one_moment(engine) -> None:
    made = [("a", 3), ("z", 1), ("b", 2), ("c", 2), ("y", 4)]
    add(engine, messages, [message(id, NOON, seq=seq) for id, seq in made])
    found = export.rows(engine, export.Selection("messages"), page=2)
    assert [row["id"] for row in found] == ["z", "b", "c", "a", "y"]


def test_rows_are_read_a_page_at_a_time(engine) -> None:
    add(engine, messages, [message(f"m{n}", NOON + timedelta(minutes=n)) for n in range(4)])
    found = export.rows(engine, export.Selection("messages"), page=2)
    assert [next(found)["id"], next(found)["id"]] == ["m0", "m1"]
    # A row written while the export runs, after the pages already read, is still found.
    add(engine, messages, [message("m9", NOON + timedelta(hours=1))])
    assert [row["id"] for row in found] == ["m2", "m3", "m9"]


BOUNDARIES = [
    message("before", datetime(2026, 11, 29, 23, 59, 59, 999999, tzinfo=UTC)),
    message("midnight", datetime(2026, 11, 30, tzinfo=UTC)),
    message("noon", NOON),
    message("next day", datetime(2026, 12, 1, tzinfo=UTC)),
]


@pytest.mark.parametrize(
    ("flags", "ids"),
    [
        (["--since", "2026-11-30"], ["midnight", "noon", "next day"]),
        (["--until", "2026-11-30"], ["before"]),
        (["--since", "2026-11-30", "--until", "2026-12-01"], ["midnight", "noon"]),
        (["--since", "2026-11-30T12:00:00Z"], ["noon", "next day"]),
        (["--until", "2026-11-30T12:00:00Z"], ["before", "midnight"]),
        # A time in another zone is that instant; one without a zone is UTC.
        (["--since", "2026-11-30T07:00:00+07:00", "--until", "2026-11-30T12:00"], ["midnight"]),
        (["--since", "2026-11-29T23:59:59.999999"], ["before", "midnight", "noon", "next day"]),
        (["--since", "2026-12-02"], []),
    ],
)
def test_since_is_inclusive_and_until_exclusive(engine, capsys, flags, ids) -> None:
    add(engine, messages, BOUNDARIES)
    status, out, err = run(capsys, "export", "messages", *flags)
    assert status == 0, err
    assert [row["id"] for row in lines(out)] == ids


def test_events_take_the_range_and_phone_by_their_own_time(engine, capsys) -> None:
    add(
        engine,
        conversation_events,
        [
            event("e1", NOON - timedelta(days=1)),
            event("e2", NOON),
            event("e3", NOON, phone=BEN),
            event("e4", NOON + timedelta(days=1)),
        ],
    )
    flags = ["--since", "2026-11-30", "--until", "2026-12-01", "--phone", "415 555 0100"]
    status, out, err = run(capsys, "export", "events", *flags)
    assert status == 0, err
    assert [row["id"] for row in lines(out)] == ["e2"]


@pytest.mark.parametrize("phone", [ANA, "(415) 555-0100", "+1 415-555-0100", "1.415.555.0100"])
def test_phone_takes_one_contact_written_any_way(engine, capsys, phone) -> None:
    add(engine, messages, [message("a1", NOON), message("b1", NOON, phone=BEN)])
    add(engine, messages, [message("a2", NOON + timedelta(hours=1))])
    status, out, err = run(capsys, "export", "messages", "--phone", phone)
    assert status == 0, err
    assert [(row["id"], row["phone"]) for row in lines(out)] == [("a1", ANA), ("a2", ANA)]


def test_phone_finds_numbers_the_library_does_not_know_are_in_use(engine, capsys) -> None:
    # Twilio delivers texts from numbers phonenumbers thinks unassigned; they are kept too.
    unknown = "+14151550100"
    add(engine, messages, [message("u1", NOON, phone=unknown), message("a1", NOON)])
    status, out, err = run(capsys, "export", "messages", "--phone", "(415) 155-0100")
    assert status == 0, err
    assert [(row["id"], row["phone"]) for row in lines(out)] == [("u1", unknown)]


def test_csv_has_the_documented_columns_and_round_trips(engine, capsys) -> None:
    tricky = 'He said "no, thanks", then:\r\nSTOP 🙂'
    add(
        engine,
        messages,
        [message("m1", NOON, body=tricky, reason=None, error_code=21610, segments=None)],
    )
    data = {"text": "4, really", "entities": [{"entity": "rating", "value": 4}], "ok": None}
    add(engine, conversation_events, [event("e1", NOON, data=data, intent=None, confidence=None)])

    status, out, err = run(capsys, "export", "messages", "--format", "csv")
    assert status == 0, err
    table = list(csv.reader(io.StringIO(out, newline="")))
    assert table[0] == [
        "id",
        "created_at",
        "phone",
        "seq",
        "direction",
        "body",
        "kind",
        "journey",
        "step",
        "status",
        "reason",
        "sid",
        "error_code",
        "segments",
        "status_history",
        "updated_at",
    ]
    (row,) = (dict(zip(table[0], values, strict=True)) for values in table[1:])
    assert row["body"] == tricky
    assert row["created_at"] == "2026-11-30T12:00:00+00:00"
    assert (row["reason"], row["error_code"], row["segments"]) == ("", "21610", "")
    assert json.loads(row["status_history"]) == [
        ["pending", "2026-11-30T12:00:00+00:00"],
        ["delivered", "2026-11-30T12:00:00+00:00"],
    ]

    status, out, err = run(capsys, "export", "events", "--format", "csv")
    assert status == 0, err
    (row,) = csv.DictReader(io.StringIO(out, newline=""))
    assert list(row) == [
        "id",
        "at",
        "phone",
        "type",
        "intent",
        "confidence",
        "journey",
        "run_id",
        "data",
        "seq",
    ]
    assert json.loads(row["data"]) == data
    assert (row["intent"], row["confidence"], row["at"]) == ("", "", "2026-11-30T12:00:00+00:00")


def test_an_export_to_a_file_is_what_stdout_gets(engine, capsys, tmp_path: Path) -> None:
    add(engine, messages, [message(f"m{n}", NOON + timedelta(minutes=n)) for n in range(5)])
    _, shown, _ = run(capsys, "export", "messages", "--format", "csv")
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "messages.csv"
    status, out, err = run(capsys, "export", "messages", "--format", "csv", "-o", str(target))
    assert status == 0, err
    assert out == ""
    assert err == f"parley: exported 5 messages to {target}\n"
    assert target.read_bytes().decode("utf-8") == shown
    assert [path.name for path in folder.iterdir()] == ["messages.csv"]  # no temporary file
    # It holds phone numbers and what people wrote: for its owner's eyes.
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_an_empty_range_writes_a_header_only(engine, capsys) -> None:
    add(engine, messages, [message("m1", NOON)])
    status, out, err = run(capsys, "export", "messages", "--format", "csv", "--since", "2027-01-01")
    assert status == 0, err
    assert out.splitlines() == [",".join(export.COLUMNS["messages"])]
    assert err == "parley: exported 0 messages to stdout\n"


def test_progress_counts_up_to_the_total_on_stderr(engine, capsys) -> None:
    add(engine, messages, [message(f"m{n}", NOON + timedelta(minutes=n)) for n in range(7)])
    add(engine, messages, [message("other", NOON, phone=BEN)])
    status, out, err = run(capsys, "export", "messages", "--phone", ANA, "--progress")
    assert status == 0, err
    assert len(lines(out)) == 7
    assert "7/7" in err
    assert err.endswith("parley: exported 7 messages to stdout\n")


def test_no_progress_bar_when_stderr_is_no_terminal(engine, capsys) -> None:
    add(engine, messages, [message("m1", NOON)])
    status, _, err = run(capsys, "export", "messages")
    assert (status, err) == (0, "parley: exported 1 message to stdout\n")
    status, _, err = run(capsys, "export", "messages", "--no-progress")
    assert (status, err) == (0, "parley: exported 1 message to stdout\n")


def test_a_record_without_tables_is_one_line(record_url, capsys, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", record_url)
    status, out, err = run(capsys, "export", "messages")
    assert status == 1
    assert out == ""
    assert err.count("\n") == 1
    assert "has no tables yet" in err and "db upgrade" in err


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--since", "yesterday"], "--since must be an ISO-8601 date or time"),
        (["--until", "2026-13-01"], "--until must be an ISO-8601 date or time"),
        (["--since", ""], "not ''"),
        (["--since", "0001-01-01T00:00:00+01:00"], "--since must be"),
        (["--since", "2026-12-01", "--until", "2026-12-01"], "must be later than --since"),
        (["--since", "2026-12-02", "--until", "2026-12-01T23:00Z"], "must be later than"),
        (["--phone", "not a phone"], "'not a phone' is not a phone number"),
        (["--phone", "+1 415"], "is not a valid phone number"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, flags, says) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'record.sqlite3'}")
    status, out, err = run(capsys, "export", "messages", *flags)
    assert status == 2
    assert out == ""
    assert err.startswith("parley: ") and err.count("\n") == 1
    assert says in err
    assert not (tmp_path / "record.sqlite3").exists()  # refused before the record was reached


def test_an_export_that_fails_leaves_no_file_and_the_old_one_whole(tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    target.write_text("yesterday's export\n")
    with pytest.raises(RuntimeError), export.output(str(target)) as out:
        out.write('{"id": "e1"}\n' * 10_000)
        raise RuntimeError("the database went away")
    assert target.read_text() == "yesterday's export\n"
    assert [path.name for path in tmp_path.iterdir()] == ["events.jsonl"]
