"""Copying the record stream into the record: in batches, acknowledged only once saved.

Every commit and status change in Redis appends an entry to the `parley:{record}` stream
in the same script call (bot/storage/lua). The recorder (bot/recorder.py) reads the
stream through a consumer group, writes each batch in one database transaction, and only
then acknowledges and deletes the entries. A recorder killed mid-batch leaves its entries
pending; once they have waited `claim_after_ms` (RECORD_CLAIM_AFTER, bot/config.py)
another recorder, or its own restart (which reads under a new name), claims them and
writes them again, which changes nothing that was already written (bot/record/writer.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy.exc import DataError, IntegrityError

from bot.domain.messages import parse_ref
from bot.record.writer import Click, Commit, Entry, RecordWriter, StatusChange

GROUP = "record"
DEAD_SUFFIX = ":dead"  # entries the record cannot take, kept for a person to look at
# Link clicks written, counted or not ("true"/"false"): keys.LINK_CLICKS, for /metrics.
CLICKS_SUFFIX = ":clicks"
log = logging.getLogger(__name__)

BATCH = 500
FEED_LENGTH = 1000  # batches the feed keeps: live pages a minute behind catch up from it
CLAIM_AFTER_MS = 30_000  # an entry pending this long belongs to a consumer that died


# What an entry itself can be at fault for: a value its column cannot hold, a missing
# required one, or a shape the writer cannot read (LookupError, TypeError, ValueError).
_REFUSED = (DataError, IntegrityError, LookupError, TypeError, ValueError)

# One entry as read: its id, what it says (None if unreadable) and its raw fields.
Read = tuple[str, Entry | None, dict[str, str]]


@dataclass(frozen=True)
class Lag:
    """How far the record is behind Redis."""

    entries: int  # entries not yet written
    seconds: float  # age of the oldest of them (0 when there are none)
    dead: int = 0  # entries set aside because the record cannot take them


class RecordDrain:
    """Reads the record stream as one consumer of its group and writes what it reads."""

    def __init__(
        self,
        client: redis.Redis,
        writer: RecordWriter,
        stream: str,
        consumer: str,
        claim_after_ms: int = CLAIM_AFTER_MS,
        feed: str | None = None,
    ) -> None:
        self.redis = client
        self.writer = writer
        self.stream = stream  # bot.storage.keys.RECORD
        self.consumer = consumer
        self.claim_after_ms = claim_after_ms
        # Where each batch names the contacts it changed, once written (keys.RECORD_FEED).
        self.feed = feed
        self._grouped = False
        # The contacts whose new messages the latest batch wrote into the record, each
        # with the newest of them; and the batch's newest entry.
        self.written: dict[str, str] = {}
        self.newest: str | None = None

    def run_once(self, block_ms: int | None = None) -> int:
        """Write one batch (this consumer's unfinished one first); return how many entries."""
        self._ensure_group()
        batch = self._read("0")  # ours, read before but not yet acknowledged
        if not batch:
            batch = self._claim()
        if not batch:
            batch = self._read(">", block_ms)
        if not batch:
            self.written, self.newest = {}, None
            return 0
        readable = [(entry_id, entry) for entry_id, entry, _ in batch if entry is not None]
        refused = self._write(readable)
        refused |= {entry_id for entry_id, entry, _ in batch if entry is None}
        dead = self.stream + DEAD_SUFFIX
        pipe = self.redis.pipeline(transaction=True)
        for entry_id, _, fields in batch:
            if entry_id in refused:  # kept aside for a person to look at, never dropped
                kept: dict[Any, Any] = {**fields, "id": entry_id}
                pipe.xadd(dead, kept)
        ids = [entry_id for entry_id, _, _ in batch]
        self.written = {
            entry.phone: entry.messages[-1]["id"]  # a batch is in stream order
            for entry_id, entry, _ in batch
            if isinstance(entry, Commit) and entry.messages and entry_id not in refused
        }
        self.newest = max(ids, key=entry_order)
        changed = {entry.phone for entry_id, entry, _ in batch if entry and entry_id not in refused}
        if self.feed and changed:
            pipe.xadd(self.feed, {"p": " ".join(sorted(changed))}, maxlen=FEED_LENGTH)
        # Counted with the acknowledgement, in one transaction: a batch written again
        # (its acknowledgement lost) counts only the clicks new to the record.
        for flag, count in self.writer.clicks_written.items():
            if count:
                pipe.hincrby(self.stream + CLICKS_SUFFIX, "true" if flag else "false", count)
        pipe.xack(self.stream, GROUP, *ids)
        pipe.xdel(self.stream, *ids)
        pipe.execute()
        if refused:
            log.error(
                "%d record stream entries could not be written; kept in %s", len(refused), dead
            )
        return len(ids)

    def _write(self, batch: list[tuple[str, Entry]]) -> set[str]:
        """Write the batch; return the ids of entries the database refuses on their own.

        A refusal (a value too long for its column, a field missing) fails the whole
        transaction: the entries are then written one by one, so one bad entry cannot hold
        up the rest.
        Other errors (the database is down) propagate: nothing is acknowledged.
        """
        self.writer.clicks_written = {}
        if not batch:
            return set()
        try:
            self.writer.apply([entry for _, entry in batch])
            return set()
        except _REFUSED:
            log.warning("the record refused a batch; writing its entries one by one")
        refused = set()
        for entry_id, entry in batch:
            try:
                self.writer.apply([entry])
            except _REFUSED as exc:
                log.error("record stream entry %s refused: %s", entry_id, exc)
                refused.add(entry_id)
        return refused

    def lag(self) -> Lag:
        """Return how many entries wait and how old the oldest is, by Redis' clock."""
        return lag(self.redis, self.stream)

    def oldest(self) -> str | None:
        """Return the id of the oldest entry not yet written (None when all are).

        Entries leave the stream once written, so every entry before it is in the record.
        """
        first: Any = self.redis.xrange(self.stream, count=1)
        return _text(first[0][0]) if first else None

    def lag_start(self, now: float) -> float:
        """Return the time (epoch seconds) of the oldest entry not yet written, else `now`.

        Everything committed before it is in the record.
        """
        first = self.oldest()
        return _ms(first) / 1000 if first else now

    def _ensure_group(self) -> None:
        if self._grouped:
            return
        try:
            self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._grouped = True

    def _read(self, start: str, block_ms: int | None = None) -> list[Read]:
        try:
            # redis-py types replies loosely; this one is [[stream, [(id, fields), ...]]].
            reply: Any = self.redis.xreadgroup(
                GROUP, self.consumer, {self.stream: start}, count=BATCH, block=block_ms
            )
        except redis.exceptions.ResponseError as exc:
            if "NOGROUP" in str(exc):  # Redis lost the group (restarted empty): make it again
                self._grouped = False
            raise
        return [parsed for _, items in reply or [] for parsed in _parse(items)]

    def _claim(self) -> list[Read]:
        # [next start, [(id, fields), ...], deleted ids]
        reply: Any = self.redis.xautoclaim(
            self.stream, GROUP, self.consumer, min_idle_time=self.claim_after_ms, count=BATCH
        )
        return _parse(reply[1])


def lag(client: redis.Redis, stream: str) -> Lag:
    """Return how far the record is behind: entries not yet written, the oldest's age, and
    how many were set aside."""
    pipe = client.pipeline(transaction=False)
    ask_lag(pipe, stream)
    return read_lag(pipe.execute())


# How many replies ask_lag's commands add to a pipeline.
LAG_REPLIES = 4


def ask_lag(pipe: redis.client.Pipeline, stream: str) -> None:
    """Add to `pipe` the LAG_REPLIES commands whose replies read_lag reads, in order."""
    pipe.xlen(stream)
    pipe.xlen(stream + DEAD_SUFFIX)
    pipe.xrange(stream, count=1)
    pipe.time()


def read_lag(reply: Sequence[Any]) -> Lag:
    """Return the Lag that the replies to ask_lag's commands say."""
    count, dead, first, (seconds, micros) = int(reply[0]), int(reply[1]), reply[2], reply[3]
    if not count or not first:
        return Lag(count, 0.0, dead)
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    return Lag(count, max(0.0, (now_ms - _ms(first[0][0])) / 1000), dead)


def entry_order(entry_id: str) -> tuple[int, int]:
    """Return a stream entry id ("<ms>-<seq>") as numbers that sort as the stream does."""
    milliseconds, sequence = entry_id.split("-", 1)
    return int(milliseconds), int(sequence)


def _ms(entry_id: str | bytes) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def _parse(items: Sequence[Any]) -> list[Read]:
    """Read stream entries as writer entries (None for one that cannot be read)."""
    out: list[Read] = []
    for raw_id, raw_fields in items:
        if raw_fields is None:  # deleted while pending: nothing left to write
            continue
        entry_id = _text(raw_id)
        fields = {_text(k): _text(v) for k, v in raw_fields.items()}
        try:
            out.append((entry_id, _entry(entry_id, fields), fields))
        except (KeyError, TypeError, ValueError) as exc:
            log.error("record stream entry %s cannot be read: %r", entry_id, exc)
            out.append((entry_id, None, fields))
    return out


def _entry(entry_id: str, fields: dict[str, str]) -> Entry:
    """Return what one stream entry says; its id names it and dates it."""
    at = datetime.fromtimestamp(_ms(entry_id) / 1000, UTC).isoformat()
    if "m" in fields:  # a status change: m names the message, s its status
        phone, message = parse_ref(fields["m"])
        error = fields.get("e")
        return StatusChange(
            entry_id,
            at,
            phone,
            message,
            fields["s"],
            sid=fields.get("sid") or None,
            error_code=int(error) if error else None,
            reason=fields.get("r") or None,
            send_at=fields.get("a") or None,
        )
    if "k" in fields:  # a click on a tracked link (k), named by its id (i)
        # Dated by its entry, by Redis' clock, as status changes are: the two are compared.
        link = json.loads(fields["k"])
        return Click(
            entry_id,
            at,
            str(link["phone"]),
            fields["i"],
            str(link["code"]),
            str(link["url"]),
            message=link.get("message") or None,
            journey=link.get("journey") or None,
            step=link.get("step") or None,
            user_agent=fields.get("ua") or None,
        )
    commit = json.loads(fields["c"])  # a commit: what it changed for one contact
    return Commit(
        str(commit.get("id") or entry_id),  # a backfill names its entries (storage/migrations)
        at,
        commit["phone"],
        contact=commit.get("contact"),
        runs=commit.get("runs", ()),
        messages=commit.get("messages", ()),
        events=commit.get("events", ()),
        links=commit.get("links", ()),
    )


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
