"""Writing what Redis committed into the record: in batches, idempotently, in any order.

Two kinds of entry arrive (bot/record/drain.py reads them from the record stream;
bot/record/entries.py says what each holds):
- a `Commit`: what one transition changed for one contact (its queryable part if that
  changed, the runs that moved, new messages, events, each consent decision among them
  also a row of the consent ledger);
- a `StatusChange`: a message's new status, from the sender or a Twilio status callback;
- a `Click`: a click on a tracked short link, from the redirect (`GET /l/<code>`). Its
  row says whether it counts (bot.domain.link_bots): not a preview bot's or scanner's,
  and not within a second of the message's delivery as the record has it once this
  batch's statuses are merged in. A click written again keeps the row it had.

Applying an entry twice, or an older entry after a newer one, leaves the record as it
was: rows have stable ids, a contact row is only replaced by one at least as recent, a
message's status history is a set of (status, time) kept in time order (statuses of
one millisecond in the order their ranks allow), and a run's steps are merged, not
replaced.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, String, Table, Text, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from bot.domain.link_bots import counted, delivered_at
from bot.record import rollups
from bot.record.attribution import conversion_row
from bot.record.entries import Click, Commit, Entry, StatusChange
from bot.record.facts import (
    FACT_EVENTS,
    Facts,
    conversion_facts,
    difference,
    event_facts,
    message_facts,
    run_facts,
)
from bot.record.ledger import ledger_rows
from bot.record.message_rows import message_merged
from bot.record.schema import (
    consent_ledger,
    contacts,
    conversation_events,
    conversions,
    journey_runs,
    link_clicks,
    links,
    messages,
)
from bot.record.times import cached_moment, utc

_moment = cached_moment

__all__ = ["Click", "Commit", "Entry", "RecordWriter", "StatusChange"]

# Event fields that have columns of their own; the rest go to `data`.
_EVENT_COLUMNS = frozenset(("type", "at", "intent", "confidence", "journey", "run_id", "seq"))


@dataclass
class _Batch:
    """A batch of entries sorted into rows, before the existing rows are merged in."""

    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # id -> entries in order
    messages: dict[str, list[Commit | StatusChange]] = field(default_factory=dict)
    runs: dict[str, list[tuple[Commit, Mapping[str, Any]]]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)  # consent decisions
    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> row
    clicks: dict[str, Click] = field(default_factory=dict)  # click id -> click

    def add(self, entry: Entry) -> None:
        if isinstance(entry, Click):
            self.clicks.setdefault(entry.click, entry)
            return
        if isinstance(entry, StatusChange):
            self.messages.setdefault(entry.message, []).append(entry)
            return
        if entry.contact is not None:
            row = _contact_row(entry.contact, entry.at)
            known = self.contacts.get(entry.phone)
            if known is None or row["updated_at"] >= known["updated_at"]:
                self.contacts[entry.phone] = row
        for data in entry.messages:
            self.messages.setdefault(data["id"], []).append(entry)
        for run in entry.runs:
            self.runs.setdefault(run["id"], []).append((entry, run))
        events = list(_event_rows(entry))
        self.events.extend(events)
        self.ledger.extend(ledger_rows(events))
        for link in entry.links:
            self.links[link["code"]] = _link_row(link)


class RecordWriter:
    """Applies entries to the record, one transaction per batch."""

    def __init__(self, engine: Engine, zone: tzinfo = UTC) -> None:
        self.engine = engine
        self.zone = zone  # the business's: the day each analytics fact counts on
        self._dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        # Clicks new to the record since the drain last cleared it, by whether they count.
        self.clicks_written: dict[bool, int] = {}

    def apply(self, entries: Sequence[Entry]) -> None:
        """Write a batch of entries, all or nothing; replays change nothing."""
        batch = _Batch()
        for entry in entries:
            batch.add(entry)
        facts: Facts = Counter()  # what the batch adds to the analytics rollups
        with self.engine.begin() as connection:
            if batch.contacts:
                upsert = self._newer_wins(contacts, ["phone"])
                connection.execute(upsert, _fitted(contacts, batch.contacts.values()))
            if batch.messages:
                rows, statuses = self._merge_messages(connection, batch.messages, facts)
                if rows:
                    connection.execute(self._replace(messages, ["id"]), _fitted(messages, rows))
                if statuses:
                    connection.execute(_STATUS_UPDATE, _fitted(messages, statuses))
            if batch.runs:
                rows = self._merge_runs(connection, batch.runs, facts)
                connection.execute(self._replace(journey_runs, ["id"]), _fitted(journey_runs, rows))
            # Before the events: an order is credited to a click of the same batch.
            written = self._write_clicks(connection, batch.clicks, facts) if batch.clicks else {}
            if batch.events:
                self._credit(connection, batch.events, facts)
                insert = self._dialect.insert(conversation_events).on_conflict_do_nothing(
                    index_elements=["id"]
                )
                connection.execute(insert, _fitted(conversation_events, batch.events))
            if batch.ledger:  # only ever added to: a decision written before stays as it was
                insert = self._dialect.insert(consent_ledger).on_conflict_do_nothing(
                    index_elements=["id"]
                )
                connection.execute(insert, _fitted(consent_ledger, batch.ledger))
            if batch.links:  # a link never changes once made
                insert = self._dialect.insert(links).on_conflict_do_nothing(index_elements=["code"])
                connection.execute(insert, _fitted(links, batch.links.values()))
            rollups.add(connection, facts)
        for flag, count in written.items():  # only once the transaction is committed
            self.clicks_written[flag] = self.clicks_written.get(flag, 0) + count

    def _write_clicks(
        self, connection: Connection, clicks: dict[str, Click], facts: Facts
    ) -> dict[bool, int]:
        """Insert the clicks the record does not hold yet; return how many, by whether they count.

        Runs after the batch's message statuses are merged, so a delivery reported in the
        same batch as a click decides it. A message's first counted click is kept on its
        row (`clicked_at`), and what that changes is added to `facts`.
        """
        known = self._existing(connection, link_clicks, clicks)
        new = [click for click_id, click in clicks.items() if click_id not in known]
        if not new:
            return {}
        ids = {click.message for click in new if click.message}
        histories = self._existing(connection, messages, ids, *_MESSAGE_READ) if ids else {}
        firsts: dict[str, datetime] = {}  # message id -> its first counted click, if earlier
        rows, written = [], {True: 0, False: 0}
        for click in new:
            at = _moment(click.at)
            row = histories.get(click.message or "")
            delivered = delivered_at(row["status_history"] or []) if row else None
            counts = at is not None and counted(click.user_agent, at, delivered)
            written[counts] += 1
            if counts and row is not None and at is not None:
                earliest = firsts.get(row["id"]) or row.get("clicked_at")
                if earliest is None or at < earliest:
                    firsts[row["id"]] = at
            rows.append(
                {
                    "id": click.click,
                    "code": click.code,
                    "phone": click.phone,
                    "message_id": click.message,
                    "journey": click.journey,
                    "step": click.step,
                    "url": click.url,
                    "user_agent": click.user_agent,
                    "counted": counts,
                    "at": at,
                }
            )
        insert = self._dialect.insert(link_clicks).on_conflict_do_nothing(index_elements=["id"])
        connection.execute(insert, _fitted(link_clicks, rows))
        for message_id, at in firsts.items():
            before = histories[message_id]
            after = {**before, "clicked_at": at}
            facts.update(
                difference(message_facts(after, self.zone), message_facts(before, self.zone))
            )
        if firsts:
            clicked = [{"_id": message_id, "clicked_at": at} for message_id, at in firsts.items()]
            connection.execute(_STATUS_UPDATE, clicked)
        return written

    def _existing(
        self, connection: Connection, table: Table, ids: Iterable[str], *columns: str
    ) -> dict[str, Any]:
        """Return the rows (or just `columns` and the id) already written for `ids`, locked
        until the batch commits."""
        chosen = [table.c.id, *(table.c[name] for name in columns)] if columns else [table]
        query = select(*chosen).where(table.c.id.in_(list(ids)))
        if self._dialect is postgresql:
            query = query.with_for_update()  # two recorders merging one row take turns
        return {row.id: _aware(row._asdict()) for row in connection.execute(query)}

    def _merge_messages(
        self,
        connection: Connection,
        changes: dict[str, list[Commit | StatusChange]],
        facts: Facts,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Return the message rows to write whole, and the status changes of rows already
        written (as the parameters of _STATUS_UPDATE); add what they change to `facts`.

        A message's merge reads nothing of a row already written but its statuses, sid and
        error code, and what its figures need: a commit replaces the rest, and a status
        change leaves it as it is.
        """
        existing = self._existing(connection, messages, changes, *_MESSAGE_READ)
        rows, statuses = [], []
        for message_id, entries in changes.items():
            before = row = existing.get(message_id)
            whole = row is None
            for entry in entries:
                whole = whole or isinstance(entry, Commit)
                row = message_merged(row, message_id, entry)
            if row is None:
                continue
            facts.update(
                difference(message_facts(row, self.zone), message_facts(before, self.zone))
            )
            if whole:
                rows.append(row)
            else:
                statuses.append({"_id": message_id, **{k: row[k] for k in _STATUS_UPDATED}})
        return rows, statuses

    def _merge_runs(
        self,
        connection: Connection,
        changes: dict[str, list[tuple[Commit, Mapping[str, Any]]]],
        facts: Facts,
    ) -> list[dict[str, Any]]:
        existing = self._existing(connection, journey_runs, changes)
        rows = []
        for run_id, seen in changes.items():
            before = row = existing.get(run_id)
            for commit, run in seen:
                row = _run_merged(row, commit, run)
            if row is not None:
                rows.append(row)
                facts.update(difference(run_facts(row, self.zone), run_facts(before, self.zone)))
        return rows

    def _credit(self, connection: Connection, events: list[dict[str, Any]], facts: Facts) -> None:
        """Add the figures of the batch's events not written before to `facts`.

        An opt-out is credited here, once, to the journey and step of the last message the
        contact was sent before it (the event row keeps them, so a rebuild agrees).
        """
        counted = [event for event in events if event["type"] in (*FACT_EVENTS, CONVERSION)]
        if not counted:
            return
        ids = [event["id"] for event in counted]
        known = {
            row.id
            for row in connection.execute(
                select(conversation_events.c.id).where(conversation_events.c.id.in_(ids))
            )
        }
        credited = []
        for event in counted:
            if event["id"] in known:
                continue
            known.add(event["id"])  # the same event twice in a batch counts once
            if event["type"] == CONVERSION:
                credited.append(conversion_row(connection, event))
                continue
            if event["type"] == OPTED_OUT and not event.get("journey"):
                last = _last_sent(connection, event["phone"], event["at"])
                if last is not None:
                    event["journey"] = last.journey
                    event["data"] = {**event["data"], "step": last.step}
            facts.update(event_facts(event, self.zone))
        if credited:
            insert = self._dialect.insert(conversions).on_conflict_do_nothing(index_elements=["id"])
            connection.execute(insert, _fitted(conversions, credited))
            for row in credited:
                facts.update(conversion_facts(row, self.zone))

    def _newer_wins(self, table: Table, key: list[str]) -> Insert:
        """Return an upsert that replaces a row only with one at least as recent."""
        insert = self._dialect.insert(table)
        columns = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in key}
        return insert.on_conflict_do_update(
            index_elements=key,
            set_=columns,
            where=insert.excluded["updated_at"] >= table.c.updated_at,
        )

    def _replace(self, table: Table, key: list[str]) -> Insert:
        """Return an upsert for rows already merged with what the table held."""
        insert = self._dialect.insert(table)
        columns = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in key}
        return insert.on_conflict_do_update(index_elements=key, set_=columns)


