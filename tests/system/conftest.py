"""Fixtures for the system tests: where a deployment keeps its record."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def record_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The record a deployment writes: the default SQLite file under its var folder, or a
    database of the test's own on the suite's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'record.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def record_env(record_url: str) -> dict[str, str]:
    """The environment that points a deployment at `record_url`: nothing for the default."""
    return {} if record_url.startswith("sqlite") else {"DATABASE_URL": record_url}
