"""Parley's Redis scripts, one Lua file each, whose header names its KEYS and ARGV."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import redis
from redis.commands.core import Script

_HERE = Path(__file__).parent


@cache
def source(name: str) -> str:
    """Return the Lua source of the script `name` (this folder's `<name>.lua`)."""
    return (_HERE / f"{name}.lua").read_text()


def register(client: redis.Redis, name: str) -> Script:
    """Return the script `name`, ready to call on `client` (sent by its SHA1 once cached)."""
    return client.register_script(source(name))
