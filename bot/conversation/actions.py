"""Custom actions: rasa_sdk actions run in-process, or on a remote Rasa action server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor

from bot.domain.contacts import Contact

log = logging.getLogger(__name__)
T = TypeVar("T")
# rasa_sdk logs each action it registers at INFO, in every process at start-up; its
# warnings and errors are still worth reading.
logging.getLogger("rasa_sdk.executor").setLevel(logging.WARNING)

BUILTIN_PACKAGES = ("bot.conversation.custom_actions",)


class ActionFailed(Exception):
    """A custom action could not run; the message says why."""


@dataclass(frozen=True)
class ActionOutcome:
    """What an action returned: slots to store as contact fields, and texts to send."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    messages: tuple[str, ...] = ()


def tracker_state(
    contact: Contact, data: Mapping[str, Any], latest_text: str = ""
) -> dict[str, Any]:
    """Return a Rasa tracker state for a contact: slots are event data, then contact fields."""
    slots = {**data, **contact.fields, "phone": contact.phone, "language": contact.language}
    return {
        "sender_id": contact.phone,
        "slots": slots,
        "latest_message": {"text": latest_text, "intent": {}, "entities": []},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": None,
    }


def outcome_of(
    events: Iterable[Mapping[str, Any]], responses: Iterable[Mapping[str, Any]]
) -> ActionOutcome:
    """Turn an action server's answer into fields (from SlotSet events) and texts."""
    fields = {
        e["name"]: e.get("value") for e in events if e.get("event") == "slot" and e.get("name")
    }
    texts = tuple(r["text"] for r in responses if r.get("text"))
    return ActionOutcome(fields=fields, messages=texts)


class ActionRunner:
    """Runs named actions through rasa_sdk's own executor, or posts them to ACTION_ENDPOINT."""

    def __init__(
        self,
        endpoint: str | None = None,
        packages: Iterable[str] = BUILTIN_PACKAGES,
        timeout: float = 10.0,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.executor = ActionExecutor()
        for package in packages:
            self.executor.register_package(package)

    def register(self, action: type[Action] | Action) -> None:
        """Make an action class available by its name()."""
        self.executor.register_action(action)

    def run(self, name: str, tracker: Mapping[str, Any]) -> ActionOutcome:
        """Run action `name` against a tracker state and return what it produced."""
        call = {
            "next_action": name,
            "sender_id": tracker["sender_id"],
            "tracker": dict(tracker),
            "domain": {},
            "version": "3.0",
        }
        if name in self.executor.actions:
            try:
                result = _run_coroutine(self.executor.run(call))
            except Exception as exc:
                raise ActionFailed(f"action {name!r} failed: {exc}") from exc
            return outcome_of(result.events, result.responses)
        if not self.endpoint:
            raise ActionFailed(f"no action named {name!r} and no ACTION_ENDPOINT to ask")
        try:
            response = requests.post(self.endpoint, json=call, timeout=self.timeout)
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ActionFailed(f"action server failed on {name!r}: {exc}") from exc
        return outcome_of(body.get("events", []), body.get("responses", []))


def _run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from synchronous code, even where a loop already runs.

    A thread whose event loop is running (an async host, a browser driver) cannot run
    another one: the coroutine then gets a loop of its own in a short-lived thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
