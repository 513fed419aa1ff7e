"""A message's row in the record, merged from its commit and status changes in any order.

Its status history is a set of (status, time) kept in time order, statuses of one
millisecond in the order their ranks allow; its status is the furthest in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.domain.messages import RANK
from bot.record.entries import Commit, StatusChange
from bot.record.times import cached_moment

_moment = cached_moment


def message_merged(
    row: dict[str, Any] | None, message_id: str, entry: Commit | StatusChange
) -> dict[str, Any]:
    """Return the message row with `entry` applied, whatever order entries arrive in."""
    if isinstance(entry, Commit):
        data = next(m for m in entry.messages if m["id"] == message_id)
        created = message_row(data)
        if row is None:
            return created
        # The message itself (a replay, or a status that overtook it): its content wins,
        # the statuses are merged, and a click recorded on the row stays.
        history = _history(row["status_history"], created["status_history"])
        updates = {
            k: v
            for k, v in created.items()
            if k not in ("sid", "error_code", "clicked_at")
            and not (k in ("reason", "send_at") and v is None)
        }
        return _with_status({**row, **updates}, history)
    if row is None:  # a status that overtook its message: a placeholder until it arrives
        row = {
            "id": message_id,
            "phone": entry.phone,
            "direction": "outbound",
            "body": "",
            "kind": None,
            "journey": None,
            "step": None,
            "status": entry.status,
            "status_history": [],
            "reason": None,
            "sid": None,
            "error_code": None,
            "segments": None,
            "seq": 0,
            "author": None,
            "send_at": None,
            "clicked_at": None,
            "created_at": _moment(entry.at),
            "updated_at": _moment(entry.at),
        }
    row = dict(row)
    if entry.sid:
        row["sid"] = entry.sid
    if entry.error_code is not None:
        row["error_code"] = entry.error_code
    if entry.reason:
        row["reason"] = entry.reason
    if entry.send_at:
        row["send_at"] = _moment(entry.send_at)
    return _with_status(row, _history(row["status_history"], [[entry.status, entry.at]]))


def message_row(data: Mapping[str, str]) -> dict[str, Any]:
    return {
        "id": data["id"],
        "phone": data["phone"],
        "direction": data["direction"],
        "body": data.get("body", ""),
        "kind": data.get("kind"),
        "journey": data.get("journey"),
        "step": data.get("step"),
        "status": data["status"],
        "status_history": [[data["status"], data["at"]]],
        "reason": data.get("reason"),
        "sid": data.get("sid"),
        "error_code": int(data["error_code"]) if data.get("error_code") else None,
        "segments": None,
        "seq": int(data.get("seq") or 0),
        "author": data.get("author"),
        "send_at": _moment(data.get("send_at")),
        "clicked_at": None,  # a click is recorded on the row written before
        "created_at": _moment(data["at"]),
        "updated_at": _moment(data["at"]),
    }


def _history(*parts: Sequence[Sequence[str]]) -> list[list[str]]:
    """Merge status histories: each (status, time) once, oldest first.

    A status change is dated by its stream entry, to the millisecond, so two can share a
    time (Twilio's `sent` and `delivered` often do). Redis moves a message only to a
    status of higher rank (but for a send tried again, long after), so among those the
    higher rank came later.
    """
    seen = {(status, at) for part in parts for status, at in part}
    return [list(pair) for pair in sorted(seen, key=_status_order)]


def _status_order(pair: tuple[str, str]) -> tuple[datetime | None, int, str]:
    status, at = pair
    return _moment(at), RANK.get(status, 0), status


def _with_status(row: dict[str, Any], history: list[list[str]]) -> dict[str, Any]:
    """Set the row's history, and its status: the furthest in it, the latest among equals.

    By rank first, as Redis moves a message only forward: a message's creation is dated
    by the app's clock and its status changes by Redis', so time alone could put a
    `pending` written on a fast clock after the `failed` that followed it.
    """
    status, _ = max(history, key=lambda pair: (RANK.get(pair[0], 0), _when(pair[1])))
    latest = max(_when(when) for _, when in history)
    return {**row, "status_history": history, "status": status, "updated_at": latest}


def _when(text: str) -> datetime:
    found = _moment(text)
    assert found is not None, "a status history's times are never empty"
    return found
