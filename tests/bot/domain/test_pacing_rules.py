"""Quiet-hour windows, frequency caps and state rules, as the settings and the sender read them."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings, SettingsError
from bot.domain.frequency import Cap
from bot.domain.quiet_hours import QuietHours, next_allowed
from bot.domain.state_rules import state_rule

TCPA = QuietHours(time(21), time(8))
FLORIDA = QuietHours(time(20), time(8))
NEW_YORK = ZoneInfo("America/New_York")


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


@pytest.mark.parametrize(
    ("at", "allowed"),
    [
        ((2026, 12, 1, 20, 59), None),  # just before
        ((2026, 12, 1, 21, 0), (2026, 12, 2, 8, 0)),  # the window starts
        ((2026, 12, 1, 23, 30), (2026, 12, 2, 8, 0)),
        ((2026, 12, 2, 3, 0), (2026, 12, 2, 8, 0)),  # after midnight: the same morning
        ((2026, 12, 2, 7, 59), (2026, 12, 2, 8, 0)),
        ((2026, 12, 2, 8, 0), None),  # 08:00 itself is allowed
    ],
)
def test_a_window_that_wraps_midnight(at, allowed) -> None:
    found = next_allowed(local(NEW_YORK, *at), NEW_YORK, (TCPA,))
    expected = None if allowed is None else local(NEW_YORK, *allowed).astimezone(UTC)
    assert found == expected


def test_the_stricter_of_two_windows_holds() -> None:
    evening = local(NEW_YORK, 2026, 12, 1, 20, 15)
    assert next_allowed(evening, NEW_YORK, (TCPA,)) is None
    assert next_allowed(evening, NEW_YORK, (TCPA, FLORIDA)) == local(
        NEW_YORK, 2026, 12, 2, 8, 0
    ).astimezone(UTC)


def test_windows_that_follow_one_another_are_waited_out_together() -> None:
    night = QuietHours(time(22), time(7))
    early = QuietHours(time(7), time(9))
    found = next_allowed(local(NEW_YORK, 2026, 12, 1, 23, 0), NEW_YORK, (night, early))
    assert found == local(NEW_YORK, 2026, 12, 2, 9, 0).astimezone(UTC)


def test_a_daytime_window() -> None:
    lunch = QuietHours(time(12), time(13, 30))
    found = next_allowed(local(NEW_YORK, 2026, 12, 1, 12, 45), NEW_YORK, (lunch,))
    assert found == local(NEW_YORK, 2026, 12, 1, 13, 30).astimezone(UTC)


def test_the_morning_after_a_clock_change_is_local_eight() -> None:
    # Clocks go back on 1 Nov 2026 in New York: the night is an hour longer in UTC.
    found = next_allowed(local(NEW_YORK, 2026, 10, 31, 22, 0), NEW_YORK, (TCPA,))
    assert found is not None and found.astimezone(NEW_YORK).time() == time(8)
    assert found - local(NEW_YORK, 2026, 10, 31, 22, 0) == timedelta(hours=11)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("late", "like 21:00-08:00"),
        ("25:00-08:00", "00:00 to 23:59"),
        ("08:00-08:00", "same time"),
    ],
)
def test_quiet_hours_that_make_no_sense_stop_start_up(text: str, error: str) -> None:
    with pytest.raises(SettingsError, match=f"QUIET_HOURS .*{error}"):
        Settings.from_env({"QUIET_HOURS": text})


def test_settings_read_quiet_hours_and_a_cap() -> None:
    settings = Settings.from_env({"QUIET_HOURS": "20:30-07:15", "FREQUENCY_CAP": "4 / 7d"})
    assert settings.quiet_hours == QuietHours(time(20, 30), time(7, 15))
    assert settings.frequency_cap == Cap(4, timedelta(days=7))
    defaults = Settings.from_env({})
    assert str(defaults.quiet_hours) == "21:00-08:00"
    assert defaults.frequency_cap is None


@pytest.mark.parametrize(
    ("text", "error"), [("3", "like 3/24h"), ("0/24h", "allows nothing"), ("3/24x", "like 3/24h")]
)
def test_a_cap_that_makes_no_sense_stops_start_up(text: str, error: str) -> None:
    with pytest.raises(SettingsError, match=f"FREQUENCY_CAP .*{error}"):
        Settings.from_env({"FREQUENCY_CAP": text})


@pytest.mark.parametrize(
    ("phone", "state"),
    [
        ("+13055550123", "FL"),  # Miami
        ("+19045550123", "FL"),  # Jacksonville
        ("+14055550123", "OK"),  # Oklahoma City
        ("+19185550123", "OK"),  # Tulsa
        ("+14155550123", None),  # San Francisco
        ("+447700900123", None),  # not North American
    ],
)
def test_state_rules_by_area_code(phone: str, state: str | None) -> None:
    rule = state_rule(phone)
    assert (rule.state if rule else None) == state
    if rule is not None:
        assert rule.quiet == FLORIDA and rule.cap == Cap(3, timedelta(hours=24))


def test_a_window_ending_in_the_repeated_hour_of_a_fall_back_night_ends_ahead() -> None:
    # Clocks go back at 02:00 on 1 Nov 2026 in New York: 01:00-02:00 happens twice. At 01:10
    # the second time (06:10 UTC), a window ending 01:30 ends at 01:30 still to come.
    late = QuietHours(time(21), time(1, 30))
    now = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)
    found = next_allowed(now, NEW_YORK, (late,))
    assert found is not None and found > now
    assert found == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
