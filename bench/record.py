"""Record write throughput: the record stream drained into SQLite and PostgreSQL, against a
plain executemany of the same rows.

Contacts converse with the bot turn after turn: every fifth turn a booking
(`appointment_booked`, a new booking id) starts a run of appointment_confirmation and the contact
answers "maybe" (the retry prompt), then "yes" (confirmed), then asks two questions the
bot answers. Every message Parley sends goes through the Twilio emulator and is then
reported `sent` and `delivered` as Twilio's status callbacks would (the /status
webhook's `advance_status`); nothing drains the record stream meanwhile. The stream is
then copied and, for each round and database, put back under its own ids and drained by
`RecordDrain.run_once` (bot/record/drain.py: batches of up to 500 entries, each written
by `RecordWriter` in one transaction, then acknowledged and deleted) into a fresh,
migrated, empty record, until the stream is empty. Rows/s is the rows the record then
holds (contacts, messages, conversation events, journey runs) divided by the seconds the
drain took. The baseline, in the same run and on the same server, reads those rows back
and inserts them into another fresh, migrated, empty record of the same kind with
SQLAlchemy Core's executemany (`connection.execute(table.insert(), rows)`, one statement
per table, one transaction): what the database alone allows for those rows and indexes.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Table, event, func, select

from bench.harness import BenchRedis, foreign_cpu, foreign_share, machine_cpu, tree_cpu
from bench.report import Section, cpus, ratio, verdict
from bot.config import Settings
from bot.conversation.runner import Inbound
from bot.delivery.sender import Sender
from bot.record import database
from bot.record.drain import BATCH, GROUP, RecordDrain
from bot.record.schema import contacts, conversation_events, journey_runs, messages
from bot.record.writer import Entry as WriterEntry
from bot.record.writer import RecordWriter
from bot.runtime import Runtime
from bot.storage import keys
from sandbox.emulator_server import EmulatorServer
from sandbox.postgres import PostgresNotInstalled, PostgresServer

TARGET = 0.7
TABLES = (contacts, messages, conversation_events, journey_runs)
ANSWERS = {1: "maybe", 2: "yes"}  # to the booking's question, on the turns after it
CALLBACKS = ("sent", "delivered")  # what Twilio reports after accepting a message

# A stream entry as XRANGE gives it: its id and its fields.
Entry = tuple[str, dict[str, str]]


def produce(workdir: Path, contacts_count: int, turns: int) -> list[Entry]:
    """Run the conversations; return the record stream they leave, undrained."""
    with EmulatorServer() as emulator:
        bench_redis = BenchRedis(workdir / "redis-produce").start()
        try:
            settings = Settings(
                twilio_account_sid=emulator.account_sid,
                twilio_auth_token=emulator.auth_token,
                twilio_from_number="+15005550006",
                twilio_api_base=emulator.base_url,
                var_dir=workdir / "var",
            )
            runtime = Runtime(settings, bench_redis.url)
            appointment = (datetime.now(UTC) + timedelta(days=30)).isoformat()
            phones = [f"+1212{4000000 + n:07d}" for n in range(contacts_count)]
            for turn in range(turns):
                for phone in phones:
                    if turn % 5 == 0:
                        booking = {"appointment_at": appointment, "booking_id": f"B{turn}"}
                        runtime.conversations.trigger(phone, "appointment_booked", booking)
                        continue
                    sid = f"SM{turn:04d}{phone[1:]:0>28}"
                    body = ANSWERS.get(turn % 5, f"what are your opening hours? ({turn})")
                    runtime.conversations.receive(Inbound(sid, phone, body))
                Sender(runtime).drain()
                for message in emulator.messages():
                    for status in CALLBACKS:
                        runtime.store.advance_status(message["sid"], status)
                emulator.reset()
            reply: Any = runtime.redis.xrange(keys.RECORD)
            runtime.record.dispose()
        finally:
            bench_redis.stop()
    return [
        (_text(entry_id), {_text(k): _text(v) for k, v in fields.items()})
        for entry_id, fields in reply
    ]


def load(client: redis.Redis, entries: list[Entry]) -> None:
    """Put the stream back as it was produced: the same entries under the same ids."""
    client.delete(keys.RECORD)
    for start in range(0, len(entries), 1000):
        pipe = client.pipeline(transaction=False)
        for entry_id, fields in entries[start : start + 1000]:
            pipe.xadd(keys.RECORD, fields, id=entry_id)  # type: ignore[arg-type]
        pipe.execute()
    client.xgroup_create(keys.RECORD, GROUP, id="0")


class _Nowhere:
    """A writer that writes nothing: what reading, parsing and acknowledging cost alone."""

    def apply(self, entries: Sequence[WriterEntry]) -> None:
        pass


def drain_all(client: redis.Redis, entries: list[Entry], writer: RecordWriter | _Nowhere) -> float:
    """Put the stream back, drain it all through `writer`; return the seconds it took."""
    load(client, entries)
    record_drain = RecordDrain(client, writer, keys.RECORD, "bench")  # type: ignore[arg-type]
    started = time.perf_counter()
    written = 0
    while True:
        count = record_drain.run_once()
        if not count:
            break
        written += count
    seconds = time.perf_counter() - started
    assert written == len(entries), f"drained {written} of {len(entries)} entries"
    assert not client.xlen(keys.RECORD + ":dead"), "the record refused entries"
    return seconds


def drain(
    client: redis.Redis, entries: list[Entry], url: str, statements: Counter[str] | None = None
) -> tuple[float, dict[str, int]]:
    """Drain the stream into the empty record at `url`; return seconds and rows per table.

    `statements`, if given, counts the rows each kind of statement was given
    ("insert contacts", "update messages", "select messages"...) and the transactions.
    """
    engine = database.connect(url)
    if statements is not None:

        def count(connection: Any, statement: Any, multiparams: Any, *_: Any) -> None:
            table = getattr(statement, "table", None)
            if table is None and hasattr(statement, "get_final_froms"):
                table = statement.get_final_froms()[0]
            kind = f"{type(statement).__name__.lower()} {getattr(table, 'name', '')}"
            statements[kind.strip()] += len(multiparams) if multiparams else 1

        def committed(connection: Any) -> None:
            statements["transactions"] += 1

        event.listen(engine, "before_execute", count)
        event.listen(engine, "commit", committed)
    try:
        seconds = drain_all(client, entries, RecordWriter(engine))
        if statements is not None:
            event.remove(engine, "before_execute", count)
            event.remove(engine, "commit", committed)
        return seconds, counts(engine)
    finally:
        engine.dispose()


def counts(engine: Any) -> dict[str, int]:
    """Return the rows each table holds."""
    with engine.connect() as connection:
        return {
            table.name: int(
                connection.execute(select(func.count()).select_from(table)).scalar_one()
            )
            for table in TABLES
        }


def read_rows(url: str) -> dict[Table, list[dict[str, Any]]]:
    """Return every row of the record's tables at `url`."""
    engine = database.connect(url)
    try:
        with engine.connect() as connection:
            return {
                table: [row._asdict() for row in connection.execute(select(table))]
                for table in TABLES
            }
    finally:
        engine.dispose()


