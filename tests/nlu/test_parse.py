"""The parser: compliance keywords, short replies, ratings, free text, and any input at all."""

from __future__ import annotations

import dataclasses
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nlu
from nlu import INTENTS, OPT_OUT_KEYWORDS, Entity, Parse, Vocabulary, parse
from nlu.intents import (
    AFFIRM,
    DENY,
    FALLBACK,
    GREET,
    HELP,
    HUMAN,
    OPT_IN,
    OPT_OUT,
    RATING,
    RESCHEDULE,
    THANKS,
)


@pytest.fixture(autouse=True, scope="module")
def _trained_classifier() -> None:
    # Train once up front, so timing tests measure parsing rather than first use.
    nlu.prepare()


# --- opt-out: never missed, never invented ---

OPT_OUT_TEXTS = [
    # Twilio's keywords with case, punctuation, emoji and whitespace around them
    "stop",
    "STOP.",
    " Stop!!",
    "🛑 STOP",
    "Unsubscribe",
    "opt out",
    "opt-out",
    "stop all",
    "CANCEL",
    "cancel",
    "Cancel!",
    "  \t STOP \n ",
    "\u200bSTOP\u200b",
    "\uff33\uff34\uff2f\uff30",  # full-width
    "S T O P",
    "stop stop stop",
    "STOP😡",
    # filler words
    "STOP PLEASE",
    "pls stop",
    "Stop. Thank you",
    "stop texting me",
    "stop messaging me",
    "STOP NOW",
    "stop pls 🙏",
    "Unsubscribe please",
    # natural-language revocation
    "please stop texting me",
    "take me off your list",
    "remove me from this list",
    "unsubscribe me",
    "don't text me anymore",
    "Don\u2019t text me anymore",
    "do not contact me again",
    "leave me alone",
    "no more texts",
    "I want to opt out",
    "how do i unsubscribe?",
    "Please remove my number",
    "I do not wish to receive texts",
    "stop sending me texts about appointments",
    # a keyword as one sentence of a longer message
    "Who is this? STOP",
    "Wrong number. Stop",
    "no, stop",
    "STOP\n\nSent from my iPhone",
    "I never signed up, stop",
    "who is this stop",
    "STOP this is harassment",
    # French and Spanish
    "ARRET",
    "ARRÊT",
    "arrêter les messages",
    "PARAR",
    "baja",
    "darme de baja",
    "No me manden más mensajes",
    # typed in a hurry
    "Stpo",
    "STOPP",
    "sotp",
    "unsusbcribe",
    "cancle",
    # more ways people revoke consent
    "wrong number",
    "you've got the wrong number",
    "I revoke my consent",
    "Please don't send me any more messages",
    "I want off this list",
    "Remove from list",
    "quit sending me this",
    "i asked you to stop already",
    "do not text",
    "remove",
    "I'd rather not get texts",
    "I'm tired of these texts",
    "cut it out with the texts",
    "no longer interested in these texts",
    "can you not text me",
    "I'm blocking this number",
    "reported as spam",
    "no more",
    "Enough!",
    "I don't want these anymore",
    "i want to stop receiving these",
    "leave me be",
    "halt",
    "arrêtez de m'envoyer des messages",
    "ne m'envoyez plus de sms",
    "No quiero más mensajes",
    "dejen de mandarme mensajes",
    "Basta",
]

NOT_OPT_OUT_TEXTS = [
    "don't stop",
    "which bus stop is near you?",
    "I'll stop by tomorrow",
    "I need to cancel my appointment",
    "can't stop smiling",
    "the end of the week works",
    "Stop by anytime",
    "Please don't stop sending reminders",
    "Should I stop taking my meds?",
    "Where do I stop",
    "Don't unsubscribe me",
    "don't text me before 9am",
    "the end",
    "end of story",
    "Yes, cancel",
    "🛑",
    # near misses for the rules and the classifier alike
    "can't stop laughing lol",
    "stop by whenever",
    "I stopped by earlier",
    "what stop do I get off at",
    "Will you stop by my house?",
    "I can't stop coughing, should I still come?",
    "how do I stop getting this error",
    "don't stop sending me reminders, they help",
    "Please don't remove me, I want the coupons",
    "keep the texts coming",
    "got your message",
    "thanks for the texts",
    "I love your messages",
    "how many more texts will I get?",
    "I never got the confirmation text",
    "take me off the waiting list",
    "please remove me from the waitlist",
    "remove it from my wish list",
    "I don't need these shoes",
    "no more pain since the filling",
    "no more questions, thanks",
    "I'm done with my treatment, thank you",
    "enough for today",
    "Is this spam?",
    "I quit smoking",
    "Is there an end date for the promo?",
    "can you text my wife instead of me",
    "my number changed, can you update it",
    "Don't cancel, I'll be there",
    "step",
    "shop",
    "spot",
    "stopped",
]


