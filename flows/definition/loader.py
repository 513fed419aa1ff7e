"""Find journey files (the built-in ones, FLOWS_DIR, paths given) and load them all."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from flows.definition.checks import check_clicks, check_starts
from flows.definition.context import JourneyError
from flows.definition.journey import Reading, read_journey
from flows.model import Journey

__all__ = [
    "BUILTIN_DIR",
    "JourneyError",
    "JourneyLoadError",
    "check",
    "load_journey",
    "load_journeys",
    "read_file",
]

BUILTIN_DIR: Path = Path(__file__).resolve().parent.parent / "journeys"
SUFFIXES = (".yaml", ".yml")


class JourneyLoadError(Exception):
    """Every mistake found while loading journeys."""

    def __init__(self, errors: Iterable[JourneyError]) -> None:
        self.errors = list(errors)
        super().__init__(self.errors)

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


def read_file(path: Path, link_base: str | None = None) -> Reading:
    """Read one journey file from disk; a file that cannot be read is an error at line 0.

    `link_base` (LINK_BASE_URL) measures tracked links for segment counts; None: typical.
    """
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Reading(None, (JourneyError(str(path), 0, f"cannot read the file: {exc}"),), ())
    return read_journey(path, source, link_base)


def _files(paths: Iterable[str | Path]) -> tuple[list[Path], list[JourneyError]]:
    files: list[Path] = []
    errors: list[JourneyError] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        elif path.is_file():
            found = [path]
        else:
            errors.append(JourneyError(str(path), 0, "no such file or directory"))
            continue
        # The same directory named twice (FLOWS_DIR set to the built-ins) loads once.
        for file in found:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                files.append(file)
    return files, errors


def _builtin() -> dict[str, Journey]:
    files, _ = _files([BUILTIN_DIR])
    return {journey.id: journey for journey in (read_file(f).journey for f in files) if journey}


def _load(
    paths: Iterable[str | Path], link_base: str | None = None
) -> tuple[dict[str, Journey], list[JourneyError], list[JourneyError]]:
    paths = list(paths)
    files, errors = _files(paths)
    warnings: list[JourneyError] = []
    journeys: dict[str, Journey] = {}
    for file in files:
        reading = read_file(file, link_base)
        errors.extend(reading.errors)
        warnings.extend(reading.warnings)
        journey = reading.journey
        if journey is None:
            continue
        if journey.id in journeys:
            other = journeys[journey.id].path
            message = f"duplicate journey id {journey.id!r} (also in {other})"
            errors.append(JourneyError(journey.path, reading.id_line, message))
            continue
        journeys[journey.id] = journey
    # A file checked on its own may start a built-in journey.
    builtin = BUILTIN_DIR.resolve()
    starts = any(step.start for journey in journeys.values() for step in journey.steps)
    clicks = any(journey.triggers_of("click") for journey in journeys.values())
    if starts or clicks:
        named = any(Path(p).resolve() == builtin for p in paths)
        known = {} if named else _builtin()
        errors.extend(check_starts(journeys, set(known)))
        errors.extend(check_clicks(journeys, known))
    return journeys, errors, warnings


def load_journey(path: str | Path) -> Journey:
    """Load one journey file; raise JourneyLoadError with every mistake in it."""
    journeys, errors, _ = _load([path])
    if errors or not journeys:
        raise JourneyLoadError(errors)
    return next(iter(journeys.values()))


def load_journeys(*dirs: str | Path) -> dict[str, Journey]:
    """Load the built-in journeys, then those in dirs; raise JourneyLoadError on any mistake."""
    journeys, errors, _ = _load([BUILTIN_DIR, *dirs])
    if errors:
        raise JourneyLoadError(errors)
    return journeys


def check(
    *paths: str | Path, warnings: bool = False, link_base: str | None = None
) -> list[JourneyError]:
    """Return every mistake in the journey files and directories given.

    With warnings=True, also return the risks that do not stop a journey from loading
    (each with severity "warning"), after the errors. `link_base` is LINK_BASE_URL, whose
    length tracked links take in segment counts (None: a typical one).
    """
    _, errors, found = _load(paths, link_base)
    return errors + found if warnings else errors
