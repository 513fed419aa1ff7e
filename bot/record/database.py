"""Reaching the record and bringing its schema up to date with Alembic."""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import tzinfo
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, make_url, select, text
from sqlalchemy.exc import DBAPIError

from bot.record import rollups
from bot.record.schema import journey_counts, journey_runs, messages

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed number: the PostgreSQL advisory lock that one migrating process holds.
MIGRATION_LOCK = 0x7061726C  # "parl"


def shown(url: str) -> str:
    """Return the URL fit for a log line: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def connect(url: str) -> Engine:
    """Return an engine for the record at `url` (creating a SQLite file's folder)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, hide_parameters=True, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A host that does not answer fails in seconds, not after the system's TCP timeout.
    # hide_parameters: an error's message names no phone number or message text in the log.
    return create_engine(
        parsed,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args={"connect_timeout": 10},
    )


def _sqlite_pragmas(dbapi_connection: object, _: object) -> None:
    # WAL lets the web process read while the worker writes.
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def head() -> str:
    """Return the newest revision the migrations know."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None, "the record has no migrations"
    return revision


def current(engine: Engine) -> str | None:
    """Return the revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str, zone: tzinfo | None = None) -> str:
    """Bring the record at `url` to the newest revision; return it.

    Safe to run from several processes at once (web and worker starting together):
    one migrates while the others wait, then find nothing left to do. Given the
    business's time zone, it also counts the journeys' figures of a record written
    before they were kept (its rollups empty, its history not).
    """
    engine = connect(url)
    try:
        with _migration_lock(engine) as connection:
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
            if zone is not None and _figures_missing(connection):
                log.info("counting the journeys' figures of the record at %s", shown(url))
                rollups.rebuild(engine, zone)
        revision = current(engine)
    finally:
        engine.dispose()
    assert revision is not None
    return revision


def _figures_missing(connection: Connection) -> bool:
    """Say whether the record holds history but no analytics rollups."""
    counted = connection.execute(select(journey_counts.c.day).limit(1)).first()
    history = (
        connection.execute(select(messages.c.id).limit(1)).first()
        or connection.execute(select(journey_runs.c.id).limit(1)).first()
    )
    connection.commit()
    return counted is None and history is not None


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """Yield a connection while holding the record's migration lock."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
            try:
                yield connection
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        with engine.connect() as connection:
            yield connection
        return
    # SQLite has no advisory locks: a lock file beside the database serves.
    with open(f"{database}.migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with engine.connect() as connection:
            yield connection


def upgrade_at_start(url: str, zone: tzinfo | None = None) -> bool:
    """Upgrade the record as a process starts; log and go on if the database is down.

    Web and worker need Redis to work, not the record: a database that is down at start
    is reported, and the next start (or `python -m bot db upgrade`) migrates it.
    """
    try:
        revision = upgrade(url, zone)
    except (DBAPIError, OSError) as exc:
        log.error("the record at %s cannot be upgraded now: %s", shown(url), exc)
        return False
    log.info("the record at %s is at revision %s", shown(url), revision)
    return True


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config