@pytest.mark.parametrize("text", OPT_OUT_TEXTS)
def test_opt_out_is_recognised(text: str) -> None:
    result = parse(text)
    assert result.intent == OPT_OUT
    assert result.confidence >= 0.9


@pytest.mark.parametrize("keyword", OPT_OUT_KEYWORDS)
@pytest.mark.parametrize("dressing", ["{}", "{} ", "{}.", "{}!!", "  {}?", "🛑 {}", '"{}"'])
@pytest.mark.parametrize("case", [str.upper, str.lower, str.title])
def test_every_twilio_keyword_is_an_opt_out_with_full_confidence(
    keyword: str, dressing: str, case
) -> None:
    result = parse(dressing.format(case(keyword)))
    assert (result.intent, result.confidence) == (OPT_OUT, 1.0)


@pytest.mark.parametrize("text", NOT_OPT_OUT_TEXTS)
def test_ordinary_words_are_not_opt_outs(text: str) -> None:
    assert parse(text).intent != OPT_OUT


def test_an_opt_out_is_not_undone_by_what_the_conversation_expects() -> None:
    assert parse("stop", expecting={AFFIRM, DENY, RESCHEDULE}).intent == OPT_OUT
    assert parse("STOP", expecting={RATING}).confidence == 1.0


# --- every other intent ---

INTENT_CASES: list[tuple[str, str]] = [
    # opt_in
    ("START", OPT_IN),
    ("UNSTOP", OPT_IN),
    ("start", OPT_IN),
    ("subscribe", OPT_IN),
    ("subscribe me again", OPT_IN),
    ("resubscribe", OPT_IN),
    ("opt in", OPT_IN),
    ("Sorry! START", OPT_IN),
    # help
    ("HELP", HELP),
    ("INFO", HELP),
    ("help!", HELP),
    ("info?", HELP),
    ("what is this?", HELP),
    ("ayuda", HELP),
    # affirm
    ("yes", AFFIRM),
    ("y", AFFIRM),
    ("Y", AFFIRM),
    ("yeah", AFFIRM),
    ("yep", AFFIRM),
    ("yup", AFFIRM),
    ("yse", AFFIRM),
    ("yess", AFFIRM),
    ("yes!", AFFIRM),
    ("sure", AFFIRM),
    ("ok", AFFIRM),
    ("okay", AFFIRM),
    ("k", AFFIRM),
    ("confirm", AFFIRM),
    ("confirmed", AFFIRM),
    ("correct", AFFIRM),
    ("sounds good", AFFIRM),
    ("that works", AFFIRM),
    ("👍", AFFIRM),
    ("👍🏽", AFFIRM),
    ("✅", AFFIRM),
    ("👌", AFFIRM),
    ("sí", AFFIRM),
    ("si", AFFIRM),
    ("oui", AFFIRM),
    ("claro", AFFIRM),
    ("Yes I'll be there", AFFIRM),
    ("No problem, see you then", AFFIRM),
    # deny
    ("no", DENY),
    ("n", DENY),
    ("nope", DENY),
    ("nah", DENY),
    ("no thanks", DENY),
    ("not really", DENY),
    ("👎", DENY),
    ("❌", DENY),
    ("no puedo", DENY),
    ("non", DENY),
    ("I need to cancel my appointment", DENY),
    ("cancel my appointment", DENY),
    ("I can't make it", DENY),
    ("can't come", DENY),
    ("Yes, cancel", DENY),
    # reschedule
    ("R", RESCHEDULE),
    ("r", RESCHEDULE),
    ("R.", RESCHEDULE),
    ("reschedule", RESCHEDULE),
    ("can we do Friday?", RESCHEDULE),
    ("can we move it to Friday?", RESCHEDULE),
    ("can we do friday at 3?", RESCHEDULE),
    ("different time", RESCHEDULE),
    ("another day", RESCHEDULE),
    ("later", RESCHEDULE),
    ("Yes, but can we make it later?", RESCHEDULE),
    ("can I change my appointment", RESCHEDULE),
    ("otro día", RESCHEDULE),
    ("change the time", RESCHEDULE),
    ("sorry can't make it, can we do next week", RESCHEDULE),
    # human
    ("can I speak to someone", HUMAN),
    ("talk to a human", HUMAN),
    ("representative", HUMAN),
    ("agent", HUMAN),
    ("real person", HUMAN),
    ("is this a bot?", HUMAN),
    ("call me", HUMAN),
    ("is there someone I can ask about sizes?", HUMAN),
    # greet
    ("hi", GREET),
    ("hello", GREET),
    ("hello?", GREET),
    ("hey", GREET),
    ("good morning", GREET),
    ("hola", GREET),
    ("bonjour", GREET),
    # thanks
    ("thanks", THANKS),
    ("thank you", THANKS),
    ("thx", THANKS),
    ("ty", THANKS),
    ("gracias", THANKS),
    ("merci", THANKS),
    ("🙏", THANKS),
    # anything else
    ("purple monkey dishwasher", FALLBACK),
    ("which bus stop is near you?", FALLBACK),
    ("c", FALLBACK),
    ("0", FALLBACK),
    ("42", FALLBACK),
    ("", FALLBACK),
]


