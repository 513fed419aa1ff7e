"""The HELP reply says how to reach the business, with or without BUSINESS_CONTACT."""

from __future__ import annotations

import nlu
from bot.conversation.compliance import help_text
from nlu.intents import HUMAN


def test_help_quotes_the_business_contact() -> None:
    reply = help_text({"name": "Bright Smile Dental", "contact": "+1 415 555 0100"})
    assert "contact +1 415 555 0100" in reply
    assert "Reply STOP" in reply


def test_help_without_a_contact_names_a_reply_that_reaches_staff() -> None:
    reply = help_text({"name": "Bright Smile Dental", "contact": ""})
    assert "reply AGENT" in reply
    assert nlu.parse("AGENT").intent == HUMAN  # what hands the conversation to staff
    assert "Msg & data rates may apply" in reply and "Reply STOP" in reply
