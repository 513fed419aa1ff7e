"""The suite's own PostgreSQL server: real, reached through SQLAlchemy, a database per test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, create_engine, text
from sqlalchemy import inspect as inspect_db

from sandbox import postgres
from sandbox.postgres import PostgresNotInstalled, PostgresServer, find_bin_dir

# Names of the databases the runs of the parametrized test below were given.
SEEN: list[str] = []


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url)
    yield engine
    # Close pooled connections before the fixture drops the database.
    engine.dispose()


def test_sqlalchemy_creates_a_table_and_reads_back_a_row(engine: Engine) -> None:
    metadata = MetaData()
    notes = Table(
        "notes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("body", String(200), nullable=False),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(notes.insert(), [{"body": "See you at 3pm"}])
    with engine.connect() as conn:
        rows = conn.execute(notes.select()).all()
    assert [tuple(row) for row in rows] == [(1, "See you at 3pm")]
    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")


@pytest.mark.parametrize("run", ["first", "second"])
def test_each_test_gets_its_own_empty_database(
    engine: Engine, postgres_server: PostgresServer, run: str
) -> None:
    with engine.begin() as conn:
        name = conn.execute(text("SELECT current_database()")).scalar_one()
        assert inspect_db(conn).get_table_names() == []
        # Left behind on purpose: had the other run shared this database, it would see it.
        conn.execute(text("CREATE TABLE leftover (id integer)"))
    assert name not in SEEN
    with postgres_server.connect() as admin:
        existing = {row[0] for row in admin.execute("SELECT datname FROM pg_database")}
    assert name in existing
    assert existing.isdisjoint(SEEN), "an earlier test's database was not dropped"
    SEEN.append(name)


def test_server_is_the_suites_own_not_the_machines(
    engine: Engine, postgres_server: PostgresServer
) -> None:
    assert engine.url.host == "127.0.0.1"
    assert engine.url.port == postgres_server.port != 5432
    with engine.connect() as conn:
        setting = {
            name: conn.execute(text(f"SHOW {name}")).scalar_one()
            for name in ("port", "data_directory", "fsync", "synchronous_commit")
        }
    assert int(setting["port"]) == postgres_server.port
    assert Path(setting["data_directory"]).resolve() == postgres_server.data_dir.resolve()
    assert (setting["fsync"], setting["synchronous_commit"]) == ("off", "off")


def test_start_failure_reports_the_server_log(monkeypatch: pytest.MonkeyPatch) -> None:
    # A port someone else holds, every time: the server cannot bind it and exits at once.
    with socket.create_server(("127.0.0.1", 0)) as taken:
        monkeypatch.setattr(postgres, "_free_port", lambda: taken.getsockname()[1])
        server = PostgresServer()
        with pytest.raises(RuntimeError, match=r"(?s)pg_ctl start failed.*server log.*bind"):
            server.start()
    assert server.root is None


def test_a_port_taken_before_the_server_binds_it_is_given_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        ports = iter([taken.getsockname()[1], postgres._free_port()])
        monkeypatch.setattr(postgres, "_free_port", lambda: next(ports))
        with PostgresServer() as server:
            assert server.port != taken.getsockname()[1]
            with server.connect() as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_halted_server_refuses_and_resumes_on_its_port_with_its_data() -> None:
    with PostgresServer() as server:
        url = server.create_database("kept")
        with server.connect("kept") as conn:
            conn.execute("CREATE TABLE notes (body text)")
            conn.execute("INSERT INTO notes VALUES ('See you at 3pm')")
        port = server.port
        server.halt()
        with pytest.raises(psycopg.OperationalError):
            server.connect("kept").close()
        server.resume()
        assert server.port == port and url == server.url("kept")
        with server.connect("kept") as conn:
            assert conn.execute("SELECT body FROM notes").fetchall() == [("See you at 3pm",)]


def test_missing_binaries_name_the_package_to_install(tmp_path: Path) -> None:
    with pytest.raises(PostgresNotInstalled, match="Debian package `postgresql`"):
        find_bin_dir(path=str(tmp_path), lib_root=tmp_path)


def test_the_newest_debian_installation_wins(tmp_path: Path) -> None:
    for version in ("9.6", "15", "16"):
        bin_dir = tmp_path / version / "bin"
        bin_dir.mkdir(parents=True)
        for tool in ("initdb", "pg_ctl"):
            (bin_dir / tool).touch(mode=0o755)
    assert find_bin_dir(path=str(tmp_path), lib_root=tmp_path) == tmp_path / "16" / "bin"
