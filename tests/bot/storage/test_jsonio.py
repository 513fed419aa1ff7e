"""JSON for Redis values: fast for the usual, still correct for the unusual."""

from __future__ import annotations

import json
from enum import StrEnum

from bot.storage import jsonio


class Purpose(StrEnum):
    MARKETING = "marketing"


def test_round_trip_with_enum_keys_and_unicode() -> None:
    value = {Purpose.MARKETING: {"granted": True}, "text": "sí 👍", "n": [1, 2.5, None]}
    assert jsonio.loads(jsonio.dumps(value)) == {
        "marketing": {"granted": True},
        "text": "sí 👍",
        "n": [1, 2.5, None],
    }


def test_sorted_keys_give_one_encoding_per_value() -> None:
    assert jsonio.dumps({"b": 1, "a": 2}, sort_keys=True) == jsonio.dumps(
        {"a": 2, "b": 1}, sort_keys=True
    )


def test_integers_beyond_64_bits_still_encode() -> None:
    data = {"order_id": 2**70, "ok": True}
    assert json.loads(jsonio.dumps(data)) == data
