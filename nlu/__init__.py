"""Rule-based intent parsing for inbound SMS, in Rasa's parse format."""

from nlu.intents import HELP_KEYWORDS, INTENTS, OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS
from nlu.model import Entity, Parse
from nlu.parser import parse

__all__ = [
    "HELP_KEYWORDS",
    "INTENTS",
    "OPT_IN_KEYWORDS",
    "OPT_OUT_KEYWORDS",
    "Entity",
    "Parse",
    "parse",
]
