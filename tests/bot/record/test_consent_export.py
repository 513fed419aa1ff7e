"""`python -m bot consent export`: the consent ledger for an auditor, oldest first."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.record.writer import Commit, RecordWriter
from parley.cli import main
from tests.parley.test_cli import bot, one_line_error

ANA = "+14155550100"
BEN = "+14155550199"
NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
COLUMNS = [
    "id",
    "at",
    "phone",
    "purpose",
    "granted",
    "method",
    "source",
    "evidence",
    "disclosure",
    "seq",
]


@pytest.fixture
def engine(engine: Engine, record_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The record, up to date, and the environment pointing `python -m bot` at it."""
    monkeypatch.setenv("DATABASE_URL", record_url)
    return engine


def decision(phone: str, seq: int, at: datetime, purpose: str, granted: bool) -> Commit:
    """Return a commit carrying one consent decision texted in (its MessageSid the source)."""
    event = {
        "at": at.isoformat(),
        "type": "consent_changed",
        "purpose": purpose,
        "granted": granted,
        "source": f"SM{seq:032}",
        "method": "keyword",
        "evidence": "STOP" if not granted else "START",
        "seq": seq,
    }
    return Commit(f"{int(at.timestamp() * 1000)}-{seq}", at.isoformat(), phone, events=[event])


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    """A ledger of six decisions: Ana and Ben each STOP, START, and STOP again, a day apart."""
    commits = [
        decision(phone, day * 2 + n + 1, NOON + timedelta(days=day, minutes=n), purpose, granted)
        for day, (purpose, granted) in enumerate(
            [("transactional", False), ("transactional", True), ("marketing", False)]
        )
        for n, phone in enumerate((ANA, BEN))
    ]
    RecordWriter(engine).apply(commits)
    return engine


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command line; return its exit status, stdout and stderr."""
    status = main(["consent", "export", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_jsonl_has_every_decision_oldest_first_with_its_evidence(ledger, capsys) -> None:
    status, out, err = run(capsys)
    assert status == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [list(row) for row in rows] == [COLUMNS] * 6
    assert [(r["phone"], r["purpose"], r["granted"]) for r in rows] == [
        (ANA, "transactional", False),
        (BEN, "transactional", False),
        (ANA, "transactional", True),
        (BEN, "transactional", True),
        (ANA, "marketing", False),
        (BEN, "marketing", False),
    ]
    assert rows[0] == {
        "id": f"{ANA}:1",
        "at": "2026-11-30T12:00:00+00:00",
        "phone": ANA,
        "purpose": "transactional",
        "granted": False,
        "method": "keyword",
        "source": f"SM{1:032}",
        "evidence": "STOP",
        "disclosure": None,
        "seq": 1,
    }
    assert err.endswith("parley: exported 6 consent decisions to stdout\n")


def test_csv_with_since_and_phone_takes_one_contacts_later_decisions(ledger, capsys) -> None:
    status, out, err = run(
        capsys, "--format", "csv", "--since", "2026-12-01", "--phone", "(415) 555-0199"
    )
    assert status == 0, err
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == COLUMNS
    assert [(row[2], row[3], row[4], row[7]) for row in table[1:]] == [
        (BEN, "transactional", "true", "START"),
        (BEN, "marketing", "false", "STOP"),
    ]
    assert table[1][1] == "2026-12-01T12:01:00+00:00"
    assert table[1][8] == ""  # no disclosure
    assert "exported 2 consent decisions" in err


def test_jsonl_with_since_takes_the_range_of_everyone(ledger, capsys) -> None:
    status, out, _ = run(capsys, "--since", "2026-12-02T12:00:30Z")
    assert status == 0
    assert [json.loads(line)["phone"] for line in out.splitlines()] == [BEN]


def test_one_decision_is_said_in_the_singular_and_a_file_can_take_it(
    ledger, capsys, tmp_path: Path
) -> None:
    target = tmp_path / "ledger.jsonl"
    status, out, err = run(
        capsys, "--since", "2026-12-02T12:00:30Z", "--output", str(target), "--format", "jsonl"
    )
    assert status == 0 and out == ""
    assert len(target.read_text().splitlines()) == 1
    assert err.endswith(f"parley: exported 1 consent decision to {target}\n")


def test_an_empty_ledger_in_csv_is_a_header_only(engine, capsys) -> None:
    status, out, _ = run(capsys, "--format", "csv")
    assert status == 0
    assert out.splitlines() == [",".join(COLUMNS)]


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--since", "last week"], "--since must be an ISO-8601 date or time"),
        (["--since", "2026-02-30"], "--since must be an ISO-8601 date or time"),
        (["--phone", "not a phone"], "'not a phone' is not a phone number"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, flags: list[str], says: str) -> None:
    result = bot("consent", "export", *flags, env={"PARLEY_VAR_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert says in one_line_error(result)
    assert result.stdout == ""
    assert not (tmp_path / "record.sqlite3").exists()  # refused before the record was reached


def test_a_bad_format_is_refused_by_name(tmp_path: Path) -> None:
    result = bot("consent", "export", "--format", "xml", env={"PARLEY_VAR_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "invalid choice: 'xml'" in result.stderr and "Traceback" not in result.stderr
