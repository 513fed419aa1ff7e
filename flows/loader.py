"""Load journey files from files and directories, reporting every mistake with its line."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from flows.model import Journey
from flows.parser import JourneyError, Parser

__all__ = [
    "BUILTIN_DIR",
    "JourneyError",
    "JourneyLoadError",
    "check",
    "load_journey",
    "load_journeys",
]

BUILTIN_DIR: Path = Path(__file__).resolve().parent / "journeys"
SUFFIXES = (".yaml", ".yml")


class JourneyLoadError(Exception):
    """Every mistake found while loading journeys."""

    def __init__(self, errors: Iterable[JourneyError]) -> None:
        self.errors = list(errors)
        super().__init__(self.errors)

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


def _parse_file(path: Path) -> tuple[Journey | None, Parser]:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        parser = Parser(str(path), "")
        parser.error(0, f"cannot read the file: {exc}")
        return None, parser
    parser = Parser(str(path), source)
    return parser.parse(), parser


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


def _builtin_ids() -> set[str]:
    files, _ = _files([BUILTIN_DIR])
    return {journey.id for journey in (_parse_file(f)[0] for f in files) if journey}


def _check_starts(journeys: dict[str, Journey], known: set[str]) -> list[JourneyError]:
    """Flag `start:` steps that name a journey nobody loaded."""
    errors = []
    for journey in journeys.values():
        for step in journey.steps:
            if step.start is not None and step.start not in journeys and step.start not in known:
                message = f"step {step.id!r}: `start` names unknown journey {step.start!r}"
                errors.append(JourneyError(journey.path, step.line, message))
    return errors


def _load(
    paths: Iterable[str | Path],
) -> tuple[dict[str, Journey], list[JourneyError], list[JourneyError]]:
    paths = list(paths)
    files, errors = _files(paths)
    warnings: list[JourneyError] = []
    journeys: dict[str, Journey] = {}
    for file in files:
        journey, parser = _parse_file(file)
        errors.extend(sorted(parser.errors, key=lambda error: error.line))
        warnings.extend(sorted(parser.warnings, key=lambda warning: warning.line))
        if journey is None:
            continue
        if journey.id in journeys:
            other = journeys[journey.id].path
            message = f"duplicate journey id {journey.id!r} (also in {other})"
            errors.append(JourneyError(journey.path, parser.id_line, message))
            continue
        journeys[journey.id] = journey
    # A file checked on its own may start a built-in journey.
    builtin = BUILTIN_DIR.resolve()
    known: set[str] | None = set() if any(Path(p).resolve() == builtin for p in paths) else None
    if any(step.start for journey in journeys.values() for step in journey.steps):
        errors.extend(_check_starts(journeys, known if known is not None else _builtin_ids()))
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


def check(*paths: str | Path, warnings: bool = False) -> list[JourneyError]:
    """Return every mistake in the journey files and directories given.

    With warnings=True, also return the risks that do not stop a journey from loading
    (each with severity "warning"), after the errors.
    """
    _, errors, found = _load(paths)
    return errors + found if warnings else errors
