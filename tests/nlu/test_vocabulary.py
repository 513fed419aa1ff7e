"""A journey's own keywords and examples: they win over the model, never over an opt-out."""

from __future__ import annotations

import dataclasses

import pytest

from nlu import OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS, Vocabulary, parse
from nlu.intents import AFFIRM, DENY, FALLBACK, HELP, HUMAN, OPT_IN, OPT_OUT, RATING, RESCHEDULE

TASTING = Vocabulary(
    keywords={AFFIRM: ("CONFIRMAR", "C", "1"), DENY: ["2", "Nein danke"], OPT_OUT: ("BASTA YA",)},
    examples={
        AFFIRM: ("count me in for the tasting", "save me a seat"),
        DENY: ("I'll sit this one out",),
        HUMAN: ("can I ask the chef something",),
        OPT_OUT: ("I'm done with you people",),
    },
)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("CONFIRMAR", AFFIRM),
        ("confirmar!!", AFFIRM),
        ("Confirmar 👍", AFFIRM),
        ("  c. ", AFFIRM),
        ("1", AFFIRM),
        ("nein, danke", DENY),
        ("basta ya", OPT_OUT),
    ],
)
def test_keywords_match_the_whole_reply_whatever_the_case_and_punctuation(
    text: str, intent: str
) -> None:
    result = parse(text, vocabulary=TASTING)
    assert (result.intent, result.confidence) == (intent, 1.0)


def test_keywords_win_over_rules_and_model_that_would_read_them_otherwise() -> None:
    assert parse("1", expecting={RATING}).intent == RATING
    assert parse("1", expecting={RATING}, vocabulary=TASTING).intent == AFFIRM
    assert parse("2", vocabulary=TASTING).intent == DENY


def test_keywords_are_whole_replies_not_words_inside_one() -> None:
    assert parse("I will confirmar later", vocabulary=TASTING).intent != AFFIRM


@pytest.mark.parametrize("text", ["STOP", "stop please", "unsubscribe", "START", "HELP"])
def test_compliance_keywords_keep_their_meaning_whatever_the_journey(text: str) -> None:
    assert parse(text, vocabulary=TASTING).intent == parse(text).intent
    assert parse(text).intent in (OPT_OUT, OPT_IN, HELP)


@pytest.mark.parametrize("keyword", OPT_OUT_KEYWORDS)
@pytest.mark.parametrize("dressing", ["{}", "{}!", " {} ", "{} please"])
@pytest.mark.parametrize("intent", [AFFIRM, DENY, RESCHEDULE])
def test_a_journey_cannot_make_a_carrier_opt_out_word_mean_something_else(
    keyword: str, dressing: str, intent: str
) -> None:
    with pytest.raises(ValueError, match="always means opt_out"):
        Vocabulary(keywords={intent: [dressing.format(keyword.lower())]})


@pytest.mark.parametrize(
    "keyword", ["opt out", "unsubscribe me", "Stpo", "take me off your list", "baja"]
)
def test_plain_word_opt_outs_are_refused_too(keyword: str) -> None:
    with pytest.raises(ValueError, match="always means opt_out"):
        Vocabulary(keywords={AFFIRM: [keyword]})


@pytest.mark.parametrize("keyword", [*OPT_IN_KEYWORDS, "HELP", "info"])
def test_opt_in_and_help_keywords_are_refused_for_other_intents(keyword: str) -> None:
    with pytest.raises(ValueError, match="always means"):
        Vocabulary(keywords={AFFIRM: [keyword]})


def test_a_journey_may_add_its_own_opt_out_and_opt_in_words() -> None:
    words = Vocabulary(keywords={OPT_OUT: ["STOP", "basta ya"], OPT_IN: ["JOIN"]})
    assert words.keywords[OPT_OUT] == ("STOP", "basta ya")
    assert parse("join!", vocabulary=words).intent == OPT_IN


@pytest.mark.parametrize(
    ("keywords", "examples", "message"),
    [
        ({"bogus": ["x"]}, {}, "unknown or fixed intent 'bogus'"),
        ({RATING: ["great"]}, {}, "unknown or fixed intent 'rating'"),
        ({}, {FALLBACK: ["whatever"]}, "unknown or fixed intent 'nlu_fallback'"),
        ({}, {OPT_IN: ["count me back in"]}, "unknown or fixed intent 'opt_in'"),
        ({AFFIRM: ["!!"]}, {}, "no letters or digits"),
        ({AFFIRM: ["yes"], DENY: ["YES!"]}, {}, "given for affirm and deny"),
    ],
)
def test_vocabulary_refuses_what_cannot_work(keywords, examples, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Vocabulary(keywords=keywords, examples=examples)


def test_vocabulary_refuses_non_text() -> None:
    with pytest.raises(TypeError):
        Vocabulary(keywords={AFFIRM: [1]})  # type: ignore[list-item]
    with pytest.raises(TypeError):
        Vocabulary(keywords=[("affirm", "yes")])  # type: ignore[arg-type]


def test_vocabulary_is_frozen_hashable_and_compares_by_content() -> None:
    one = Vocabulary(keywords={DENY: ["2"], AFFIRM: "C"}, examples={AFFIRM: ["save me a seat"]})
    two = Vocabulary(
        keywords={AFFIRM: ("C",), DENY: ("2",)}, examples={AFFIRM: ("save me a seat",)}
    )
    assert one == two and hash(one) == hash(two)
    assert one.keywords == {AFFIRM: ("C",), DENY: ("2",)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.keywords = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        one.keywords[AFFIRM] = ("x",)  # type: ignore[index]
    assert not Vocabulary() and Vocabulary() == Vocabulary(keywords={}, examples={})


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Save me a seat please!", AFFIRM),
        ("count me in for the tasting 🍷", AFFIRM),
        ("ill sit this one out thanks", DENY),
        ("can i ask the chef something?", HUMAN),
    ],
)
def test_examples_match_similar_replies(text: str, intent: str) -> None:
    result = parse(text, vocabulary=TASTING)
    assert result.intent == intent
    assert 0.7 <= result.confidence <= 0.95


def test_examples_leave_unrelated_replies_alone() -> None:
    assert parse("purple monkey dishwasher", vocabulary=TASTING).intent == FALLBACK
    assert parse("yes", vocabulary=TASTING).intent == AFFIRM


def test_an_opt_out_example_needs_a_sign_of_revocation() -> None:
    people = Vocabulary(examples={OPT_OUT: ("you people are the worst",)})
    assert parse("you people are the best", vocabulary=people).intent != OPT_OUT
    assert parse("i'm done with you people", vocabulary=TASTING).intent == OPT_OUT


def test_empty_vocabulary_changes_nothing() -> None:
    for text in ["yes", "can we do Friday?", "I'd give it a 4", "purple monkey dishwasher"]:
        assert parse(text, vocabulary=Vocabulary()) == parse(text)
