"""Tests for the compliance keywords every part of Parley takes from the parser."""

from __future__ import annotations

import pytest

from nlu import parse
from nlu.consent import (
    HELP_WORDS_ES,
    HELP_WORDS_FR,
    OPT_IN_WORDS_ES,
    OPT_IN_WORDS_FR,
    OPT_OUT_WORDS_ES,
    OPT_OUT_WORDS_FR,
)
from nlu.intents import HELP, HELP_KEYWORDS, OPT_IN, OPT_IN_KEYWORDS, OPT_OUT, OPT_OUT_KEYWORDS
from nlu.keywords import (
    COMPLIANCE_WORDS,
    HELP_WORDS,
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    fold,
    fold_letters,
)

_EVERY = [
    *((word, OPT_OUT, OPT_OUT_WORDS) for word in OPT_OUT_KEYWORDS + OPT_OUT_WORDS_ES),
    *((word, OPT_OUT, OPT_OUT_WORDS) for word in OPT_OUT_WORDS_FR),
    *((word, OPT_IN, OPT_IN_WORDS) for word in OPT_IN_KEYWORDS + OPT_IN_WORDS_ES),
    *((word, OPT_IN, OPT_IN_WORDS) for word in OPT_IN_WORDS_FR),
    *((word, HELP, HELP_WORDS) for word in HELP_KEYWORDS + HELP_WORDS_ES + HELP_WORDS_FR),
]


@pytest.mark.parametrize(("word", "intent", "words"), _EVERY, ids=[w for w, _, _ in _EVERY])
def test_every_keyword_is_in_its_set_as_the_parser_reads_it(
    word: str, intent: str, words: frozenset[str]
) -> None:
    assert parse(word).intent == intent
    assert fold(word) in words
    assert fold(word) in COMPLIANCE_WORDS


def test_keywords_are_folded_like_messages() -> None:
    assert fold("ARRÊT") == fold("arret") == "arret"
    assert fold("DÉSABONNER") == "desabonner"
    assert {"arret", "baja", "alto", "stop"} <= OPT_OUT_WORDS
    assert {"alta", "demarrer", "start"} <= OPT_IN_WORDS
    assert {"ayuda", "aide", "help", "info"} <= HELP_WORDS


@pytest.mark.parametrize(
    "text",
    [
        "Répondez ARRÊT « vite »",
        "Envíanos BAJA",
        "plain ascii",
        "\ufb01n \uff33top",
        "naïve café",
        "",
    ],
)
def test_fold_letters_keeps_every_offset(text: str) -> None:
    folded = fold_letters(text)
    assert len(folded) == len(text)
    for letter, kept in zip(text, folded, strict=True):
        assert kept == letter or fold(kept) == fold(letter)


def test_fold_letters_drops_accents_and_keeps_case() -> None:
    assert fold_letters("Répondez ARRÊT, Envíanos") == "Repondez ARRET, Envianos"
