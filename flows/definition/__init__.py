"""Journey definitions: read the YAML, check how it fits together, lint it, load the files."""

from flows.definition.context import JourneyError
from flows.definition.journey import Reading, read_journey
from flows.definition.lints import LINTS
from flows.definition.loader import (
    BUILTIN_DIR,
    JourneyLoadError,
    check,
    load_journey,
    load_journeys,
)
from flows.definition.values import parse_duration, parse_offset

__all__ = [
    "BUILTIN_DIR",
    "LINTS",
    "JourneyError",
    "JourneyLoadError",
    "Reading",
    "check",
    "load_journey",
    "load_journeys",
    "parse_duration",
    "parse_offset",
    "read_journey",
]
