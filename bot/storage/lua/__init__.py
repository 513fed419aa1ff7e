"""Parley's Redis scripts, one Lua file each, whose header names its KEYS and ARGV.

Every key a script touches comes in KEYS; TTLs and leases come in ARGV. Each script is
read and hashed once per process and called through bot.storage.scripts.ScriptRunner.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent


@dataclass(frozen=True)
class Script:
    """A Lua script and the SHA1 that Redis caches it under."""

    name: str
    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())


def names() -> list[str]:
    """Return the names of every script in this folder."""
    return sorted(path.stem for path in _HERE.glob("*.lua"))


@cache
def script(name: str) -> Script:
    """Return the script `name` (this folder's `<name>.lua`), read once."""
    return Script(name, (_HERE / f"{name}.lua").read_text())


def source(name: str) -> str:
    """Return the Lua source of the script `name`."""
    return script(name).source
