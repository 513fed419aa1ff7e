"""What Parley answers to STOP, START, HELP and "stop the promos", in each language it speaks.

Carriers expect these answers: who is texting, how to reach them, that rates may apply and
how to stop. A contact gets them in their own language, or in the language of the keyword
they sent (BAJA is answered in Spanish), else in English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT = "en"


@dataclass(frozen=True)
class Texts:
    """One language's compliance answers; `{name}` and `{reach}` are filled in."""

    stop: str
    stop_marketing: str
    start: str
    help_reach: str  # HELP when the business has a contact (BUSINESS_CONTACT)
    help_here: str  # HELP without one: staff answer in this conversation


TEXTS: Mapping[str, Texts] = {
    "en": Texts(
        stop="You're unsubscribed from {name} and will get no more messages. "
        "Reply START to resubscribe.",
        stop_marketing="You'll get no more offers or promotions from {name}. Appointment "
        "reminders and order updates will still come. Reply STOP to end all messages.",
        start="You're resubscribed to {name} reminders and updates. Msg & data rates may "
        "apply. Reply HELP for help, STOP to opt out.",
        help_reach="{name}: for help, contact {reach}. Msg & data rates may apply. "
        "Reply STOP to unsubscribe.",
        help_here="{name}: for help, reply AGENT and someone from our team will text you "
        "back here. Msg & data rates may apply. Reply STOP to unsubscribe.",
    ),
    "es": Texts(
        stop="Has cancelado tu suscripción a {name} y no recibirás más mensajes. "
        "Responde START para volver a suscribirte.",
        stop_marketing="No recibirás más ofertas ni promociones de {name}. Seguirás "
        "recibiendo recordatorios de citas y avisos de pedidos. Responde BAJA para no "
        "recibir ningún mensaje.",
        start="Te has vuelto a suscribir a los recordatorios y avisos de {name}. Pueden "
        "aplicarse tarifas de mensajes y datos. Responde AYUDA para obtener ayuda o BAJA "
        "para darte de baja.",
        help_reach="{name}: para obtener ayuda, contacta con {reach}. Pueden aplicarse "
        "tarifas de mensajes y datos. Responde BAJA para darte de baja.",
        help_here="{name}: para obtener ayuda, responde AGENT y alguien de nuestro equipo "
        "te escribirá aquí. Pueden aplicarse tarifas de mensajes y datos. Responde BAJA "
        "para darte de baja.",
    ),
    "fr": Texts(
        stop="Vous êtes désabonné de {name} et ne recevrez plus de messages. "
        "Répondez START pour vous réabonner.",
        stop_marketing="Vous ne recevrez plus d'offres ni de promotions de {name}. Les "
        "rappels de rendez-vous et le suivi des commandes continueront. Répondez ARRET "
        "pour ne plus rien recevoir.",
        start="Vous êtes réabonné aux rappels et informations de {name}. Des frais de "
        "messages et de données peuvent s'appliquer. Répondez AIDE pour de l'aide, ARRET "
        "pour vous désabonner.",
        help_reach="{name} : pour de l'aide, contactez {reach}. Des frais de messages et "
        "de données peuvent s'appliquer. Répondez ARRET pour vous désabonner.",
        help_here="{name} : pour de l'aide, répondez AGENT et un membre de notre équipe "
        "vous répondra ici. Des frais de messages et de données peuvent s'appliquer. "
        "Répondez ARRET pour vous désabonner.",
    ),
}


def texts_for(*languages: str | None) -> Texts:
    """Return the answers in the first of `languages` Parley speaks (`es-MX` is `es`)."""
    for language in languages:
        found = TEXTS.get((language or "").split("-")[0].split("_")[0].lower())
        if found is not None:
            return found
    return TEXTS[DEFAULT]


def stop_text(business: Mapping[str, str], language: str | None = None) -> str:
    """Return the one confirmation an opt-out gets."""
    return texts_for(language).stop.format(name=business["name"])


def stop_marketing_text(business: Mapping[str, str], language: str | None = None) -> str:
    """Return the confirmation of leaving marketing only: reminders still come."""
    return texts_for(language).stop_marketing.format(name=business["name"])


def start_text(business: Mapping[str, str], language: str | None = None) -> str:
    """Return the confirmation a resubscribe gets."""
    return texts_for(language).start.format(name=business["name"])


def help_text(business: Mapping[str, str], language: str | None = None) -> str:
    """Return the HELP answer: who we are, how to reach us, rates, and how to stop."""
    texts, reach = texts_for(language), business.get("contact")
    # Without a contact, point to what reaches staff here: AGENT hands the conversation over.
    template = texts.help_reach if reach else texts.help_here
    return template.format(name=business["name"], reach=reach)
