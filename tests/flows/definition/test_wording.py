"""Tests for spotting messages that ask people to reply with a carrier opt-out keyword."""

from __future__ import annotations

import re

import pytest

from flows.definition import load_journeys
from flows.definition.wording import find_keyword_requests
from flows.model import Journey, Text


def _texts(journey: Journey) -> list[str]:
    """Return every message template in a journey, language variants and reminders included."""
    found: list[Text | None] = []
    for step in journey.steps:
        found.append(step.send)
        if step.wait is not None:
            found.append(step.wait.retry)
            found.extend(reminder.send for reminder in step.wait.reminders)
    out: list[str] = []
    for text in found:
        if isinstance(text, str):
            out.append(text)
        elif text is not None:
            out.extend(text.values())
    return out


def test_builtin_texts_never_ask_for_a_carrier_keyword() -> None:
    texts = [text for journey in load_journeys().values() for text in _texts(journey)]
    assert len(texts) == 50
    for text in texts:
        assert find_keyword_requests(text) == [], text
        assert re.search(r"\bCANCEL\b", text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "Reply CANCEL to cancel your appointment.",
        "reply cancel to cancel your booking",
        "Text END to finish the survey.",
        'Respond with "QUIT" to leave the waitlist.',
        "Reply YES to confirm or CANCEL to cancel.",
        "To skip this order, text us STOPALL",
        "Send UNSUBSCRIBE for the weekly digest only.",
        "Reply UNSUBSCRIBE to leave the waitlist.",
        "Reply REVOKE to undo your last change.",
        "Reply OPTOUT if you can't make it.",
        "Reply STOP to cancel your order.",
        "text END to finish",
        "reply CANCEL to cancel",
        "Reply END to end.",
        "Reply QUIT",
        "Reply STOP to end the survey.",
        # Talk of opting out belongs to the keyword it goes with, not to the others.
        "Reply CANCEL to cancel your order, STOP to opt out.",
        "Reply STOP to opt out or CANCEL to cancel your order.",
        # Spanish and French opt-out keywords, accents or not, asked for in any language.
        "Responde ALTO para confirmar tu cita.",
        "Responde SI para confirmar o BAJA para cancelar tu cita.",
        "Envíanos PARAR para pausar tu pedido.",
        "Escríbenos alto para confirmar.",
        "Répondez ARRÊT pour annuler votre rendez-vous.",
        "Repondez ARRET pour changer d'horaire.",
        "Envoyez-nous DÉSABONNER pour la liste d'attente.",
        "Répondez « ARRÊT » pour reporter.",
        "Reply ALTO to confirm.",
    ],
)
def test_keyword_requests_that_are_flagged(text: str) -> None:
    assert find_keyword_requests(text), text


def test_a_keyword_is_reported_as_written_where_it_is() -> None:
    text = "Votre table est réservée. Répondez Arrêt pour annuler la table."
    [request] = find_keyword_requests(text)
    assert request.keyword == "ARRÊT"
    assert text[request.offset : request.offset + len("Arrêt")] == "Arrêt"
    assert request.sentence == "Répondez Arrêt pour annuler la table."


@pytest.mark.parametrize(
    "text",
    [
        "Reply STOP to opt out.",
        "Reply STOP to opt-out of marketing texts.",
        "Reply STOP to unsubscribe.",
        "Text STOP to stop receiving messages.",
        "Reply STOP to cancel.",
        "Reply STOP to end.",
        "Reply STOP to quit.",
        'Reply "STOP" to end.',
        "Text STOP to unsubscribe.",
        "To unsubscribe, reply STOP.",
        "Reply HELP for help, STOP to end.",
        "Msg & data rates may apply. Reply STOP to end, HELP for help.",
        "Reply Y to confirm or STOP to cancel.",
        "Txt STOP to end msgs",
        "Reply END to stop these texts.",
        "Reply YES to confirm, NO to cancel or R to reschedule.",
        "Your appointment is cancelled. Text us any time to book again.",
        "We can't wait to see you. This is the END of the season sale!",
        # The footer in Spanish and French, and the words in prose.
        "Responde BAJA para darte de baja.",
        "Responde STOP para darte de baja.",
        "Responde ALTO para dejar de recibir mensajes.",
        "Responde BAJA para cancelar.",
        "Responda SI, o escriba baja para no recibir más mensajes.",
        "Répondez STOP pour vous désabonner.",
        "Répondez ARRÊT pour arrêter.",
        "Répondez STOP pour ne plus recevoir nos SMS.",
        "Responde SI si el volumen está alto.",
        "El edificio es muy ALTO. Responde SI para confirmar.",
        "Répondez OUI. Prochain arrêt : Paris.",
    ],
)
def test_opt_out_wording_that_is_fine(text: str) -> None:
    assert find_keyword_requests(text) == []
