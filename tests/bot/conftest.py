"""Fixtures for tests of what the record keeps: an empty record on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.record import database


@pytest.fixture(params=["sqlite", "postgresql"])
def record_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty record: a SQLite file, or a database on the suite's own PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'record.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(record_url: str) -> Iterator[Engine]:
    """The record at `record_url`, its schema up to date."""
    database.upgrade(record_url)
    engine = database.connect(record_url)
    yield engine
    engine.dispose()
