"""Journey definitions: read the YAML, check how it fits together, load the files."""

from flows.definition.loader import (
    BUILTIN_DIR,
    JourneyError,
    JourneyLoadError,
    check,
    load_journey,
    load_journeys,
)

__all__ = [
    "BUILTIN_DIR",
    "JourneyError",
    "JourneyLoadError",
    "check",
    "load_journey",
    "load_journeys",
]