def executemany(rows: dict[Table, list[dict[str, Any]]], url: str) -> tuple[float, dict[str, int]]:
    """Insert `rows` into the empty record at `url`; return seconds and rows per table."""
    engine = database.connect(url)
    try:
        with engine.connect():  # the pool's first connection is not timed, as the drain's is
            pass
        started = time.perf_counter()
        with engine.begin() as connection:
            for table, table_rows in rows.items():
                if table_rows:
                    connection.execute(table.insert(), table_rows)
        seconds = time.perf_counter() - started
        return seconds, counts(engine)
    finally:
        engine.dispose()


# What a `*_records` context yields: a function that makes a fresh, migrated, empty record
# and returns its URL; and one that returns the CPU seconds its server has used so far.
Records = tuple[Callable[[str], str], Callable[[], float]]


@contextmanager
def sqlite_records(workdir: Path) -> Iterator[Records]:
    """Yield fresh SQLite records (files, inside this process)."""

    def fresh(name: str) -> str:
        url = f"sqlite:///{workdir / 'sqlite' / name}.sqlite3"
        database.upgrade(url)
        return url

    yield fresh, lambda: 0.0


@contextmanager
def postgres_records() -> Iterator[Records]:
    """Yield fresh PostgreSQL databases, on a server of their own."""
    with PostgresServer() as server:
        made: list[str] = []

        def fresh(name: str) -> str:
            url = server.create_database(name)
            made.append(name)
            database.upgrade(url)
            return url

        def cpu() -> float:
            postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
            return tree_cpu(postmaster)  # the server daemonizes: not one of our descendants

        try:
            yield fresh, cpu
        finally:
            for name in made:
                server.drop_database(name)


