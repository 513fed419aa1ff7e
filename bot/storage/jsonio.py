"""JSON for what Parley keeps in Redis: orjson's speed, the standard library's reach."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS  # enum keys (consent purposes) are written as their value


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """Encode `value` as compact JSON text."""
    option = _OPTIONS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(value, option=option).decode()
    except TypeError:
        # Integers beyond 64 bits or unusual types in event data: the general, slower path,
        # writing what orjson reads back (an infinity is null, as orjson writes it).
        return json.dumps(_finite(value), sort_keys=sort_keys, separators=(",", ":"), default=str)


def _finite(value: Any) -> Any:
    """Return `value` with every infinite or NaN float as None: JSON has no word for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def loads(text: str | bytes) -> Any:
    """Decode JSON text (and the Infinity and NaN the standard library once wrote)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
