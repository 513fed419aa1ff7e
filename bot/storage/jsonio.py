"""JSON for what Parley keeps in Redis: orjson's speed, the standard library's reach."""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS  # enum keys (consent purposes) are written as their value


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """Encode `value` as compact JSON text."""
    option = _OPTIONS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(value, option=option).decode()
    except TypeError:
        # Integers beyond 64 bits or unusual types in event data: the general, slower path.
        return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), default=str)


def loads(text: str | bytes) -> Any:
    """Decode JSON text."""
    return orjson.loads(text)