@pytest.mark.parametrize(("text", "intent"), INTENT_CASES)
def test_intent(text: str, intent: str) -> None:
    assert parse(text).intent == intent


@pytest.mark.parametrize(
    "text", ["stop", "CANCEL", "START", "UNSTOP", "HELP", "INFO", "help!", "opt in", "resubscribe"]
)
def test_keywords_have_full_confidence(text: str) -> None:
    assert parse(text).confidence == 1.0


@pytest.mark.parametrize(
    ("text", "highest"), [("what is this?", 0.8), ("purple monkey dishwasher", 0.5), ("", 0.0)]
)
def test_weak_matches_have_lower_confidence(text: str, highest: float) -> None:
    assert parse(text).confidence <= highest


# --- ratings ---

RATING_CASES: list[tuple[str, frozenset[str] | None, int]] = [
    ("4", frozenset({RATING}), 4),
    ("9", frozenset({RATING}), 9),
    ("10", frozenset({RATING}), 10),
    ("3", None, 3),
    ("five", None, 5),
    ("four", None, 4),
    ("ten", frozenset({RATING}), 10),
    ("4/5", None, 4),
    ("3 out of 5", None, 3),
    ("9/10", None, 9),
    ("10/10", None, 10),
    ("⭐⭐⭐⭐", None, 4),
    ("⭐️⭐️⭐️⭐️⭐️", None, 5),
    ("★★★", None, 3),
    ("★★★☆☆", None, 3),
    ("I'd give it a 4", None, 4),
    ("2 - the wait was long", None, 2),
    ("5 stars", None, 5),
    ("5 ⭐", None, 5),
    ("gave it one star", None, 1),
    ("the doctor was great 5/5", None, 5),
]


@pytest.mark.parametrize(("text", "expecting", "value"), RATING_CASES)
def test_rating_keeps_the_number_given(
    text: str, expecting: frozenset[str] | None, value: int
) -> None:
    result = parse(text, expecting=expecting)
    assert result.intent == RATING
    assert result.entity("rating") == value


@pytest.mark.parametrize(
    ("text", "expecting"),
    [
        ("0", {RATING}),
        ("42", {RATING}),
        ("11", {RATING}),
        ("7", None),
        ("0/5", None),
        ("6/5", None),
        ("⭐" * 11, None),
        ("I'm 5 minutes late", None),
        ("4.5", None),
    ],
)
def test_numbers_off_the_scale_are_not_ratings(text: str, expecting: set[str] | None) -> None:
    assert parse(text, expecting=expecting).intent != RATING


def test_a_bare_digit_is_surer_when_a_rating_is_expected() -> None:
    expected, unexpected = parse("4", expecting={RATING}), parse("4")
    assert expected.intent == unexpected.intent == RATING
    assert expected.confidence > unexpected.confidence


@pytest.mark.parametrize(
    ("text", "surface"),
    [("I'd give it a 4", "4"), ("   9/10", "9"), ("Five!", "Five"), ("★★★☆☆", "★★★")],
)
def test_rating_entity_points_into_the_original_text(text: str, surface: str) -> None:
    (entity,) = parse(text).entities
    assert entity.start is not None and entity.end is not None
    assert text[entity.start : entity.end] == surface


# --- what the conversation expects ---


@pytest.mark.parametrize(
    ("text", "expecting", "intent"),
    [
        ("c", {AFFIRM, DENY, RESCHEDULE}, AFFIRM),
        ("C", {AFFIRM}, AFFIRM),
        ("c", {RATING}, FALLBACK),
        ("R", {RATING}, RESCHEDULE),
        ("r", {AFFIRM, DENY, RESCHEDULE}, RESCHEDULE),
        ("7", {RATING}, RATING),
        ("Friday", {RESCHEDULE}, RESCHEDULE),
        ("yes", [AFFIRM, DENY], AFFIRM),
    ],
)
def test_expecting_resolves_short_replies(text: str, expecting, intent: str) -> None:
    assert parse(text, expecting=expecting).intent == intent


