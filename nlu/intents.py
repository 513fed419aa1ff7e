"""Intent names and the carrier keyword lists every part of Parley agrees on."""

from __future__ import annotations

OPT_OUT = "opt_out"
OPT_IN = "opt_in"
HELP = "help"
AFFIRM = "affirm"
DENY = "deny"
RESCHEDULE = "reschedule"
RATING = "rating"
HUMAN = "human"
GREET = "greet"
THANKS = "thanks"
FALLBACK = "nlu_fallback"

INTENTS: frozenset[str] = frozenset(
    {OPT_OUT, OPT_IN, HELP, AFFIRM, DENY, RESCHEDULE, RATING, HUMAN, GREET, THANKS, FALLBACK}
)

# Twilio's default opt-out keywords: a message that is exactly one of these (case
# and surrounding whitespace aside) blocks the sender at the carrier level.
OPT_OUT_KEYWORDS: tuple[str, ...] = (
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
)
OPT_IN_KEYWORDS: tuple[str, ...] = ("START", "UNSTOP")
HELP_KEYWORDS: tuple[str, ...] = ("HELP", "INFO")
