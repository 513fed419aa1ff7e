"""The record in a real deployment: the Procfile's processes, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import requests
from sqlalchemy import select

from bot.record import database
from bot.record.schema import contacts, messages
from sandbox.emulator_server import EmulatorServer
from tests.processes import deployment, wait_until


def record_of(url: str, phone: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Return the contacts and the (direction, status) of the messages the record holds."""
    engine = database.connect(url)
    try:
        with engine.connect() as connection:
            people = connection.execute(select(contacts.c.phone)).scalars().all()
            rows = connection.execute(
                select(messages.c.direction, messages.c.status).where(messages.c.phone == phone)
            ).all()
    finally:
        engine.dispose()
    return list(people), sorted((row.direction, row.status) for row in rows)


def test_a_conversation_reaches_the_record_with_its_final_statuses(
    redis_url: str,
    emulator: EmulatorServer,
    tmp_path: Path,
    record_url: str,
    record_env: dict[str, str],
) -> None:
    with deployment(redis_url, emulator, tmp_path, recorders=1, env=record_env) as (parley, _):
        assert parley.text("hello").status_code == 200
        expected = [parley.phone], [("inbound", "received"), ("outbound", "delivered")]
        wait_until(lambda: record_of(record_url, parley.phone) == expected, 30, "the record")
        health = requests.get(f"{parley.base}/healthz", timeout=5).json()
        assert health["status"] == "ok" and health["record"]["behind"] == 0
