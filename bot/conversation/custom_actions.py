"""The custom actions that ship with Parley; each is a plain rasa_sdk Action."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

# What each shipping status means to the person who ordered.
_STATUS_TEXT = {
    "placed": "has been placed and is being prepared",
    "packed": "is packed and waiting for the courier",
    "shipped": "is on its way",
    "out_for_delivery": "is out for delivery today",
    "delivered": "has been delivered",
}


class ActionOrderStatus(Action):
    """Tell the customer where their order is, from the order's slots."""

    def name(self) -> str:
        """Return the name journeys use in `action:`."""
        return "action_order_status"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Describe the order's status and remember when we last told them."""
        order = tracker.get_slot("order_id")
        status = tracker.get_slot("order_status")
        if not order:
            dispatcher.utter_message(text="We couldn't find an order for this number yet.")
            return [SlotSet("order_status_known", False)]
        text = f"Order {order} " + _STATUS_TEXT.get(str(status), "is being processed")
        tracking = tracker.get_slot("tracking_url")
        dispatcher.utter_message(text=f"{text}." + (f" Track it: {tracking}" if tracking else ""))
        return [SlotSet("order_status_known", True), SlotSet("last_status_told", status)]