def measure(
    client: redis.Redis, entries: list[Entry], records: Records, rounds: int
) -> dict[str, Any]:
    """Drain and insert `rounds` times into fresh records; return the figures."""
    fresh, server_cpu = records
    cpu, server_before, started = foreign_cpu(), server_cpu(), time.perf_counter()
    drains: list[float] = []
    inserts: list[float] = []
    streams: list[float] = []
    rows: dict[str, int] = {}
    for number in range(rounds):
        streams.append(drain_all(client, entries, _Nowhere()))
        drained_url = fresh(f"drained_{number}")
        statements: Counter[str] = Counter()
        seconds, rows = drain(client, entries, drained_url, statements)
        drains.append(seconds)
        copied = read_rows(drained_url)
        seconds, inserted = executemany(copied, fresh(f"inserted_{number}"))
        assert inserted == rows, f"executemany wrote {inserted}, the drain {rows}"
        inserts.append(seconds)
    elapsed = time.perf_counter() - started
    server = server_cpu() - server_before
    cpu = {"machine": machine_cpu() - cpu["machine"], "ours": tree_cpu(os.getpid()) - cpu["ours"]}
    cpu["ours"] += server
    total = sum(rows.values())
    drain_rate = [total / s for s in drains]
    insert_rate = [total / s for s in inserts]
    ratios = [ratio(d, i) for d, i in zip(drain_rate, insert_rate, strict=True)]
    return {
        "rows": rows,
        "total": total,
        "stream_seconds": statistics.median(streams),
        "drain_seconds": statistics.median(drains),
        "insert_seconds": statistics.median(inserts),
        "drain_rate": statistics.median(drain_rate),
        "insert_rate": statistics.median(insert_rate),
        "ratio": statistics.median(ratios),
        "ratios": ratios,
        "foreign": foreign_share(cpu, elapsed, cpus()),
        "statements": dict(statements),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Produce the stream once, then measure each database; return the figures."""
    contacts_count, turns, rounds = (50, 10, 2) if quick else (300, 30, 3)
    result: dict[str, Any] = {"contacts": contacts_count, "turns": turns, "rounds": rounds}
    with tempfile.TemporaryDirectory(prefix="parley-bench-record-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        entries = produce(workdir, contacts_count, turns)
        result["produce_seconds"] = time.perf_counter() - started
        result["entries"] = len(entries)
        result["status_entries"] = sum(1 for _, fields in entries if "m" in fields)
        bench_redis = BenchRedis(workdir / "redis-drain").start()
        try:
            client = bench_redis.client()
            with sqlite_records(workdir) as fresh:
                result["sqlite"] = measure(client, entries, fresh, rounds)
            try:
                with postgres_records() as fresh:
                    result["postgresql"] = measure(client, entries, fresh, rounds)
            except PostgresNotInstalled as exc:
                result["postgresql"] = None
                result["postgresql_missing"] = str(exc)
        finally:
            bench_redis.stop()
    return result


def section(quick: bool, workdir: Path) -> Section:
    """Run the benchmark; return its section of BENCHMARKS.md."""
    result = run(quick)
    out = Section("record", "Record write throughput: the record stream drained vs executemany")
    out.add(
        f"_Run: {'quick' if quick else 'full'}._ " + " ".join(__doc__.strip().split()),
        "",
        f"{result['contacts']} contacts x {result['turns']} turns: "
        f"{result['entries']:,} stream entries, of which "
        f"{result['status_entries']:,} status changes; {result['rounds']} rounds per "
        f"database, medians shown (the ratio is the median of the rounds' ratios); "
        f"drain batches of {BATCH} entries.",
        "",
    )
    names = {"sqlite": "SQLite (file, WAL)", "postgresql": "PostgreSQL (loopback)"}
    table_rows = []
    for key, name in names.items():
        figures = result.get(key)
        if figures is None:
            continue
        rows = figures["rows"]
        shown = f"{figures['total']:,} ({', '.join(f'{rows[t.name]:,}' for t in TABLES)})"
        table_rows.append(
            [
                f"{name}: drain",
                shown,
                f"{figures['drain_seconds']:.2f}",
                f"{figures['drain_rate']:,.0f}",
                f"{figures['ratio']:.2f}",
            ]
        )
        table_rows.append(
            [
                f"{name}: drain, a writer that writes nothing",
                "-",
                f"{figures['stream_seconds']:.2f}",
                "-",
                "-",
            ]
        )
        table_rows.append(
            [
                f"{name}: executemany (baseline)",
                shown,
                f"{figures['insert_seconds']:.2f}",
                f"{figures['insert_rate']:,.0f}",
                "1.00",
            ]
        )
    out.table(
        [
            "database: writer",
            "rows (contacts, messages, events, runs)",
            "seconds",
            "rows/s",
            "vs baseline",
        ],
        table_rows,
    )
    notes: list[str] = []
    for key, name in names.items():
        figures = result.get(key)
        if figures is None:
            out.add(f"**{name}: not measured** ({result.get('postgresql_missing')}).", "")
            out.failures.append(f"{key} not measured")
            continue
        rounds = ", ".join(f"{r:.2f}" for r in figures["ratios"])
        writer = figures["drain_seconds"] - figures["stream_seconds"]
        out.add(
            f"**{name}: drain / executemany {figures['ratio']:.2f}** (target >= {TARGET:g}: "
            f"{verdict(figures['ratio'], TARGET)}); per round: {rounds}. Reading, parsing "
            f"and acknowledging the stream alone take {figures['stream_seconds']:.2f} s, "
            f"so even a writer costing nothing would reach "
            f"{ratio(figures['insert_seconds'], figures['stream_seconds']):.2f}; the writer's "
            f"own share, about {writer:.2f} s, is "
            f"{ratio(writer, figures['insert_seconds']):.1f}x the executemany.",
            "",
        )
        notes.append(
            f"- {name}: processes not started by the benchmark used {figures['foreign']:.0%} "
            "of the machine's CPU while it measured (well above 0% means the figures are "
            "noisy)."
        )
    figures = result.get("sqlite") or result.get("postgresql")
    if figures:
        done = figures["statements"]
        writes = {k: v for k, v in done.items() if k.split()[0] in ("insert", "update")}
        shown = ", ".join(f"{k} {v:,}" for k, v in sorted(writes.items()))
        reads = sum(v for k, v in done.items() if k.startswith("select"))
        notes.insert(
            0,
            f"- Row writes: the drain gave the database {sum(writes.values()):,} rows to "
            f"write ({shown}) for the {figures['total']:,} rows it ends with, in "
            f"{done.get('transactions', 0)} transactions, plus {reads} reads of rows "
            f"already written; executemany gives it each row once, in one transaction.",
        )
        rows = figures["rows"]
        notes.insert(
            1,
            "- Why: a contact's row is rewritten by every batch holding one of its commits "
            f"({done.get('insert contacts', 0):,} writes for {rows['contacts']:,} contacts); "
            "a message's row is written when it is created and its status columns updated "
            "again by a later batch bringing its status changes (the sender's accepted and "
            "Twilio's sent and delivered come after the commit: "
            f"{done.get('update messages', 0):,} updates for "
            f"{rows['messages']:,} messages); a run's row is rewritten at every commit that "
            f"moves it ({done.get('insert journey_runs', 0):,} writes for "
            f"{rows['journey_runs']:,} runs); and each batch first reads back the messages "
            "and runs it changes (SELECT ... FOR UPDATE on PostgreSQL) to merge statuses and "
            "steps in any order. The record keeps a message's status and history, a "
            "contact and a run as one row each, so these rewrites cannot go without a schema "
            "change. Status changes as rows of their own (a message_statuses table, insert "
            "only, the current status read as the furthest of them) would make every status "
            "change one inserted row and drop the updates and most of the reads; contacts "
            "and runs would still be rewritten. And no writer can bring the drain under the "
            "cost of reading the stream, shown above for each database.",
        )
    out.add(*notes, "")
    return out


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


if __name__ == "__main__":
    print(section(quick=True, workdir=Path(tempfile.gettempdir())).markdown())
