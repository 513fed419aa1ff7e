"""The record under faults: counted row by row against what Redis committed.

The Procfile's web, worker and recorder run against the suite's Redis, the emulator and
PostgreSQL; a recorder dies mid-batch, loses Redis between writing a batch and
acknowledging it, or PostgreSQL stops under load. Every text must still be answered, and
once the stream is empty the record must hold each message, with its final status, and
each event exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from sqlalchemy import Connection, Engine, select, text

from bot.record import database
from bot.record.drain import GROUP
from bot.record.schema import contacts, conversation_events, messages
from bot.record.times import moment
from bot.storage import jsonio, keys, redis_server
from bot.storage.store import Store
from sandbox.emulator_server import EmulatorServer
from sandbox.postgres import PostgresNotInstalled, PostgresServer
from tests.processes import Parley, deployment, wait_until
from tests.redis_proxy import RedisProxy

PHONES = [f"+1415555{n:04d}" for n in range(2000, 2024)]
ROUNDS = 9  # texts per phone: with their replies 18 messages, all inside Redis' window
FINAL = ("delivered", "undelivered", "failed")
RECORDED_TABLES = "contacts, messages, conversation_events, journey_runs"


def text_all(parley: Parley, phones: list[str], rounds: Iterable[int]) -> int:
    """Text from every phone at once, each phone its texts in turn; each must get a 200."""
    numbers = list(rounds)

    def converse(phone: str) -> int:
        person = Parley(parley.base, parley.auth_token, phone)
        for number in numbers:
            answer = person.text(f"question {number}")
            assert answer.status_code == 200, (phone, number, answer.status_code, answer.text)
        return len(numbers)

    with ThreadPoolExecutor(len(phones)) as pool:
        return sum(pool.map(converse, phones))


def health(parley: Parley) -> dict[str, Any]:
    answer = requests.get(f"{parley.base}/healthz", timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


def settled(client: redis.Redis, phones: list[str]) -> bool:
    """Say whether every reply has its final status and the record has copied it all.

    Statuses first: a status and its stream entry are written together, so once every
    reply's is final, an empty stream means the record holds them.
    """
    store = Store(client)
    for phone in phones:
        replies = [m for m in store.messages(phone) if m.direction == "outbound"]
        if not replies or any(m.status not in FINAL for m in replies):
            return False
    return client.xlen(keys.RECORD) == 0


def utc(value: datetime) -> datetime:
    """Return a time read from the record in UTC (SQLite gives it without its zone)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def committed(client: redis.Redis, phones: list[str]) -> dict[str, Any]:
    """Return what Redis holds of these contacts, in the record's terms."""
    store = Store(client)
    held: dict[str, Any] = {"contacts": sorted(client.zrange(keys.CONTACTS, 0, -1))}
    for phone in phones:
        held[phone] = {
            "messages": sorted(
                (m.id, str(m.direction), m.body, str(m.status)) for m in store.messages(phone)
            ),
            "events": sorted((e["type"], moment(e["at"])) for e in store.events(phone)),
        }
    return held


def recorded(url: str, phones: list[str]) -> dict[str, Any]:
    """Return what the record holds of these contacts, in the same form as committed()."""
    engine = database.connect(url)
    try:
        with engine.connect() as connection:
            held: dict[str, Any] = {
                "contacts": sorted(connection.execute(select(contacts.c.phone)).scalars())
            }
            names = ("phone", "id", "direction", "body", "status")
            rows = connection.execute(select(*(messages.c[name] for name in names))).all()
            events = connection.execute(
                select(*(conversation_events.c[name] for name in ("phone", "type", "at")))
            ).all()
    finally:
        engine.dispose()
    for phone in phones:
        held[phone] = {
            "messages": sorted(tuple(row)[1:] for row in rows if row.phone == phone),
            "events": sorted((row.type, utc(row.at)) for row in events if row.phone == phone),
        }
    strays = {row.phone for row in [*rows, *events]} - set(phones)
    assert not strays, f"the record holds rows of contacts nobody texted: {strays}"
    return held


def assert_record_matches_redis(client: redis.Redis, url: str, texts: int) -> None:
    """Compare the record with Redis contact by contact, once everything has settled."""
    wait_until(lambda: settled(client, PHONES), 40, "the replies' final statuses, all recorded")
    truth = committed(client, PHONES)
    assert truth["contacts"] == sorted(PHONES)
    for phone in PHONES:  # Redis still holds every message: nothing was trimmed yet
        inbound = [m for m in truth[phone]["messages"] if m[1] == "inbound"]
        assert len(inbound) == texts, (phone, len(inbound))
    record = recorded(url, PHONES)
    assert record["contacts"] == truth["contacts"]
    for phone in PHONES:
        assert record[phone]["messages"] == truth[phone]["messages"], phone
        assert record[phone]["events"] == truth[phone]["events"], phone
    assert client.xpending(keys.RECORD, GROUP)["pending"] == 0


def unfinished(client: redis.Redis) -> dict[str, int]:
    """Return how many entries each consumer of the record's group has read and not written."""
    reply: Any = client.xpending(keys.RECORD, GROUP)
    return {c["name"]: int(c["pending"]) for c in reply["consumers"] if int(c["pending"])}


def waiting_on_a_lock(record: Engine) -> int:
    """Return how many sessions of the record's database wait for a lock."""
    with record.connect() as connection:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(connection.execute(query).scalar_one())


