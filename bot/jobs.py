"""The RQ jobs that bot.delivery.outbox enqueues by name, run with the process's runtime."""

from __future__ import annotations

from bot.delivery import handoff_notice
from bot.delivery.sender import Sender
from bot.domain.contacts import ConversationStatus
from bot.runtime import current


def drain(budget: float = 30.0) -> int:
    """Send queued messages until the outbox is empty or `budget` seconds pass."""
    return Sender(current()).drain(budget)


def check_sends(checks: list[tuple[str, int]]) -> None:
    """Settle sends whose outcome was unknown, each on its own."""
    Sender(current()).check_each(checks)


def notify_handoff(phone: str, mark: str) -> None:
    """Tell the hand-off webhook that a conversation waits for staff, if it still does."""
    runtime = current()
    contact = runtime.store.load_contact(phone)
    if runtime.settings.handoff_webhook_url is None or contact is None:
        return
    if contact.conversation != ConversationStatus.OPEN or contact.waiting_since != mark:
        return  # answered, handed back or resolved since: nobody needs telling now
    handoff_notice.send(runtime.settings, contact)
