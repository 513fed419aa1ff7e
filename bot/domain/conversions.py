"""A conversion's money: the `total` and `currency` a business event reports.

Revenue is summed per currency, never converted: an amount is kept as the decimal text
it arrived as (a float would round it), its currency as an ISO 4217 code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

CURRENCY = re.compile(r"[A-Z]{3}")
LARGEST = Decimal("1e12")  # a single order above this is a mistake, not revenue


def revenue_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return (field, problem) for each money field of a conversion's data that is wrong."""
    problems = []
    if "total" in data and total_of(data) is None:
        problems.append(("data.total", "must be a number from 0 up, such as 42.50"))
    currency = data.get("currency")
    if currency is not None and not (
        isinstance(currency, str) and CURRENCY.fullmatch(currency.strip().upper())
    ):
        problems.append(("data.currency", "must be a three-letter currency code such as USD"))
    return problems


def total_of(data: Mapping[str, Any]) -> str | None:
    """Return the data's `total` as decimal text, or None when it is missing or not money."""
    raw = data.get("total")
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        amount = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount >= LARGEST:
        return None
    return str(amount)


def currency_of(data: Mapping[str, Any], default: str) -> str | None:
    """Return the data's currency code, upper-cased (`default` when it names none)."""
    raw = data.get("currency")
    if raw is None:
        return default
    code = raw.strip().upper() if isinstance(raw, str) else ""
    return code if CURRENCY.fullmatch(code) else None