def hold_the_tables(record: Engine) -> Connection:
    """Lock the tables the recorder writes (reads may go on) until the connection ends."""
    connection = record.connect()
    connection.execute(text(f"LOCK TABLE {RECORDED_TABLES} IN EXCLUSIVE MODE"))
    return connection


def stuck_batch(client: redis.Redis, record: Engine) -> dict[str, int] | None:
    """Return who holds a batch read and unwritten, once a recorder waits on the lock."""
    held = unfinished(client)
    return held if held and waiting_on_a_lock(record) else None


def messages_in(client: redis.Redis, entry_ids: list[str]) -> set[str]:
    """Return the ids of the messages the commits among these stream entries carry."""
    found = set()
    for entry_id in entry_ids:
        entries: Any = client.xrange(keys.RECORD, entry_id, entry_id)
        for _, fields in entries:
            if "c" in fields:
                found |= {m["id"] for m in jsonio.loads(fields["c"]).get("messages", ())}
    return found


def recorded_ids(record: Engine, ids: set[str]) -> set[str]:
    with record.connect() as connection:
        query = select(messages.c.id).where(messages.c.id.in_(sorted(ids)))
        return set(connection.execute(query).scalars())


@pytest.fixture
def record(postgres_url: str) -> Iterator[Engine]:
    """The test's own database on the suite's PostgreSQL, for a deployment's record."""
    engine = database.connect(postgres_url)
    yield engine
    engine.dispose()


def test_a_recorder_killed_mid_batch_and_one_cut_off_before_its_ack_leave_the_record_whole(
    redis_url: str,
    emulator: EmulatorServer,
    tmp_path: Path,
    postgres_url: str,
    record: Engine,
    proxy: RedisProxy,
) -> None:
    client = redis_server.connect(redis_url)
    env = {"DATABASE_URL": postgres_url, "RECORD_CLAIM_AFTER": "1"}
    with deployment(redis_url, emulator, tmp_path, recorders=0, env=env) as (parley, processes):
        doomed = processes.start("recorder")
        texts = text_all(parley, PHONES, range(3))
        wait_until(lambda: recorded_ids(record, {m.id for m in Store(client).messages(PHONES[0])}))

        # The next batch waits on the tables mid-transaction, and its recorder dies there.
        blocker = hold_the_tables(record)
        texts += text_all(parley, PHONES, range(3, 6))
        held = wait_until(lambda: stuck_batch(client, record), 20, "a batch to wait on the lock")
        processes.kill(doomed)
        killed_at = time.monotonic()
        assert unfinished(client) == held  # the dead recorder's batch is left pending
        blocker.close()

        # Its restart reads under a new name: it claims the batch once RECORD_CLAIM_AFTER
        # has passed, long before the default 30 s would have.
        processes.start("recorder", REDIS_URL=proxy.url)
        texts += text_all(parley, PHONES, range(6, 8))
        (dead,) = held
        wait_until(
            lambda: dead not in unfinished(client),
            killed_at + 25 - time.monotonic(),
            "the dead recorder's batch to be claimed",
        )

        # A batch is written, and Redis goes away before it is acknowledged: the recorder
        # writes it again once Redis is back.
        blocker = hold_the_tables(record)
        texts += text_all(parley, PHONES, range(8, ROUNDS))
        wait_until(lambda: stuck_batch(client, record), 20, "a batch to wait on the lock")
        pending: Any = client.xpending_range(keys.RECORD, GROUP, "-", "+", 10_000)
        batch = messages_in(client, [p["message_id"] for p in pending])
        assert batch
        proxy.down(4.0)
        blocker.close()
        wait_until(
            lambda: recorded_ids(record, batch) == batch and unfinished(client),
            5,
            "the batch written but not acknowledged",
        )

        assert texts == len(PHONES) * ROUNDS
        assert_record_matches_redis(client, postgres_url, ROUNDS)
        assert health(parley)["record"]["behind"] == 0
        assert all(p.poll() is None for p in processes.running["recorder"][1:])


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for one test alone, which may stop it."""
    try:
        server = PostgresServer()
    except PostgresNotInstalled as error:
        raise pytest.fail.Exception(str(error), pytrace=False) from None
    with server:
        yield server


def test_the_record_catches_up_after_postgres_stopped_under_load(
    redis_url: str, emulator: EmulatorServer, tmp_path: Path, own_postgres: PostgresServer
) -> None:
    client = redis_server.connect(redis_url)
    url = own_postgres.create_database("parley")
    with deployment(redis_url, emulator, tmp_path, recorders=1, DATABASE_URL=url) as (
        parley,
        processes,
    ):
        texts = text_all(parley, PHONES, range(3))
        own_postgres.halt()
        # Texts keep coming and are answered: nothing on their way waits for the record.
        down_since, rounds = time.monotonic(), 3
        while time.monotonic() - down_since < 3 and rounds < ROUNDS - 1:
            texts += text_all(parley, PHONES, [rounds])
            rounds += 1
        assert rounds > 3
        assert health(parley)["record"]["behind"] > 0
        # The recorder keeps trying, and keeps failing, while the database is down.
        wait_until(lambda: processes.log("recorder").count("cannot copy to the record") >= 2)
        own_postgres.resume()
        texts += text_all(parley, PHONES, range(rounds, ROUNDS))

        assert texts == len(PHONES) * ROUNDS
        assert_record_matches_redis(client, url, ROUNDS)
        assert health(parley)["record"]["behind"] == 0
        (recorder,) = processes.running["recorder"]
        assert recorder.poll() is None
