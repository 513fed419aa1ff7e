"""The record's commands: `db upgrade|prune`, `export`, `consent export`, `analytics rebuild`."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.config import Settings


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the record's commands under the command line's."""
    db = commands.add_parser("db", help="the record (SQL)").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="bring the record's schema up to date").set_defaults(
        func=_db_upgrade
    )
    prune = db.add_parser(
        "prune",
        help="delete old messages, events, clicks and ended runs (never the consent ledger)",
    )
    prune.add_argument(
        "--days", help="keep this many days (default: RECORD_RETENTION_DAYS; unset keeps all)"
    )
    _progress_flag(prune)
    prune.set_defaults(func=_db_prune)

    export = commands.add_parser("export", help="write the record's messages or events out")
    export.add_argument("kind", choices=["messages", "events"])
    _export_flags(export)

    consent = commands.add_parser("consent", help="the consent ledger").add_subparsers(
        dest="consent_command", required=True
    )
    ledger = consent.add_parser(
        "export", help="write every consent decision out with its evidence, for an auditor"
    )
    ledger.set_defaults(kind="consent")
    _export_flags(ledger)

    analytics = commands.add_parser("analytics", help="the journeys' figures").add_subparsers(
        dest="analytics_command", required=True
    )
    rebuild = analytics.add_parser(
        "rebuild", help="recompute the journeys' daily figures from the record"
    )
    rebuild.add_argument(
        "--since",
        help="only the days from this ISO date on (default: every day the record still"
        " holds whole: with RECORD_RETENTION_DAYS set, the days since its horizon)",
    )
    _progress_flag(rebuild)
    rebuild.set_defaults(func=_analytics_rebuild)


def _export_flags(export: argparse.ArgumentParser) -> None:
    export.add_argument("--since", help="from this ISO date or time on (UTC unless it says)")
    export.add_argument("--until", help="up to, not including, this ISO date or time")
    export.add_argument("--phone", help="one contact's only (any format phonenumbers reads)")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument(
        "--output", "-o", default="-", help="file to write; - (the default) is stdout"
    )
    _progress_flag(export)
    export.set_defaults(func=_export)


def _progress_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw a progress bar on stderr (default: when stderr is a terminal)",
    )


