"""State telemarketing rules stricter than the TCPA, presumed from a number's area code.

Florida (Fla. Stat. 501.059) and Oklahoma (15 O.S. 775C) allow solicitations from 8 a.m.
to 8 p.m. only, and at most three in 24 hours on the same subject, and presume a resident
from the area code. To add a state: its area codes, its quiet window, its cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

from bot.domain.frequency import Cap
from bot.domain.quiet_hours import QuietHours


@dataclass(frozen=True)
class StateRule:
    """What one state adds on top of QUIET_HOURS and FREQUENCY_CAP."""

    state: str  # its postal code
    name: str
    area_codes: frozenset[str]
    quiet: QuietHours
    cap: Cap | None


_EIGHT_TO_EIGHT = QuietHours(time(20), time(8))
_THREE_A_DAY = Cap(3, timedelta(hours=24))

STATE_RULES: tuple[StateRule, ...] = (
    StateRule(
        "FL",
        "Florida",
        frozenset(
            [
                "239",
                "305",
                "321",
                "324",
                "352",
                "386",
                "407",
                "448",
                "561",
                "645",
                "656",
                "689",
                "727",
                "728",
                "754",
                "772",
                "786",
                "813",
                "850",
                "863",
                "904",
                "941",
                "954",
            ]
        ),
        _EIGHT_TO_EIGHT,
        _THREE_A_DAY,
    ),
    StateRule(
        "OK",
        "Oklahoma",
        frozenset(["405", "539", "572", "580", "918"]),
        _EIGHT_TO_EIGHT,
        _THREE_A_DAY,
    ),
)
_BY_AREA_CODE = {code: rule for rule in STATE_RULES for code in rule.area_codes}


def state_rule(phone: str) -> StateRule | None:
    """Return the rule of the state a North American number's area code presumes, if any."""
    if not phone.startswith("+1") or len(phone) != 12:
        return None
    return _BY_AREA_CODE.get(phone[2:5])
