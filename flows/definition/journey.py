"""Read one journey file: compose the YAML, read each section, check the whole, lint it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode

from flows.definition.checks import check_journey, check_results
from flows.definition.context import Context, JourneyError, line_of
from flows.definition.event_data import check_reads, read_event_data, read_key, with_declared
from flows.definition.lints import lint
from flows.definition.policy import (
    check_policy,
    read_quiet_hours,
    read_when_capped,
    warn_quiet_sends,
)
from flows.definition.settings import (
    DEFAULT_KIND,
    read_conversion,
    read_defaults,
    read_entry,
    read_exit_events,
    read_fields,
    read_kind,
    read_language,
    read_vocabulary,
)
from flows.definition.steps import read_steps
from flows.definition.triggers import read_triggers
from flows.definition.values import kind_name, read_flag, read_mapping, read_text
from flows.model import CLICKED, Journey, Step, WhenCapped

JOURNEY_KEYS = (
    "id", "name", "kind", "language", "trigger", "entry", "exit", "fields", "defaults", "nlu",
    "steps", "event_data", "key", "quiet_hours", "when_capped", "conversion",
    "track_links",
)  # fmt: skip


@dataclass(frozen=True)
class Reading:
    """What reading one file gave: the journey (None when it has errors), errors, warnings."""

    journey: Journey | None
    errors: tuple[JourneyError, ...]
    warnings: tuple[JourneyError, ...]
    # where `id` is written, for a duplicate id found across files
    id_line: int = 1


def read_journey(path: str | Path, source: str, link_base: str | None = None) -> Reading:
    """Read a journey file's text into a Journey, with every mistake and risk at its line.

    `link_base` (LINK_BASE_URL) is how long tracked links are measured; None: typical.
    """
    ctx = Context(path, source)
    ctx.link_base = link_base
    journey, id_line = _read(ctx)
    errors = tuple(sorted(ctx.errors, key=lambda error: error.line))
    warnings = tuple(sorted(ctx.warnings, key=lambda warning: warning.line))
    return Reading(journey, errors, warnings, id_line)


def _read(ctx: Context) -> tuple[Journey | None, int]:
    """Read, check and lint the file; return the journey and the line of its id."""
    root = _root(ctx)
    if root is None:
        return None, 1
    top = read_mapping(ctx, root, JOURNEY_KEYS, "journey")
    journey_id = read_text(ctx, top.get("id"), "id")
    if "id" not in top:
        ctx.error(root, "missing `id`")
    id_line = line_of(top["id"]) if "id" in top else 1
    name = read_text(ctx, top.get("name"), "name") or journey_id
    kind = read_kind(ctx, top.get("kind")) or DEFAULT_KIND
    language = read_language(ctx, top.get("language"))
    triggers = read_triggers(ctx, top.get("trigger"))
    entry = read_entry(ctx, top.get("entry"))
    exit_events = read_exit_events(ctx, top.get("exit"))
    conversion = read_conversion(ctx, top.get("conversion"))
    fields = read_fields(ctx, top.get("fields"))
    event_data = read_event_data(top.get("event_data"), ctx.error)
    key = read_key(top.get("key"), event_data, ctx.error)
    ctx.defaults = read_defaults(ctx, top.get("defaults"))
    vocabulary = read_vocabulary(ctx, top.get("nlu"))
    quiet_hours = read_quiet_hours(ctx, top.get("quiet_hours"))
    when_capped = read_when_capped(ctx, top.get("when_capped"))
    tracked = top.get("track_links")
    track_links = read_flag(ctx, tracked, "track_links") if tracked is not None else True
    ctx.track_links = track_links
    steps, complete = read_steps(ctx, top.get("steps"), root)
    check_journey(ctx, steps, with_declared(fields, event_data, ctx.uses), complete)
    check_reads(ctx.uses, event_data, triggers, ctx.error)
    check_results(steps, ctx.uses, fields, ctx.error)
    check_policy(ctx, kind, quiet_hours, when_capped, top, steps)
    if not track_links:
        _untracked_clicks(ctx, steps)
    warn_quiet_sends(ctx, kind, triggers, steps)
    lint(ctx)
    if ctx.errors or journey_id is None:
        return None, id_line
    journey = Journey(
        journey_id,
        name or journey_id,
        kind,
        triggers,
        steps,
        ctx.path,
        language=language,
        entry=entry,
        exit_events=exit_events,
        fields=fields,
        defaults=ctx.defaults,
        vocabulary=vocabulary,
        event_data=event_data,
        key=key,
        quiet_hours=quiet_hours,
        when_capped=when_capped or WhenCapped.DEFER,
        conversion=conversion,
        track_links=track_links,
    )
    return journey, id_line


def _untracked_clicks(ctx: Context, steps: tuple[Step, ...]) -> None:
    """Flag `clicked` branches in a journey whose links are sent untracked: they never run."""
    for step in steps:
        if step.wait is not None and CLICKED in step.wait.on:
            line = ctx.edge_lines.get((step.line, "reply", CLICKED), step.line)
            ctx.error(
                line,
                f"step {step.id!r}: a `clicked` branch never runs in a journey with"
                " `track_links: false`: its links are sent as written, so no click reaches it",
            )


def _root(ctx: Context) -> MappingNode | None:
    """Compose the YAML and return its top mapping, or None with an error."""
    try:
        root = yaml.compose(ctx.source, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "cannot be parsed"
        ctx.error(mark.line + 1 if mark else 1, f"YAML syntax error: {problem}")
        return None
    except yaml.YAMLError as exc:
        ctx.error(1, f"YAML syntax error: {exc}")
        return None
    if root is None:
        ctx.error(1, "the file is empty: a journey needs an id and steps")
        return None
    if not isinstance(root, MappingNode):
        found = kind_name(root)
        ctx.error(root, f"a journey must be a mapping with id and steps, not {found}")
        return None
    return root
