"""Run the journey cases in cases/: each source gives exactly its errors and warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.definition import JourneyLoadError, check, load_journey

CASES = Path(__file__).parent / "cases"
CASE_KEYS = {"name", "source", "errors", "warnings"}


def _read_cases() -> list[tuple[str, dict[str, Any]]]:
    """Return (id, case) for every case, the id being the file's path in cases/ and the name."""
    found = []
    for file in sorted(CASES.rglob("*.yaml")):
        theme = file.relative_to(CASES).with_suffix("").as_posix()
        for case in yaml.safe_load(file.read_text(encoding="utf-8")):
            found.append((f"{theme}/{case['name']}", case))
    return found


ALL = _read_cases()


def test_the_cases_are_well_formed() -> None:
    ids = [case_id for case_id, _ in ALL]
    assert len(ids) == len(set(ids)), "two cases share a name"
    for case_id, case in ALL:
        # A misspelt key (`warning:`) would otherwise pass as "expects no warnings".
        assert set(case) <= CASE_KEYS and {"name", "source", "errors"} <= set(case), case_id


@pytest.mark.parametrize("case", [case for _, case in ALL], ids=[case_id for case_id, _ in ALL])
def test_case(case: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text(case["source"], encoding="utf-8")
    found = check(path, warnings=True)
    errors = [[f.line, f.message] for f in found if not f.is_warning]
    warnings = [[f.line, f.message] for f in found if f.is_warning]
    assert errors == case["errors"]
    assert warnings == case.get("warnings", [])

    # Errors come first, then warnings; each names the file and says what it is.
    assert [f.is_warning for f in found] == [False] * len(errors) + [True] * len(warnings)
    for f in found:
        assert f.path == str(path)
        assert f.severity == ("warning" if f.is_warning else "error")
        label = "warning: " if f.is_warning else ""
        assert str(f) == f"{path}:{f.line}: {label}{f.message}"
    assert [str(e) for e in check(path)] == [str(f) for f in found if not f.is_warning]

    # Loading fails with exactly these errors, one a line; warnings alone do not stop it.
    if errors:
        with pytest.raises(JourneyLoadError) as caught:
            load_journey(path)
        assert str(caught.value).splitlines() == [str(e) for e in check(path)]
    else:
        assert load_journey(path).path == str(path)
