"""Clicks on tracked short links, as the redirect keeps them: found and recorded in one step.

The redirect (`GET /l/<code>`) answers at once: one script call finds the link, appends
the click to the record stream, and sets the timer through which the worker lets the
click move the contact's journeys (bot/storage/lua/click.lua). A link Redis has let go
(after LINK_TTL_DAYS) is found in the record instead, and its click kept with `keep`.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from bot.domain.links import Link
from bot.storage import jsonio, keys
from bot.storage.scripts import ScriptRunner


def click(
    scripts: ScriptRunner, code: str, click_id: str, user_agent: str, due: float | None
) -> Link | None:
    """Find the link `code` and record a click on it; None, recording nothing, if unknown.

    `due` (epoch seconds) sets the click's timer, for journeys that start or wait on clicks.
    """
    names = [keys.link(code), keys.RECORD, keys.TIMERS]
    args = [click_id, user_agent, "1" if due is not None else "0", repr(due or 0.0), code]
    raw = scripts("click", names, args)
    return Link.from_dict(jsonio.loads(raw)) if raw else None


def find(client: redis.Redis, code: str) -> Link | None:
    """Return the link `code` as Redis has it, recording nothing."""
    raw = client.get(keys.link(code))
    return Link.from_dict(jsonio.loads(raw)) if raw else None


def keep(
    client: redis.Redis, link: Link, click_id: str, user_agent: str, due: float | None
) -> None:
    """Record a click on a link found elsewhere (the record): the same entry and timer."""
    entry: dict[Any, Any] = {"k": jsonio.dumps(link.to_dict()), "i": click_id, "ua": user_agent}
    pipe = client.pipeline(transaction=False)
    pipe.xadd(keys.RECORD, entry)
    if due is not None:
        timer = {"type": "click", "click": click_id, "code": link.code, "at": time.time()}
        pipe.zadd(keys.TIMERS, {jsonio.dumps(timer, sort_keys=True): due})
    pipe.execute()
