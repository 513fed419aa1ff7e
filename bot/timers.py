"""Durable timers in a Redis sorted set: each fires once, however many workers poll."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot import lua
from bot.store import Store, timer_member

# Claimed timers sit in an in-flight set until handled; if their worker dies they
# come back after this many seconds, so a crash delays a timer but never loses it.
INFLIGHT_TIMEOUT = 60


class Timers:
    """Schedules and claims timers; payloads are small JSON objects."""

    def __init__(self, store: Store) -> None:
        self.redis = store.redis
        self.key = store.key("timers")
        self.inflight_key = store.key("timers", "inflight")
        self._claim = lua.register(self.redis, "claim_due")
        self._recover = lua.register(self.redis, "recover_timers")

    def schedule(self, due: datetime, payload: dict[str, Any]) -> None:
        """Add a timer outside a transition (transitions use Turn.schedule)."""
        self.redis.zadd(self.key, {timer_member(payload): due.timestamp()})

    def claim_due(self, now: datetime, limit: int = 500) -> list[tuple[str, dict[str, Any]]]:
        """Claim up to `limit` timers due at `now`, earliest first."""
        stamp = now.timestamp()
        members = self._claim(keys=[self.key, self.inflight_key], args=[stamp, limit, stamp])
        return [(member, json.loads(member)) for member in members]

    def done(self, *members: str) -> None:
        """Forget claimed timers once they have been handled."""
        if members:
            self.redis.zrem(self.inflight_key, *members)

    def recover(self, now: datetime) -> int:
        """Return timers whose worker died to the due set; return how many."""
        stamp = now.timestamp()
        return int(
            self._recover(
                keys=[self.key, self.inflight_key], args=[stamp - INFLIGHT_TIMEOUT, stamp]
            )
        )

    def pending(self) -> int:
        """Return how many timers are scheduled."""
        return self.redis.zcard(self.key)
