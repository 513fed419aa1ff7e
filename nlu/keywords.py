"""Every compliance keyword the parser knows, in English, Spanish and French, folded as it reads.

Twilio's keywords (STOP, START, HELP, ...) and their Spanish and French peers (BAJA, ARRÊT,
AYUDA, ...) are one set per intent here, folded the way `rules.normalise` folds a message
(ARRÊT and arrêt are both "arret"), so the parser and the journey checks agree on them.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from nlu.consent import (
    HELP_WORDS_ES,
    HELP_WORDS_FR,
    OPT_IN_WORDS_ES,
    OPT_IN_WORDS_FR,
    OPT_OUT_WORDS_ES,
    OPT_OUT_WORDS_FR,
)
from nlu.intents import HELP_KEYWORDS, OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS
from nlu.rules import normalise


def fold(word: str) -> str:
    """Return a word as the parser reads it: casefolded, without accents ("ARRÊT" -> "arret")."""
    return normalise(word).norm


def fold_letters(text: str) -> str:
    """Return `text` with its accents dropped letter for letter, case and offsets kept.

    This is `fold` without the rest of `normalise`: "Répondez ARRÊT" -> "Repondez ARRET",
    so what a pattern finds in the folded text sits at the same place in the original.
    """
    return text if text.isascii() else "".join(_fold_letter(letter) for letter in text)


@cache
def _fold_letter(letter: str) -> str:
    # As normalise does: decompose (NFKD), then drop the combining marks.
    parts = unicodedata.normalize("NFKD", letter)
    base = "".join(part for part in parts if not unicodedata.combining(part))
    return base if len(base) == 1 else letter  # "ﬁ" would be two letters: left alone


def _folded(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(fold(word) for word in words)


# A message that is one of these (filler aside) is an opt-out, an opt-in or a help request.
OPT_OUT_WORDS = _folded(OPT_OUT_KEYWORDS + OPT_OUT_WORDS_ES + OPT_OUT_WORDS_FR)
OPT_IN_WORDS = _folded(OPT_IN_KEYWORDS + OPT_IN_WORDS_ES + OPT_IN_WORDS_FR)
HELP_WORDS = _folded(HELP_KEYWORDS + HELP_WORDS_ES + HELP_WORDS_FR)
COMPLIANCE_WORDS = OPT_OUT_WORDS | OPT_IN_WORDS | HELP_WORDS
