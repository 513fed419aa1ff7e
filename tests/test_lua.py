"""Parley's Redis scripts: one file each, each saying what it takes, each valid Lua."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from bot.storage import lua

SCRIPTS = sorted(path.stem for path in Path(lua.__file__).parent.glob("*.lua"))


def header(name: str) -> str:
    """Return the comment lines a script starts with, joined."""
    lines = lua.source(name).splitlines()
    end = next(number for number, line in enumerate(lines) if not line.startswith("--"))
    return " ".join(lines[:end])


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_names_its_keys_and_arguments(name: str) -> None:
    assert "KEYS" in header(name) and "ARGV" in header(name)


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_compiles_in_redis(name: str, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    sha = client.script_load(lua.source(name))
    assert client.script_exists(sha) == [True]
