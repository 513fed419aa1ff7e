"""North American area codes whose numbers live in more than one time zone.

The phone-number metadata gives one zone for each of these, the one most of its numbers
are in: Pensacola's 850 is Central Time although the metadata says Eastern, and 423 is
Eastern although it says Central. Quiet hours must hold wherever the person may be, so
these area codes name every zone their numbers are in. A line per area code, with where
the other zone is; add to it as needed.
"""

from __future__ import annotations

EASTERN, CENTRAL = "America/New_York", "America/Chicago"
MOUNTAIN, PACIFIC = "America/Denver", "America/Los_Angeles"
ARIZONA = "America/Phoenix"

SPLIT_AREA_CODES: dict[str, tuple[str, ...]] = {
    "219": (CENTRAL, EASTERN),  # north-west Indiana: Gary and its lake shore are Central
    "270": (CENTRAL, EASTERN),  # western Kentucky is Central, a few counties Eastern
    "308": (CENTRAL, MOUNTAIN),  # western Nebraska: the panhandle is Mountain
    "423": (EASTERN, CENTRAL),  # east Tennessee is Eastern, a few counties Central
    "541": (PACIFIC, MOUNTAIN),  # eastern Oregon: Malheur County is Mountain
    "606": (EASTERN, CENTRAL),  # eastern Kentucky, a few counties Central
    "620": (CENTRAL, MOUNTAIN),  # south-west Kansas, a few counties Mountain
    "785": (CENTRAL, MOUNTAIN),  # north-west Kansas, a few counties Mountain
    "812": (EASTERN, CENTRAL),  # southern Indiana: Evansville's corner is Central
    "850": (EASTERN, CENTRAL),  # the Florida panhandle: west of the Apalachicola is Central
    "906": (EASTERN, CENTRAL),  # Michigan's Upper Peninsula: four counties are Central
    "928": (ARIZONA, MOUNTAIN),  # northern Arizona: the Navajo Nation keeps daylight time
    "931": (CENTRAL, EASTERN),  # middle Tennessee, a few counties Eastern
}


def split_zones(e164: str) -> tuple[str, ...] | None:
    """Return every zone of a North American number whose area code spans several, else None."""
    if e164.startswith("+1") and len(e164) == 12:
        return SPLIT_AREA_CODES.get(e164[2:5])
    return None
