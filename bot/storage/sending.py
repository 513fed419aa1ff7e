"""Sending, as the Redis store does it: a message claimed by one sender, then settled.

Each step is one Lua script: claim (which also reads the guardrails and takes a place under
the frequency caps), settle and defer (which give that place back when the message does not
go out), accept and advance a Twilio status.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

import redis

from bot.domain.consent import Purpose
from bot.domain.guardrails import Standing
from bot.domain.messages import RANK, Message, parse_ref
from bot.storage import jsonio, keys
from bot.storage.replies import text, text_hash
from bot.storage.scripts import ScriptRunner

# A sid's link to its message lasts as long as Twilio sends status callbacks for it.
SID_LINK_TTL = 30 * 24 * 3600
# A status callback that came before its sid was linked waits this long for the link.
PARKED_TTL = 3600
_RANK_JSON = jsonio.dumps({str(status): rank for status, rank in RANK.items()})
_LATENCY_BOUNDS = " ".join(keys.SEND_LATENCY_BOUNDS)
# What advancing a status did (bot/storage/lua/advance_status.lua).
_PARKED, _RELINKED, _APPLIED = 0, 1, 2


class Sending:
    """The store's half that hands messages to senders and follows their statuses."""

    redis: redis.Redis
    scripts: ScriptRunner

    def message(self, ref: str) -> Message | None:
        """Return one message by its ref (Message.ref)."""
        data = self.redis.hgetall(keys.message(*parse_ref(ref)))
        return Message.from_hash(text_hash(data)) if data else None

    def in_conversation_order(self, refs: list[str]) -> list[str]:
        """Return one contact's message refs in the order the messages were made."""
        pipe = self.redis.pipeline(transaction=False)
        for ref in refs:
            pipe.hget(keys.message(*parse_ref(ref)), "seq")
        seqs = [int(seq or 0) for seq in pipe.execute()]
        return [ref for _, _, ref in sorted(zip(seqs, range(len(refs)), refs, strict=True))]

    def claim_message(
        self,
        ref: str,
        token: str,
        now: datetime | None = None,
        caps: Iterable[tuple[int, float]] = (),
    ) -> tuple[Message, Standing | None] | None:
        """Move a pending message to `submitting`; return it and its contact's standing.

        A marketing message that counts against `caps` ((count, window seconds), ...) also
        takes its place under them at `now`, if its contact may get it: the standing says
        whether it did (`placed`) or when there will be room (`room`).
        """
        phone, message_id = parse_ref(ref)
        names = [keys.message(phone, message_id), keys.contact(phone), keys.sent_marketing(phone)]
        reply = self.scripts("claim", names, [token, *_cap_arguments(now, list(caps))])
        if not reply:
            return None
        flat, exists, subscribed, undeliverable, marketing, transactional, timezone, place = reply[
            :8
        ]
        marketing_changed, transactional_changed, timezone_set, run_status = reply[8:12]
        message = Message.from_hash(dict(zip(flat[::2], flat[1::2], strict=True)))
        if exists != "1":
            return message, None
        standing = Standing(
            subscribed=subscribed == "1",
            undeliverable=int(undeliverable) if undeliverable else None,
            marketing=marketing == "1",
            transactional=transactional == "1",
            timezone=timezone or None,
            timezone_set={"1": True, "0": False}.get(timezone_set),
            run=run_status or None,
            changed={
                Purpose.MARKETING: marketing_changed or None,
                Purpose.TRANSACTIONAL: transactional_changed or None,
            },
            placed=place == "0",
            room=datetime.fromtimestamp(float(place), UTC) if place not in ("", "0") else None,
        )
        return message, standing

    def settle(
        self,
        ref: str,
        attempt: int,
        status: str,
        error_code: int | None = None,
        *,
        requeue: bool = False,
        reason: str | None = None,
        release: bool = False,
    ) -> bool:
        """Give attempt `attempt` of a message its outcome; False if it has moved on since.

        With `release` (the message did not go out), the place its claim took under the
        frequency caps is given back in the same step, and only if the attempt is settled.
        """
        phone, message_id = parse_ref(ref)
        names = [keys.message(phone, message_id), keys.OUTBOX, keys.RECORD]
        names += [keys.OUTBOUND_COUNTS, keys.sent_marketing(phone)]
        error, again = _blank_if_none(error_code), "1" if requeue else "0"
        given_back = message_id if release else ""
        args = [str(attempt), str(status), error, again, ref, reason or "", given_back]
        return bool(self.scripts("settle", names, args))

    def defer(
        self,
        ref: str,
        attempt: int,
        until: datetime,
        timer: tuple[float, str],
        reason: str,
        *,
        release: bool = False,
        wait: tuple[float, str] | None = None,
    ) -> bool:
        """Hold attempt `attempt` of a message until `until`; False if it has moved on since.

        `timer` is (due, member): the timer, set in the same step, that sends it on. With
        `release`, the place its claim took under the frequency caps is given back; `wait`
        (seconds, member) moves the timeout of the wait the message asks for by as much.
        """
        due, member = timer
        phone, message_id = parse_ref(ref)
        names = [keys.message(phone, message_id), keys.TIMERS, keys.RECORD]
        names += [keys.sent_marketing(phone), keys.OUTBOUND_COUNTS]
        given_back = message_id if release else ""
        later, timeout = wait or (0.0, "")
        args = [str(attempt), until.isoformat(), repr(due), member, reason, ref, given_back]
        args += [repr(later), timeout]
        return bool(self.scripts("defer", names, args))

    def now(self) -> float:
        """Return Redis' clock, the one every worker's leases and attempts are timed by."""
        seconds, micros = self.redis.time()
        return seconds + micros / 1_000_000

    def sid_known(self, sid: str) -> bool:
        """Say whether a Twilio sid is already linked to one of Parley's messages."""
        return bool(self.redis.exists(keys.sid_link(sid)))

    def accept(self, ref: str, sid: str, status: str, error_code: int | None = None) -> str | None:
        """Record that Twilio accepted a message as `sid`; return its resulting status.

        None means the message is unknown or already linked to another sid.
        """
        names = [
            keys.message(*parse_ref(ref)),
            keys.sid_link(sid),
            keys.parked(sid),
            keys.RECORD,
            keys.OUTBOUND_COUNTS,
            keys.SEND_LATENCY,
        ]
        error = _blank_if_none(error_code)
        args = [ref, sid, str(status), _RANK_JSON, error, SID_LINK_TTL, _LATENCY_BOUNDS]
        return self.scripts("accept", names, args)

    def advance_status(
        self, sid: str, status: str, error_code: int | None = None
    ) -> tuple[str, str, str, bool] | None:
        """Apply a Twilio status if it moves forward; return (ref, phone, status, changed).

        None means no message is linked to `sid` yet: the status waits for the link.
        """
        names = [keys.sid_link(sid), keys.parked(sid), keys.RECORD, keys.OUTBOUND_COUNTS]
        while True:
            # The link names the message, whose key the script must be given: read it first.
            link = self.redis.get(names[0])
            ref = "" if link is None else text(link)
            try:
                message = [keys.message(*parse_ref(ref))] if ref else []
            except ValueError:
                return None  # not a link Parley wrote
            args = [status, _blank_if_none(error_code), _RANK_JSON, PARKED_TTL, ref]
            reply = self.scripts("advance_status", names + message, args)
            if int(reply[0]) == _PARKED:
                return None
            if int(reply[0]) == _APPLIED:
                return ref, parse_ref(ref)[0], reply[1], bool(reply[2])
            # Linked or expired between the read and the script: read the link again.


def _cap_arguments(now: datetime | None, caps: list[tuple[int, float]]) -> list[str | int]:
    """Return claim.lua's arguments for the caps a message counts against (none: no cap)."""
    if now is None or not caps:
        return []
    stamp = now.timestamp()
    longest = max(window for _, window in caps)
    args: list[str | int] = [repr(stamp), f"({stamp - longest!r}", math.ceil(longest * 1000)]
    for count, window in caps:
        args += [count, repr(window), f"({stamp - window!r}"]
    return args


def _blank_if_none(value: object) -> str:
    """Return `value` as a script argument: None is the empty string."""
    return "" if value is None else str(value)
