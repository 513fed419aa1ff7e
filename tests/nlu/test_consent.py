"""Consent replies: reactions, stop as a verb, named keywords, corrections, asking back in,
complaints, es/fr revocations, marketing-only opt-outs, and the purpose and language entities."""

from __future__ import annotations

import pytest

from nlu import corpus, parse
from nlu.evaluation import evaluate, format_report
from nlu.intents import (
    AFFIRM,
    DENY,
    FALLBACK,
    HELP,
    OPT_IN,
    OPT_OUT,
    RATING,
    RESCHEDULE,
)
from nlu.rules import normalise


def _entities(text: str) -> dict[str, object]:
    return {e.entity: e.value for e in parse(text).entities}


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        (
            "Liked “Hi Ana, Glow Spa here: facial Wed 11am. Reply Y to confirm, STOP to opt out”",
            AFFIRM,
        ),
        ("Loved “Thanks for shopping with us! Text STOP to unsubscribe.”", AFFIRM),
        ('Reacted 👍 to "Your car is ready for pickup. Reply STOP to end"', AFFIRM),
        ("Reacted with ❤️ to “See you soon! Reply STOP to opt out”", AFFIRM),
        ("Disliked “Your visit moved to 4pm. Reply STOP to opt out”", DENY),
        ("Emphasized “STOP to unsubscribe, HELP for help”", FALLBACK),
        ("Laughed at “Flash sale today only! Reply STOP to quit”", FALLBACK),
        ("Questioned “Reply STOP to cancel texts”", FALLBACK),
        ("Le gustó “Su pedido está listo. Responda BAJA para no recibir mensajes”", AFFIRM),
    ],
)
def test_a_reaction_is_read_as_the_reaction_not_the_quote(text: str, intent: str) -> None:
    result = parse(text)
    assert (result.intent, result.entities) == (intent, ())


@pytest.mark.parametrize(
    "text",
    [
        "Stop at the gate or park inside?",
        "STOP by reception first?",
        "Stop in around noon?",
        "Stopped by this morning but the door was locked",
        "what happens when I reply STOP?",
        "the message said text STOP to end it, does that end my plan too?",
        "if I text STOP do I still get my reminders",
        "my sister told me to reply stop haha but I like them",
        "don't ever stop sending these 😂",
        "please never stop the reminders",
        "I'm not trying to opt out, who is this?",
        "please remove me from the 5pm class",
    ],
)
def test_stop_as_a_verb_a_named_keyword_or_liking_the_texts_is_not_an_opt_out(text: str) -> None:
    assert parse(text).intent != OPT_OUT


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("STOP oops wrong thread, yes confirmed", AFFIRM),
        ("Stop - sorry, meant to type yes", AFFIRM),
        ("STOP lol jk, I'll be there", AFFIRM),
        ("Stop, sorry that was meant for someone else. No, I can't come", DENY),
        ("Cancel - wait no, see you tuesday", AFFIRM),
        ("stop sorry wrong chat", FALLBACK),
    ],
)
def test_a_keyword_taken_back_reads_as_what_follows(text: str, intent: str) -> None:
    assert parse(text).intent == intent


@pytest.mark.parametrize(
    "text", ["Stop, sorry, not interested", "STOP sorry", "Stop. Wrong number"]
)
def test_an_apology_alone_does_not_take_an_opt_out_back(text: str) -> None:
    assert parse(text).intent == OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "pressed STOP by accident, could you add me back",
        "accidentally opted out 🤦 please put me back on the list",
        "sent stop by mistake, I still want my reminders",
        "I unsubscribed last week but I want the texts again",
        "envié baja sin querer, quiero volver a recibir los mensajes",
        "whoops, I texted STOP but I do want these",
    ],
)
def test_asking_back_in_after_an_opt_out_is_opt_in(text: str) -> None:
    assert parse(text).intent == OPT_IN


@pytest.mark.parametrize(
    "text",
    [
        "I accidentally signed up, unsubscribe me",
        "STOP this was sent to me by mistake",
        "I already replied STOP twice, stop texting me",
        "I accidentally subscribed and I really want these to stop",
    ],
)
def test_a_mistake_that_is_not_the_opt_out_still_opts_out(text: str) -> None:
    assert parse(text).intent == OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "why do you people keep texting me? remove me",
        "how did you get my number?? delete it",
        "u guys need to chill with the texts",
        "these texts are too much, take me off ur list",
        "stahhhp",
        "STOPPP 🛑",
        "unsubscribeeeee",
        "unsubbbb pls",
        "no mas por fa",
        "make it stop 😩",
        "I never gave you my number, stop",
    ],
)
def test_complaints_and_playful_spellings_opt_out(text: str) -> None:
    assert parse(text).intent == OPT_OUT


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("no me manden más mensajes por favor", "es"),
        ("ya no quiero que me contacten", "es"),
        ("quítenme de su lista", "es"),
        ("bórrenme de la lista, gracias", "es"),
        ("je ne veux plus recevoir vos sms", "fr"),
        ("arrêtez de m'écrire svp", "fr"),
        ("merci de me retirer de la liste", "fr"),
        ("ne plus m'envoyer de messages", "fr"),
    ],
)
def test_spanish_and_french_revocations_in_full_sentences(text: str, language: str) -> None:
    result = parse(text)
    assert result.intent == OPT_OUT
    assert result.entity("language") == language


