"""The record's schema: built by its migrations on an empty or an existing database."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select

from bot.record import database
from bot.record.schema import contacts, metadata
from sandbox.emulator_server import EmulatorServer
from tests.conftest import free_port
from tests.processes import ROOT, Processes, environment, wait_until
from tests.sandbox.test_devserver import healthy


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'record.sqlite3'}"


def bot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_upgrade_builds_every_table_on_an_empty_database(record_url: str) -> None:
    url = record_url
    assert database.upgrade(url) == database.head()
    engine = database.connect(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(metadata.tables) <= tables
        assert database.current(engine) == database.head()
    finally:
        engine.dispose()


def test_the_migrations_build_exactly_the_schema_the_code_declares(record_url: str) -> None:
    url = record_url
    database.upgrade(url)
    engine = database.connect(url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_upgrading_an_existing_record_keeps_its_rows(record_url: str) -> None:
    url = record_url
    database.upgrade(url)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    engine = database.connect(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(contacts).values(
                    phone="+14155550100",
                    fields={"first_name": "Ana"},
                    tags=[],
                    timezone="America/Los_Angeles",
                    subscribed=True,
                    handoff=False,
                    created_at=now,
                    updated_at=now,
                )
            )
        assert database.upgrade(url) == database.head()
        with engine.connect() as connection:
            rows = connection.execute(select(contacts.c.phone, contacts.c.fields)).all()
    finally:
        engine.dispose()
    assert [(row.phone, row.fields) for row in rows] == [("+14155550100", {"first_name": "Ana"})]


def test_db_upgrade_on_the_command_line_makes_the_default_record_under_var(
    tmp_path: Path,
) -> None:
    result = bot("db", "upgrade", env={"PARLEY_VAR_DIR": str(tmp_path), "DATABASE_URL": ""})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "record.sqlite3").is_file()
    assert f"is at revision {database.head()}" in result.stdout


def test_processes_upgrading_at_once_all_succeed(record_url: str) -> None:
    env = {"DATABASE_URL": record_url}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "db", "upgrade"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [(run.wait(timeout=120), run.stderr.read() if run.stderr else "") for run in runs]
    assert [code for code, _ in outcomes] == [0, 0, 0, 0], outcomes
    engine = database.connect(record_url)
    try:
        assert database.current(engine) == database.head()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("mysql://root@localhost/parley", "DATABASE_URL must be a postgresql+psycopg://"),
        ("not a url", "DATABASE_URL must be a postgresql+psycopg://"),
    ],
)
def test_a_bad_database_url_is_refused_in_one_line(value: str, said: str) -> None:
    result = bot("db", "upgrade", env={"DATABASE_URL": value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0], result.stderr


def test_a_database_that_does_not_answer_is_one_line_not_a_traceback() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/parley"
    result = bot("db", "upgrade", env={"DATABASE_URL": url})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot use the record" in lines[0], result.stderr


def test_the_worker_and_web_bring_the_record_up_to_date_as_they_start(
    redis_url: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    var = tmp_path / "var"
    processes = Processes(environment(redis_url, emulator, free_port(), var), tmp_path)
    try:
        for name in ("worker", "web"):
            processes.start(name, DATABASE_URL="")
        url = sqlite_url(var)

        def migrated() -> bool:
            if not (var / "record.sqlite3").is_file():
                return False
            engine = database.connect(url)
            try:
                return database.current(engine) == database.head()
            finally:
                engine.dispose()

        wait_until(migrated, 60, "the record to be migrated")
    finally:
        processes.stop()
    for name in ("worker", "web"):
        assert "Traceback" not in processes.log(name), processes.log(name)


def reported(processes: Processes, name: str) -> bool:
    return "cannot be upgraded now" in processes.log(name)


def test_a_record_that_is_down_at_start_is_reported_and_the_processes_run_on(
    redis_url: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/parley"
    port = free_port()
    processes = Processes(environment(redis_url, emulator, port, tmp_path / "var"), tmp_path)
    try:
        web = processes.start("web", DATABASE_URL=dead)
        worker = processes.start("worker", DATABASE_URL=dead)
        for name in ("web", "worker"):
            wait_until(partial(reported, processes, name), 60, f"{name}'s report")
        # Redis is what they need to work: the web process still answers.
        wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), 60, "the web process")
        assert web.poll() is None and worker.poll() is None
    finally:
        processes.stop()
