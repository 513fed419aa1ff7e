"""Custom actions through rasa_sdk's executor, and through a remote action server."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask, jsonify, request
from rasa_sdk import Action
from rasa_sdk.events import SlotSet
from werkzeug.serving import make_server

from bot.conversation.actions import ActionFailed, ActionRunner, tracker_state
from bot.domain.contacts import Contact


def contact(**fields) -> Contact:
    return Contact(phone="+14155550123", timezone="UTC", created_at="2026-11-30", fields=fields)


def test_the_shipped_order_status_action_runs_in_process() -> None:
    tracker = tracker_state(
        contact(order_id="A-1042"),
        {"order_status": "shipped", "tracking_url": "https://t.example/9"},
    )
    outcome = ActionRunner().run("action_order_status", tracker)
    assert outcome.messages == ("Order A-1042 is on its way. Track it: https://t.example/9",)
    assert outcome.fields == {"order_status_known": True, "last_status_told": "shipped"}


def test_contact_fields_win_over_event_data_in_slots() -> None:
    state = tracker_state(contact(order_id="from-contact"), {"order_id": "from-event"})
    assert state["slots"]["order_id"] == "from-contact"
    assert state["sender_id"] == "+14155550123"


def test_a_registered_action_class_is_found_by_name() -> None:
    class ActionGreetVip(Action):
        def name(self) -> str:
            return "action_greet_vip"

        def run(self, dispatcher, tracker, domain):
            dispatcher.utter_message(text=f"Welcome back, {tracker.get_slot('first_name')}!")
            return [SlotSet("greeted", True)]

    runner = ActionRunner()
    runner.register(ActionGreetVip)
    outcome = runner.run("action_greet_vip", tracker_state(contact(first_name="Ana"), {}))
    assert outcome.messages == ("Welcome back, Ana!",)
    assert outcome.fields == {"greeted": True}


def test_an_unknown_action_without_an_endpoint_fails_clearly() -> None:
    with pytest.raises(ActionFailed, match="no action named 'action_nope'"):
        ActionRunner().run("action_nope", tracker_state(contact(), {}))


@pytest.fixture
def action_server():
    app = Flask("fake-rasa-action-server")
    calls = []

    @app.post("/webhook")
    def webhook():
        calls.append(request.get_json())
        return jsonify(
            {
                "events": [{"event": "slot", "name": "loyalty_points", "value": 120}],
                "responses": [{"text": "You have 120 points."}],
            }
        )

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/webhook", calls
    server.shutdown()


def test_actions_unknown_here_go_to_the_action_endpoint(action_server) -> None:
    url, calls = action_server
    runner = ActionRunner(endpoint=url)
    outcome = runner.run("action_points", tracker_state(contact(first_name="Sam"), {}))
    assert outcome.fields == {"loyalty_points": 120}
    assert outcome.messages == ("You have 120 points.",)
    assert calls[0]["next_action"] == "action_points"
    assert calls[0]["tracker"]["slots"]["first_name"] == "Sam"


def test_an_action_server_that_is_down_fails_clearly() -> None:
    runner = ActionRunner(endpoint="http://127.0.0.1:1/webhook", timeout=1)
    with pytest.raises(ActionFailed, match="action server failed"):
        runner.run("action_points", tracker_state(contact(), {}))


def test_rasa_sdk_warnings_still_reach_the_log() -> None:
    import logging

    import bot.conversation.actions  # noqa: F401  (it sets rasa_sdk's log level)

    executor = logging.getLogger("rasa_sdk.executor")
    assert executor.isEnabledFor(logging.WARNING)
    assert not executor.isEnabledFor(logging.INFO)


def test_an_in_process_action_runs_where_an_event_loop_is_already_running() -> None:
    # A host with a running loop (an async server, a browser driver) must not break it.
    async def inside_a_loop() -> None:
        test_the_shipped_order_status_action_runs_in_process()

    # A thread of its own: this one may have a loop running already (the page tests').
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, inside_a_loop()).result()
