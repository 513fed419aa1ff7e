"""Values kept with a run, not the contact: `set: {run.appointment_status: cancelled}`.

A run's values belong to what the run is about (one booking, one order). The runs one
event started (a booking's confirmation and its reminders) read each other's values as
`run.x`; other runs, and the contact, never see them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flows.state import Run

RUN = "run"
PREFIX = f"{RUN}."


def result_name(name: str) -> str | None:
    """Return x for a `set:` name written run.x, None for a contact field."""
    return name[len(PREFIX) :] if name.startswith(PREFIX) else None


def shared_results(run: Run, runs: Iterable[Run]) -> dict[str, Any]:
    """Return the values the runs started by run's event saved, the latest started winning."""
    if run.event_id is None:
        return {}
    others = [r for r in runs if r.event_id == run.event_id and r.id != run.id]
    merged: dict[str, Any] = {}
    for other in sorted(others, key=lambda r: r.started_at):
        merged.update(other.results)
    return merged


def results_view(runs: Iterable[Run]) -> list[Mapping[str, Any]]:
    """Return each run with what it is about and the values it kept, oldest first."""
    return [
        {
            "id": run.id,
            "journey": run.journey,
            "step": run.step,
            "status": str(run.status),
            "key": run.key,
            "results": dict(run.results),
            "data": dict(run.data),
            "started_at": run.started_at.isoformat(),
            "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        }
        for run in runs
    ]
