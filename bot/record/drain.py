"""Copying the record stream into the record: in batches, acknowledged only once saved.

Every commit and status change in Redis appends an entry to the `parley:{record}` stream
in the same script call (bot/storage/lua). The worker reads the stream through a
consumer group, writes each batch in one database transaction, and only then
acknowledges and deletes the entries. A worker killed mid-batch leaves its entries
pending; another (or the same, restarted) claims them after CLAIM_AFTER and writes them
again, which changes nothing that was already written (bot/record/writer.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from bot.record.writer import Entry, RecordWriter

GROUP = "record"
BATCH = 500
CLAIM_AFTER_MS = 30_000  # an entry pending this long belongs to a consumer that died


@dataclass(frozen=True)
class Lag:
    """How far the record is behind Redis."""

    entries: int  # entries not yet written
    seconds: float  # age of the oldest of them (0 when there are none)


class RecordDrain:
    """Reads the record stream as one consumer of its group and writes what it reads."""

    def __init__(
        self,
        client: redis.Redis,
        writer: RecordWriter,
        stream: str,
        consumer: str,
        claim_after_ms: int = CLAIM_AFTER_MS,
    ) -> None:
        self.redis = client
        self.writer = writer
        self.stream = stream  # bot.storage.keys.RECORD
        self.consumer = consumer
        self.claim_after_ms = claim_after_ms
        self._grouped = False

    def run_once(self, block_ms: int | None = None) -> int:
        """Write one batch (this consumer's unfinished one first); return how many entries."""
        self._ensure_group()
        batch = self._read("0")  # ours, read before but not yet acknowledged
        if not batch:
            batch = self._claim()
        if not batch:
            batch = self._read(">", block_ms)
        if not batch:
            return 0
        self.writer.apply([entry for _, entry in batch])
        ids = [entry_id for entry_id, _ in batch]
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(self.stream, GROUP, *ids)
        pipe.xdel(self.stream, *ids)
        pipe.execute()
        return len(ids)

    def lag(self) -> Lag:
        """Return how many entries wait and how old the oldest is, by Redis' clock."""
        return lag(self.redis, self.stream)

    def _ensure_group(self) -> None:
        if self._grouped:
            return
        try:
            self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._grouped = True

    def _read(self, start: str, block_ms: int | None = None) -> list[tuple[str, Entry]]:
        # redis-py types replies loosely; this one is [[stream, [(id, fields), ...]]].
        reply: Any = self.redis.xreadgroup(
            GROUP, self.consumer, {self.stream: start}, count=BATCH, block=block_ms
        )
        return [parsed for _, items in reply or [] for parsed in _parse(items)]

    def _claim(self) -> list[tuple[str, Entry]]:
        # [next start, [(id, fields), ...], deleted ids]
        reply: Any = self.redis.xautoclaim(
            self.stream, GROUP, self.consumer, min_idle_time=self.claim_after_ms, count=BATCH
        )
        return _parse(reply[1])


def lag(client: redis.Redis, stream: str) -> Lag:
    """Return how far the record is behind: entries not yet written, and the oldest's age."""
    count = int(client.xlen(stream))
    if not count:
        return Lag(0, 0.0)
    first: Any = client.xrange(stream, count=1)
    if not first:
        return Lag(count, 0.0)
    first_id = first[0][0]
    clock: Any = client.time()
    seconds, micros = clock
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    return Lag(count, max(0.0, (now_ms - _ms(first_id)) / 1000))


def _ms(entry_id: str | bytes) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def _parse(items: Sequence[Any]) -> list[tuple[str, Entry]]:
    """Turn stream entries into writer entries; an entry's id names it and dates it."""
    out = []
    for raw_id, fields in items:
        if fields is None:  # deleted while pending: nothing left to write
            continue
        entry_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
        data = {_text(k): _text(v) for k, v in fields.items()}
        at = datetime.fromtimestamp(_ms(entry_id) / 1000, UTC).isoformat()
        if "message" in data:
            message = _pairs(json.loads(data["message"]))
            out.append((entry_id, Entry(entry_id, at, None, [message] if message else [])))
            continue
        messages = [_pairs(flat) for flat in _list(json.loads(data.get("messages", "[]")))]
        events = [json.loads(text) for text in _list(json.loads(data.get("events", "[]")))]
        contact = json.loads(data["contact"])
        out.append((entry_id, Entry(entry_id, at, contact, messages, events)))
    return out


def _list(value: Any) -> list[Any]:
    # Lua's cjson writes an empty table as {}, not [].
    return value if isinstance(value, list) else []


def _pairs(flat: Any) -> dict[str, str]:
    flat = _list(flat)
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
