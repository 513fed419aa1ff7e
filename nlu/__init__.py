"""Intent parsing for inbound SMS: compliance rules first, then a trained classifier."""

from nlu.intents import HELP_KEYWORDS, INTENTS, OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS
from nlu.model import Entity, Parse, Ranking, RemoteParser
from nlu.parser import parse, prepare
from nlu.vocabulary import Vocabulary

__all__ = [
    "HELP_KEYWORDS",
    "INTENTS",
    "OPT_IN_KEYWORDS",
    "OPT_OUT_KEYWORDS",
    "Entity",
    "Parse",
    "Ranking",
    "RemoteParser",
    "Vocabulary",
    "parse",
    "prepare",
]
