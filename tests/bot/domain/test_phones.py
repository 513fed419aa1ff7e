"""Phone numbers: E.164, reasons for refusal, time zones, regions."""

from __future__ import annotations

import pytest

from bot.domain import phones


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+1 (415) 555-0123", "US", "+14155550123"),
        ("415.555.0123", "US", "+14155550123"),
        ("020 7183 8750", "GB", "+442071838750"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("  +33 6 12 34 56 78 ", "US", "+33612345678"),
    ],
)
def test_normalize_gives_e164(raw: str, region: str, e164: str) -> None:
    assert phones.normalize(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "required"),
        (None, "required"),
        (4155550123, "must be a string"),
        ("hello", "not a phone number"),
        ("+1 212", "too short"),
        ("+1 415 555 0123 4567 89", "too long"),
        ("+1 555 123 4567", "no such number"),
    ],
)
def test_normalize_says_what_is_wrong(raw, says: str) -> None:
    with pytest.raises(phones.InvalidPhone, match=says):
        phones.normalize(raw, "US")


def test_lenient_mode_accepts_possible_but_unassigned_numbers() -> None:
    assert phones.normalize("+1 555 123 4567", "US", strict=False) == "+15551234567"


@pytest.mark.parametrize(
    ("e164", "zone"),
    [
        ("+14155550123", "America/Los_Angeles"),
        ("+12125550123", "America/New_York"),
        ("+442071838750", "Europe/London"),
        ("+15005550006", "America/Chicago"),  # a number with many zones: the default
    ],
)
def test_timezone_comes_from_the_number_when_it_has_one(e164: str, zone: str) -> None:
    assert phones.timezone_for(e164, "America/Chicago") == zone


def test_region_of_the_business_number() -> None:
    assert phones.region_of("+442071838750") == "GB"
    assert phones.region_of(None, "CA") == "CA"
    assert phones.region_of("garbage", "US") == "US"