def _db_upgrade(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from bot.config import Settings
    from bot.record import database

    settings = Settings.from_env()
    url = settings.record_url
    revision = database.upgrade(url, ZoneInfo(settings.default_timezone))
    print(f"parley: the record at {database.shown(url)} is at revision {revision} (the newest)")
    return 0


def _record(settings: Settings) -> Engine | None:
    """Return an engine for the record, or None (having said why) when it has no tables."""
    from bot.record import database

    engine = database.connect(settings.record_url)
    if database.current(engine) is None:
        engine.dispose()
        shown = database.shown(settings.record_url)
        print(
            f"parley: the record at {shown} has no tables yet"
            " (python -m bot db upgrade makes them)",
            file=sys.stderr,
        )
        return None
    return engine


def _progress(args: argparse.Namespace) -> bool:
    """Say whether to draw a progress bar: --progress or --no-progress, else on a terminal."""
    return sys.stderr.isatty() if args.progress is None else bool(args.progress)


def _export(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bot.config import Settings
    from bot.domain import phones
    from bot.record import export

    settings = Settings.from_env()
    try:  # before the record is reached: a typo is worth one line
        since = None if args.since is None else _instant("--since", args.since)
        until = None if args.until is None else _instant("--until", args.until)
        if since is not None and until is not None and since >= until:
            raise ValueError(f"--until {args.until!r} must be later than --since {args.since!r}")
        phone = None
        if args.phone is not None:
            phone = phones.normalize(args.phone, settings.default_region, strict=False)
    except ValueError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    selection = export.Selection(args.kind, since, until, phone)
    engine = _record(settings)
    if engine is None:
        return 1
    where = "stdout" if args.output == "-" else args.output
    show = _progress(args)
    try:
        total = export.count(engine, selection) if show else None  # the bar's 100%
        found = export.rows(engine, selection)
        with (
            tqdm(found, total=total, disable=not show, unit="row", desc=args.kind) as rows,
            export.output(args.output) as out,
        ):
            written = export.write(rows, args.kind, args.format, out)
    except BrokenPipeError:
        # The reader (`| head`) has what it wanted; say nothing more to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        print(f"parley: cannot write {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    noun = _NOUNS[args.kind][written != 1]
    print(f"parley: exported {written} {noun} to {where}", file=sys.stderr)
    return 0


# What an export's summary calls one row, and several.
_NOUNS = {
    "messages": ("message", "messages"),
    "events": ("event", "events"),
    "consent": ("consent decision", "consent decisions"),
}


def _instant(flag: str, text: str) -> datetime:
    """Read a date or time given on the command line; ValueError names the flag."""
    from bot.record.export import instant

    try:
        return instant(text)
    except ValueError as exc:
        raise ValueError(f"{flag} {exc}") from None


# How `db prune` names what it deleted from each table.
_PRUNED_NAMES = {
    "messages": "messages",
    "conversation_events": "conversation events",
    "link_clicks": "link clicks",
    "journey_runs": "ended journey runs",
}


def _db_prune(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bot.config import Settings, retention_days
    from bot.record import retention

    settings = Settings.from_env()
    days = settings.record_retention_days
    if args.days is not None:
        try:
            days = retention_days(args.days)
        except ValueError as exc:
            print(f"parley: --days {exc}", file=sys.stderr)
            return 2
    if days is None:
        print("parley: RECORD_RETENTION_DAYS is unset and no --days given: nothing is pruned")
        return 0
    before = retention.cutoff(days, datetime.now(UTC))
    if before is None:
        print(f"parley: nothing is {days} days old yet: nothing is pruned")
        return 0
    engine = _record(settings)
    if engine is None:
        return 1
    try:
        with tqdm(unit="row", desc="pruning", disable=not _progress(args)) as bar:

            def count(_table: str, rows: int) -> None:
                bar.update(rows)

            deleted = retention.prune(engine, before, progress=count)
    finally:
        engine.dispose()
    counts = ", ".join(f"{deleted[name]} {shown}" for name, shown in _PRUNED_NAMES.items())
    stamp = before.isoformat(timespec="seconds")
    print(
        f"parley: deleted what is older than {days} days (before {stamp}): {counts};"
        " the consent ledger, contacts and conversions are kept"
    )
    return 0


def _analytics_rebuild(args: argparse.Namespace) -> int:
    from datetime import date, timedelta
    from zoneinfo import ZoneInfo

    from tqdm import tqdm

    from bot.config import Settings
    from bot.record import rollups

    settings = Settings.from_env()
    zone = ZoneInfo(settings.default_timezone)
    since: date | None = None
    if args.since is not None:
        try:
            since = date.fromisoformat(args.since.strip())
        except ValueError:
            print(
                f"parley: --since must be a date such as 2026-11-01, not {args.since!r}",
                file=sys.stderr,
            )
            return 2
    elif settings.record_retention_days is not None:
        # Days before the retention horizon were counted from rows pruned since: kept.
        horizon = datetime.now(zone).date() - timedelta(days=settings.record_retention_days)
        since = horizon + timedelta(days=1)
    engine = _record(settings)
    if engine is None:
        return 1
    try:
        with tqdm(unit="row", desc="rebuilding", disable=not _progress(args)) as bar:

            def count(rows: int) -> None:
                bar.update(rows)

            read = rollups.rebuild(engine, zone, since, progress=count)
    finally:
        engine.dispose()
    days = f"from {since.isoformat()} on" if since else "every day"
    print(f"parley: rebuilt the journeys' figures for {days} from {read} rows of the record")
    return 0
