"""The RQ jobs that bot.delivery.outbox enqueues by name, run with the process's runtime."""

from __future__ import annotations

from bot.delivery.sender import Sender
from bot.runtime import current


def drain(budget: float = 30.0) -> int:
    """Send queued messages until the outbox is empty or `budget` seconds pass."""
    return Sender(current()).drain(budget)


def check_sends(checks: list[tuple[str, int]]) -> None:
    """Settle sends whose outcome was unknown, each on its own."""
    Sender(current()).check_each(checks)