@pytest.mark.parametrize(
    ("word", "language"),
    [
        ("BAJA", "es"),
        ("Parar", "es"),
        ("alto", "es"),
        ("ARRET", "fr"),
        ("Arrêt", "fr"),
        ("DÉSABONNER", "fr"),
        ("desabonner", "fr"),
        ("Désabonner!", "fr"),
    ],
)
def test_spanish_and_french_keywords_opt_out_surely(word: str, language: str) -> None:
    result = parse(word)
    assert result.intent == OPT_OUT and result.confidence >= 0.9
    assert _entities(word) == {"language": language}


@pytest.mark.parametrize(
    ("text", "intent", "language"),
    [
        ("STOP", OPT_OUT, "en"),
        ("take me off your list", OPT_OUT, "en"),
        ("START", OPT_IN, "en"),
        ("HELP", HELP, "en"),
        ("AYUDA", HELP, "es"),
        ("ALTA", OPT_IN, "es"),
        ("quiero darme de alta", OPT_IN, "es"),
        ("COMENZAR", OPT_IN, "es"),
        ("AIDE", HELP, "fr"),
        ("arrêtez", OPT_OUT, "fr"),
    ],
)
def test_consent_replies_carry_the_language_their_words_show(
    text: str, intent: str, language: str
) -> None:
    result = parse(text)
    assert result.intent == intent
    assert result.entity("language") == language


def test_language_is_left_out_when_the_words_do_not_show_it() -> None:
    assert parse("baja merci").entity("language") is None  # as Spanish as it is French
    assert parse("yes").entity("language") is None  # only consent replies carry it


@pytest.mark.parametrize(
    "text",
    [
        "stop the promos, keep the appointment reminders",
        "no more deals pls",
        "STOP PROMO",
        "unsubscribe me from the marketing texts",
        "I want my reminders but no coupons",
        "reminders only please",
        "sin ofertas, gracias",
        "plus de pubs svp",
    ],
)
def test_a_marketing_only_opt_out_names_its_purpose(text: str) -> None:
    result = parse(text)
    assert result.intent == OPT_OUT
    assert result.entity("purpose") == "marketing"


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop texting me", "STOP. I hate your promos", "stop the promos and all the texts"],
)
def test_an_opt_out_that_names_no_purpose_means_every_message(text: str) -> None:
    result = parse(text)
    assert result.intent == OPT_OUT
    assert result.entity("purpose") is None


def test_entities_are_in_rasa_format() -> None:
    entities = parse("STOP PROMOS").as_dict()["entities"]
    assert [(e["entity"], e["value"], e["extractor"]) for e in entities] == [
        ("purpose", "marketing", "parley_rules"),
        ("language", "en", "parley_rules"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "wed no good, thu?",
        "Monday's bad, I have work. Tuesday?",
        "can't do the 9th, I'm away. the week after?",
        "4pm is too late for me, 2?",
        "el martes no puedo, ¿jueves?",
        "samedi ça ne va pas, dimanche ?",
    ],
)
def test_a_time_turned_down_for_a_reason_with_another_offered_is_a_reschedule(text: str) -> None:
    assert parse(text).intent == RESCHEDULE


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a 4, the delivery was late", 4),
        ("3 - nice staff, long wait", 3),
        ("probably a 2, order was wrong", 2),
        ("2 the courier was rude", 2),
        ("5, quick and easy", 5),
        ("hmm 3 i guess, it was cold", 3),
    ],
)
def test_a_score_with_a_reason_is_a_rating(text: str, value: int) -> None:
    result = parse(text)
    assert (result.intent, result.entity(RATING)) == (RATING, value)


# --- the consent evaluation sets ---


def _key(text: str) -> str:
    return normalise(text).norm or text.strip().casefold()


def test_consent_evaluation_sets_are_never_trained_on() -> None:
    held_out = corpus.load(corpus.CONSENT_TEST_DIR)
    assert len(held_out) >= 250
    trained = {_key(e.text) for e in corpus.load()}
    assert sorted({e.text for e in held_out if _key(e.text) in trained}) == []