def test_expected_intents_gain_confidence_but_never_certainty() -> None:
    plain = parse("Friday")
    expected = parse("Friday", expecting={RESCHEDULE})
    assert plain.confidence < expected.confidence < 1.0


def test_language_is_only_a_hint() -> None:
    assert parse("baja", language="en").intent == OPT_OUT
    assert parse("yes", language="es").intent == AFFIRM


# --- the model and its Rasa format ---


def test_as_dict_is_rasa_parse_format() -> None:
    assert parse("I'd give it a 4").as_dict() == {
        "text": "I'd give it a 4",
        "intent": {"name": RATING, "confidence": 0.9},
        "entities": [
            {"entity": "rating", "value": 4, "start": 14, "end": 15, "extractor": "parley_rules"}
        ],
    }
    assert parse("STOP").as_dict() == {
        "text": "STOP",
        "intent": {"name": OPT_OUT, "confidence": 1.0},
        "entities": [
            {
                "entity": "language",
                "value": "en",
                "start": None,
                "end": None,
                "extractor": "parley_rules",
            }
        ],
    }


def test_parse_entity_returns_first_value_or_none() -> None:
    result = Parse("x", RATING, 0.9, (Entity("rating", 4), Entity("rating", 5)))
    assert result.entity("rating") == 4
    assert result.entity("date") is None
    assert Entity("rating", 4) == Entity("rating", 4, None, None)


def test_model_is_frozen_and_checks_confidence() -> None:
    result = parse("yes")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.intent = DENY  # type: ignore[misc]
    with pytest.raises(ValueError):
        Parse("x", AFFIRM, 1.5)


def test_package_exports() -> None:
    assert set(nlu.__all__) >= {
        "parse",
        "Parse",
        "Entity",
        "INTENTS",
        "OPT_OUT_KEYWORDS",
        "OPT_IN_KEYWORDS",
        "HELP_KEYWORDS",
    }


# --- any input at all ---


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        (" " * 100_000 + "STOP" + "\n" * 100_000, OPT_OUT),
        ("STOP" + "👍" * 1600, OPT_OUT),
        ("blah " * 300 + "\n\nSTOP", OPT_OUT),
        ("x" * 1_000_000, FALLBACK),
        ("👍" * 1600, AFFIRM),
        ("⭐" * 1600, FALLBACK),
    ],
)
def test_long_messages_are_read_at_both_ends(text: str, intent: str) -> None:
    assert parse(text).intent == intent


@pytest.mark.parametrize(
    "text",
    [
        "👍" * 1600,
        "a." * 1000,
        "9/" * 1000,
        "no " * 600,
        "can we do " * 200,
        "\u0301" * 5000,
        "漢字" * 800,
        "x" * 1_000_000,
    ],
)
def test_hostile_input_parses_in_bounded_time(text: str) -> None:
    started = time.perf_counter()
    parse(text)
    # Generous so a loaded CI machine passes; real parses take well under a millisecond.
    assert time.perf_counter() - started < 0.05


def test_the_example_table_parses_quickly() -> None:
    texts = [text for text, _ in INTENT_CASES] + OPT_OUT_TEXTS + NOT_OPT_OUT_TEXTS
    started = time.perf_counter()
    for text in texts:
        parse(text)
    assert (time.perf_counter() - started) / len(texts) < 0.002


_VOCABULARY = Vocabulary(
    keywords={"affirm": ("CONFIRMAR", "1"), "deny": ("2",)},
    examples={"affirm": ("count me in for the tasting",), "human": ("can I ask the chef",)},
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(),
        st.text(max_size=3000),
        st.text(alphabet=st.characters(codec="utf-8"), min_size=500, max_size=2000),
        st.text(alphabet="👍⭐🙏🛑😀❌✅★ \u200d\ufe0f", min_size=1600, max_size=1600),
        st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Mn"])),
        st.lists(
            st.sampled_from(["stop", "STOP", "no", "yes", "5", "/", "10", "can we do", "."])
        ).map(" ".join),
    ),
    st.none() | st.frozensets(st.sampled_from(sorted(INTENTS))),
    st.none() | st.just(_VOCABULARY),
)
def test_any_text_parses_to_a_known_intent(
    text: str, expecting: frozenset[str] | None, vocabulary: Vocabulary | None
) -> None:
    result = parse(text, expecting=expecting, vocabulary=vocabulary)
    assert result.intent in INTENTS
    assert 0.0 <= result.confidence <= 1.0
    assert result.text == text
    for entity in result.entities:
        if entity.start is not None or entity.end is not None:  # a span has both ends or none
            assert entity.start is not None and entity.end is not None
            assert 0 <= entity.start < entity.end <= len(text)