# What a status change alters in a message row already written; what its merge reads.
_STATUS_UPDATED = (
    "status",
    "status_history",
    "sid",
    "error_code",
    "reason",
    "send_at",
    "updated_at",
)
_STATUS_COLUMNS = ("status_history", "sid", "error_code", "reason", "send_at")
# What a message's merge reads of a row already written: its statuses, and its facts' needs.
_MESSAGE_READ = (
    *_STATUS_COLUMNS,
    "direction",
    "journey",
    "step",
    "status",
    "created_at",
    "clicked_at",
)
OPTED_OUT = "opted_out"
CONVERSION = "conversion_reported"
_STATUS_UPDATE = messages.update().where(messages.c.id == bindparam("_id"))  # SETs what it is given


def _fitted(table: Table, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return rows whose text fits its columns: cut to length, without NUL characters.

    PostgreSQL refuses both (SQLite takes them), and a contact's name or language comes
    from outside; cutting one field keeps the rest of the entry, its messages included.
    """
    limits = _text_limits(table)
    fitted = []
    for row in rows:
        fit = row  # copied only if something in it must change
        for name, length in limits:
            value = row.get(name)
            if isinstance(value, str) and (len(value) > length or "\x00" in value):
                if fit is row:
                    fit = dict(row)
                fit[name] = value.replace("\x00", "")[:length]
        fitted.append(fit)
    return fitted


@cache
def _text_limits(table: Table) -> tuple[tuple[str, int], ...]:
    """Return each text column of `table` with its length limit (sys.maxsize: none)."""
    return tuple(
        (column.name, getattr(column.type, "length", None) or sys.maxsize)
        for column in table.columns
        if isinstance(column.type, String | Text)
    )


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    """Return a row read back with its times in UTC (SQLite gives them without a zone)."""
    return {
        name: utc(value) if isinstance(value, datetime) else value for name, value in row.items()
    }


def _contact_row(contact: Mapping[str, Any], at: str) -> dict[str, Any]:
    fields = dict(contact.get("fields") or {})
    return {
        "phone": contact["phone"],
        "first_name": _text(fields.get("first_name")),
        "last_name": _text(fields.get("last_name")),
        "fields": fields,
        "tags": list(contact.get("tags") or []),
        "language": contact.get("language"),
        "timezone": contact["timezone"],
        "stage": contact.get("stage"),
        "subscribed": bool(contact.get("subscribed", True)),
        "handoff": bool(contact.get("handoff", False)),
        "handoff_reason": contact.get("handoff_reason"),
        "undeliverable": contact.get("undeliverable"),
        "conversation": contact.get("conversation") or "bot",
        "assignee": _text(contact.get("assignee")),
        "waiting_since": _moment(contact.get("waiting_since")),
        "snoozed_until": _moment(contact.get("snoozed_until")),
        "staff_at": _moment(contact.get("staff_at")),
        "read_seq": int(contact.get("read_seq") or 0),
        "message_seq": int(contact.get("message_seq") or 0),
        "created_at": _moment(contact.get("created_at")) or _moment(at),
        "last_active_at": _moment(contact.get("last_active_at")),
        "active_at": _moment(contact.get("last_active_at") or contact.get("created_at") or at),
        "updated_at": _moment(at),
    }


def _last_sent(connection: Connection, phone: str, at: datetime | None) -> Any:
    """Return the journey and step of the last journey message `phone` received by `at`
    (Twilio took it, and did not report it failed or undelivered)."""
    query = (
        select(messages.c.journey, messages.c.step)
        .where(messages.c.phone == phone)
        .where(messages.c.direction == "outbound")
        .where(messages.c.journey.is_not(None))
        .where(messages.c.sid.is_not(None))
        .where(messages.c.status.not_in(("failed", "undelivered")))
        .order_by(messages.c.seq.desc(), messages.c.created_at.desc())
        .limit(1)
    )
    if at is not None:
        query = query.where(messages.c.created_at <= at)
    return connection.execute(query).first()


def _link_row(link: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "code": link["code"],
        "url": link["url"],
        "phone": link["phone"],
        "message_id": link["message"],
        "journey": link.get("journey"),
        "step": link.get("step"),
        "created_at": _moment(link["created"]),
    }


def _event_rows(commit: Commit) -> Iterable[dict[str, Any]]:
    for number, event in enumerate(commit.events):
        seq = int(event.get("seq") or 0)
        yield {
            # Numbered events are named by their contact and number; older ones by the
            # stream entry that carried them.
            "id": f"{commit.phone}:{seq}" if seq else f"{commit.id}:{number}",
            "seq": seq,
            "phone": commit.phone,
            "type": event["type"],
            "at": _moment(event.get("at")) or _moment(commit.at),
            "intent": event.get("intent"),
            "confidence": event.get("confidence"),
            "journey": event.get("journey"),
            "run_id": event.get("run_id"),
            "data": {k: v for k, v in event.items() if k not in _EVENT_COLUMNS},
        }


def _run_merged(
    row: dict[str, Any] | None, commit: Commit, run: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the run row with this commit's view of the run applied.

    `steps` holds [step, where, when], `where` naming the commit and the place in it, so
    merging is a union in commit order whatever order commits arrive in. The rest of the
    row is the latest commit's view.
    """
    mine = [e for e in commit.events if e.get("run_id") == run["id"]]
    passed = [e["step"] for e in mine if e.get("step")] + [run["step"]]
    ended = next((e for e in mine if e["type"] == "journey_ended"), None)
    chosen = next((e["variant"] for e in mine if e["type"] == "split_chosen"), None)
    at = _moment(commit.at)
    if row is None:
        row = {
            "steps": [],
            "variant": None,
            "splits": {},
            "goals": [],
            "end_reason": None,
            "updated_at": at,
        }
    merged = dict(row)
    if at is not None and at >= row["updated_at"]:
        merged.update(
            id=run["id"],
            phone=commit.phone,
            journey=run["journey"],
            key=run.get("key"),
            event_id=run.get("event_id"),
            status=run["status"],
            step=run.get("step"),
            started_at=_moment(run["started_at"]),
            ended_at=_moment(run.get("ended_at")),
            updated_at=at,
        )
        if ended is not None:
            merged["end_reason"] = ended.get("reason") or run["status"]
    passed = [step for n, step in enumerate(passed) if n == 0 or passed[n - 1] != step]
    keyed = [[step, f"{commit.id}:{number}", commit.at] for number, step in enumerate(passed)]
    merged["steps"] = _steps(row["steps"], keyed)
    merged["variant"] = row["variant"] or chosen
    splits = {e["step"]: e["variant"] for e in mine if e["type"] == "split_chosen"}
    merged["splits"] = {**splits, **(row.get("splits") or {})}  # an arm, once taken, stays
    goals = [[e["goal"], e.get("at") or commit.at] for e in mine if e["type"] == "goal_reached"]
    merged["goals"] = _goals(row.get("goals") or [], goals)
    return merged


def _when_reached(pair: Sequence[str]) -> datetime:
    return _moment(pair[1]) or datetime.min.replace(tzinfo=UTC)


def _goals(*parts: Sequence[Sequence[str]]) -> list[list[str]]:
    """Merge [goal, when] lists: each goal once, at the first time it was reached."""
    first: dict[str, str] = {}
    for goal, when in sorted((pair for part in parts for pair in part), key=_when_reached):
        first.setdefault(goal, when)
    return [[goal, when] for goal, when in first.items()]


def _steps(*parts: Sequence[Sequence[str]]) -> list[list[str]]:
    """Merge [step, where, when] lists: each (step, where) once, in commit order.

    `where` is the commit's stream entry and the place in it, `when` the commit's time
    (the day analytics counts the visit on; rows written before it was kept lack it).
    A commit that leaves a run on its step lists that step again; readers take a step
    repeated in a row as one visit.
    """
    unique: dict[tuple[str, str], list[str]] = {}
    for part in parts:
        for step, where, *when in part:
            unique.setdefault((step, where), [step, where, *when])
    return [unique[key] for key in sorted(unique, key=lambda key: _place(key[1]))]


def _place(where: str) -> tuple[int, ...]:
    """Order "<ms>-<seq>:<n>" (a stream entry id and a place in it) numerically."""
    entry, number = where.rsplit(":", 1)
    milliseconds, sequence = entry.split("-", 1)
    return int(milliseconds), int(sequence), int(number)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
