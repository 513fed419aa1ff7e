"""`python -m bot export` and `db prune`, run as a user runs them: real processes, a real record."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import resource
import signal
import struct
import subprocess
import sys
import termios
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bot.record import database
from bot.record.schema import messages
from tests.parley.test_cli import ROOT, bot, one_line_error

NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def record(url: str, count: int, start: datetime = NOON) -> str:
    """Fill the record at `url` with `count` messages a minute apart; return the URL."""
    database.upgrade(url)
    engine = database.connect(url)
    rows = [
        {
            "id": f"m{n:06}",
            "phone": "+14155550100",
            "direction": "outbound",
            "body": f"Message number {n}, a little longer than it needs to be to fill pages",
            "status": "delivered",
            "status_history": [["delivered", start.isoformat()]],
            "created_at": start + timedelta(minutes=n),
            "updated_at": start + timedelta(minutes=n),
        }
        for n in range(count)
    ]
    try:
        with engine.begin() as connection:
            connection.execute(insert(messages), rows)
    finally:
        engine.dispose()
    return url


def test_a_bad_date_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = bot(
        "export", "messages", "--since", "last week", env={"PARLEY_VAR_DIR": str(tmp_path)}
    )
    assert result.returncode == 2
    assert "--since must be an ISO-8601 date or time" in one_line_error(result)
    assert result.stdout == ""


def test_a_failed_export_leaves_no_half_file_and_the_old_one_whole(
    postgres_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": record(postgres_url, 3000), "PYTHONDONTWRITEBYTECODE": "1"}
    target = tmp_path / "messages.jsonl"
    target.write_text("last month's export\n")

    def small_files() -> None:
        # Writing past 64 KiB fails (EFBIG) instead of killing the process: a full disk.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    result = subprocess.run(
        [sys.executable, "-m", "bot", "export", "messages", "--output", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        preexec_fn=small_files,
    )
    assert result.returncode == 1
    assert one_line_error(result) == f"parley: cannot write {target}: File too large"
    assert target.read_text() == "last month's export\n"
    assert [path.name for path in tmp_path.iterdir()] == ["messages.jsonl"]


def test_the_progress_bar_shows_on_a_terminal_by_itself(tmp_path: Path) -> None:
    url = record(f"sqlite:///{tmp_path / 'record.sqlite3'}", 2500)
    terminal, stderr = pty.openpty()
    # A terminal 80 columns wide, as a person's would be (a new pty has none).
    fcntl.ioctl(stderr, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "export", "messages", "--format", "csv"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "DATABASE_URL": url},
        )
        os.close(stderr)
        out, _ = process.communicate(timeout=120)
        shown = b""
        while True:
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # the process is gone and the terminal drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(terminal)
    assert process.returncode == 0, shown
    assert len(out.splitlines()) == 2501  # the header and every row: the bar went to stderr
    assert b"2500/2500" in shown
    assert shown.rstrip().endswith(b"parley: exported 2500 messages to stdout")


def test_an_export_cut_short_by_its_reader_ends_quietly(tmp_path: Path) -> None:
    url = record(f"sqlite:///{tmp_path / 'record.sqlite3'}", 3000)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "export", "messages"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "DATABASE_URL": url},
    )
    assert process.stdout is not None and process.stderr is not None
    first = json.loads(process.stdout.readline())  # `| head -1`
    process.stdout.close()
    errors = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=120) == 1
    assert first["id"] == "m000000"
    assert errors == ""


def test_db_prune_without_a_retention_says_so_and_succeeds(tmp_path: Path) -> None:
    url = record(f"sqlite:///{tmp_path / 'record.sqlite3'}", 3)
    result = bot("db", "prune", env={"DATABASE_URL": url, "RECORD_RETENTION_DAYS": ""})
    assert result.returncode == 0, result.stderr
    assert "nothing is pruned" in result.stdout
    assert result.stderr == ""


def test_a_bad_retention_setting_stops_commands_in_one_line(tmp_path: Path) -> None:
    url = record(f"sqlite:///{tmp_path / 'record.sqlite3'}", 3)
    result = bot("db", "prune", env={"DATABASE_URL": url, "RECORD_RETENTION_DAYS": "90 days"})
    assert result.returncode == 2
    line = one_line_error(result)
    assert line.startswith("parley: RECORD_RETENTION_DAYS must be a whole number of days")
    assert "'90 days'" in line


def test_db_prune_deletes_what_is_older_than_the_setting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    record(url, 3, start=datetime.now(UTC) - timedelta(days=40))
    result = bot("db", "prune", env={"DATABASE_URL": url, "RECORD_RETENTION_DAYS": "30"})
    assert result.returncode == 0, result.stderr
    assert "older than 30 days" in result.stdout
    assert "3 messages" in result.stdout
    assert bot("export", "messages", env={"DATABASE_URL": url}).stdout == ""
