"""Tests for what an SMS costs: its encoding, length and number of segments."""

from __future__ import annotations

import pytest

from flows.sms import segments


@pytest.mark.parametrize(
    ("text", "encoding", "length", "count"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),
        ("[]" * 41, "GSM-7", 164, 2),
        ("é" * 160, "GSM-7", 160, 1),
        ("á" * 70, "UCS-2", 70, 1),
        ("á" * 71, "UCS-2", 71, 2),
        ("á" * 134, "UCS-2", 134, 2),
        ("á" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),
    ],
)
def test_sms_segments(text: str, encoding: str, length: int, count: int) -> None:
    cost = segments(text)
    assert (cost.encoding, cost.length, cost.count) == (encoding, length, count)
