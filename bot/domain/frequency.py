"""Frequency caps: how many marketing messages a contact may get in a rolling window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_CAP = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*([mhdw])\s*")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Cap:
    """At most `count` marketing messages in any `window`."""

    count: int
    window: timedelta

    @classmethod
    def parse(cls, text: str) -> Cap:
        """Read `3/24h` (units m, h, d, w); ValueError says what is wrong."""
        found = _CAP.fullmatch(text)
        if not found:
            raise ValueError(f"must be a count and a window like 3/24h or 10/7d, not {text!r}")
        count, amount, unit = int(found[1]), int(found[2]), found[3]
        if count == 0 or amount == 0:
            raise ValueError(f"{text!r} allows nothing: count and window must be above 0")
        return cls(count, timedelta(seconds=amount * _UNITS[unit]))

    def __str__(self) -> str:
        seconds = int(self.window.total_seconds())
        for unit, size in reversed(_UNITS.items()):
            if seconds % size == 0:
                return f"{self.count}/{seconds // size}{unit}"
        return f"{self.count}/{seconds}s"
