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


def test_a_value_orjson_cannot_write_is_still_written_as_json_it_can_read() -> None:
    # A 70-bit integer sends it down the standard library's path, which would write an
    # infinity as -Infinity: JSON no reader here (orjson, Lua's cjson) takes.
    value = {"big": 2**70, "low": float("-inf"), "nested": [{"high": float("inf")}]}
    assert jsonio.loads(jsonio.dumps(value)) == {
        "big": 2**70,
        "low": None,
        "nested": [{"high": None}],
    }


def test_an_infinity_written_before_is_still_read() -> None:
    assert jsonio.loads('{"low":-Infinity,"n":1}') == {"low": float("-inf"), "n": 1}