def test_parser_reaches_its_figures_on_the_consent_replies_written_first() -> None:
    # Written before the parser was changed for them; see nlu/README.md for the figures.
    report = evaluate(corpus.CONSENT_TEST_DIR / "first.yml")
    assert report.opt_out_recall == 1.0, format_report(report)
    assert report.false_opt_outs == 0, format_report(report)
    assert report.accuracy >= 0.97, format_report(report)


def test_parser_reaches_its_figures_on_the_consent_replies_written_later() -> None:
    # 95.6%, 35 of 36 opt-outs and 1 false opt-out before its misses were read; see README.
    report = evaluate(corpus.CONSENT_TEST_DIR / "unseen.yml")
    assert report.opt_out_recall == 1.0, format_report(report)
    assert report.false_opt_outs == 0, format_report(report)
    assert report.accuracy >= 0.97, format_report(report)


# Sets written later, each scored before its misreadings were read (nlu/README.md); now
# development sets. The jokes after a keyword that still read as opt-outs are counted.
LATER_SETS = {
    "fresh.yml": 0,
    "fourth.yml": 0,
    "fifth.yml": 3,
    "sixth.yml": 0,
    "seventh.yml": 1,
    "eighth.yml": 0,
    "ninth.yml": 2,
}


@pytest.mark.parametrize("name", sorted(LATER_SETS))
def test_parser_keeps_its_figures_on_the_consent_sets_written_later(name: str) -> None:
    report = evaluate(corpus.CONSENT_TEST_DIR / name)
    assert report.opt_out_recall == 1.0, format_report(report)
    assert report.false_opt_outs <= LATER_SETS[name], format_report(report)
    assert report.accuracy >= 0.97, format_report(report)


# Opt-outs that rules written for jokes, delight, corrections, questions and Spanish and
# French negation must leave alone, and harmless texts near those rules.
STILL_OPT_OUTS = [
    "STOP? Never text me again",
    "Unsubscribe? Never been more sure. Remove me.",
    "Stop? Why would I? You text 5 times a day",
    "Stop, 20% off every day is too much",
    "STOP. Incredible how you keep ignoring me",
    "Arrête, génial, encore une pub",
    "Baja. Qué lindo, otro mensaje a las 6am",
    "STOP I'm not joking",
    "STOP, are you kidding me? 5 texts today",
    "I texted STOP because this is the wrong number",
    "I replied STOP bc you have the wrong person",
    "I once replied STOP and you kept texting me",
    "No quiero, dejen de escribirme",
    "No hace falta, dejen de mandarme mensajes",
    "Je veux pas, arrêtez de m'envoyer des messages",
    "pas de spam svp",
    "where do I opt out?",
    "Should I just block this number?",
    "how would I unsubscribe?",
    "Didn't I say STOP??",
    "How many times do I have to say stop?",
    "can you stop?",
    "how can I get removed from this list?",
    "je ne veux pas de messages",
    "no quiero más spam",
    "Text me one more time and my lawyer will hear about it. TCPA ring a bell?",
    "I only want order updates, not the sale spam",
    "my cat died in march, please stop the vet clinic reminders",
]
NOT_OPT_OUTS = [
    ("How do I cancel this?", "deny"),
    ("My package was stolen, I reported it to the police", "nlu_fallback"),
    ("If I get another reminder the day before that would be great", "nlu_fallback"),
    ("I need to get out of this thing on Friday, can we reschedule?", "reschedule"),
    ("Cancel. Messages from you are confusing", "deny"),
    ("When does the sale end? Updates please", "nlu_fallback"),
    ("Is it free to reschedule?", "reschedule"),
    ("Will I be charged a cancellation fee if I cancel?", "deny"),
    ("Do I have to text STOP each time or just once?", "help"),
    ("No dejen de escribirme, me encantan", "nlu_fallback"),
    ("The STOP sign by your car park is down", "nlu_fallback"),
    ("Dale de baja a mi tarjeta vieja, usa la nueva", "nlu_fallback"),
    ("Je me suis désabonnée par erreur, réabonnez-moi", "opt_in"),
    ("I never want these texts to stop", "nlu_fallback"),
]


@pytest.mark.parametrize("text", STILL_OPT_OUTS)
def test_opt_outs_near_the_rules_for_what_is_not_one_still_opt_out(text: str) -> None:
    assert parse(text).intent == OPT_OUT


@pytest.mark.parametrize(("text", "intent"), NOT_OPT_OUTS)
def test_texts_near_the_opt_out_rules_keep_their_meaning(text: str, intent: str) -> None:
    assert parse(text).intent == intent
