"""What a consent reply says besides its intent: which messages it is about, in which language.

`purpose` is "marketing" when an opt-out names only promotions ("stop the promos but keep
my reminders", "STOP PROMOS", "sin promociones"); a plain STOP names nothing and means
every message. `language` is "en", "es" or "fr" when the words themselves show it (BAJA,
ARRÊT, AYUDA, "take me off your list"), so STOP, START and HELP can be answered in it.
"""

from __future__ import annotations

from nlu.model import Entity
from nlu.rules import Text, find, phrases, word_set

PURPOSE = "purpose"
MARKETING = "marketing"
LANGUAGE = "language"

# Spanish and French words that mean what Twilio's keywords mean, as whole messages.
OPT_OUT_WORDS_ES: tuple[str, ...] = ("BAJA", "PARAR", "ALTO")
OPT_OUT_WORDS_FR: tuple[str, ...] = ("ARRET", "ARRÊT", "DÉSABONNER", "DESABONNER")
OPT_IN_WORDS_ES: tuple[str, ...] = ("ALTA", "COMENZAR", "EMPEZAR", "SUSCRIBIR")
OPT_IN_WORDS_FR: tuple[str, ...] = ("REABONNER", "RÉABONNER", "COMMENCER", "DEMARRER", "DÉMARRER")
HELP_WORDS_ES: tuple[str, ...] = ("AYUDA",)
HELP_WORDS_FR: tuple[str, ...] = ("AIDE",)

# Consent revoked in Spanish and French sentences, as compliance.OPT_OUT_PHRASES reads them.
REVOCATIONS_ES_FR: tuple[str, ...] = (
    "(?:ya )?no (?:quiero|deseo|quiere) que me (?:\\w+ )?(?:escriban|manden|envien|contacten"
    "|molesten|llamen|mensajeen|escribas|mandes|envies)",
    "no me (?:vuelvan|vuelva|vuelvas) a (?:escribir|mandar|enviar|contactar|llamar|molestar)",
    "ya no me (?:escriban|manden|envien|contacten|molesten|escribas|mandes|envies|llamen)",
    "no me (?:contacten|molesten|escriban)",
    "(?:quit|saqu|sac|borr|elimin)\\w* (?:de|del) (?:la |su |tu |sus |esta |esa |el )?(?:lista"
    "|base|registro|sistema|contactos)",
    "(?:borren|eliminen|borra|elimina|borrar|eliminar|quiten) (?:mi|este) (?:numero|telefono"
    "|celular)",
    "(?:basta|no mas) (?:de |con )?(?:\\w+ )?(?:mensajes|textos|sms|msjs|recordatorios)",
    "ne (?:plus|pas) m(?:envoyer|ecrire|contacter|texter|appeler)",
    "plus de (?:\\w+ )?(?:messages|sms|textos|rappels|notifications)",
    "je ne (?:veux|souhaite|desire|voudrais|souhaiterais) plus (?:recevoir|etre contacte\\w*"
    "|de vos|de messages|de sms|vos)",
    "(?:retir|supprim|enlev|effac|ray)\\w*(?: moi)? (?:de|du) (?:la |votre |vos |cette |ta |ma )?"
    "(?:liste|fichier|base|repertoire)",
    "me (?:retirer|supprimer|enlever|desinscrire|desabonner|rayer)",
    "(?:supprim|effac|retir)\\w* (?:mon|ce) (?:numero|contact)",
    "laissez moi tranquille|fiche(?:z)? moi la paix",
    "(?:ya )?no (?:quiero|deseo) recibir(?: (?:mas|nada|ningun \\w+))?$",
    "(?:saqu|quit|sac)\\w*me de (?:esto|aqui|esta|este)",
    "ne (?:plus|pas) recevoir",
)


# Words that show a language; words shared by two of them ("no", "me", "messages",
# "info", "promos") show none.
_SPANISH = word_set(
    "baja parar alto ayuda alta comenzar empezar darme dar darse dame denme deme desuscribir"
    " desuscribirme cancelar suscripcion quiero deseo quieren mensajes mensaje mas por favor"
    " porfa gracias basta manden envien escriban mande envie contacten molesten dejen deja"
    " dejar recibir textos promociones promocion ofertas publicidad anuncios sin ningun ninguna"
    " lista quiten quitenme saquen saquenme borren eliminen ayudame necesito otra vez"
    " volver suscribirme inscribirme el los las su sus del nada"
)
_FRENCH = word_set(
    "arret arreter arretez arrete desabonner desabonnez desabonne desinscrire aide aidez svp stp"
    " merci plus je veux souhaite recevoir vos votre pas moi sil vous plait ne rappels retirer"
    " retirez supprimer supprimez enlever enlevez reabonner reinscrire demarrer commencer pub"
    " publicite publicites offres envoyer menvoyer mecrire ecrire besoin daide liste du ces les"
    " oui ca cest bonjour"
)
_ENGLISH = word_set(
    "stop stopall stahp unsubscribe unsub cancel end quit revoke optout opt out start unstop help"
    " subscribe resubscribe please pls plz the my i im you your ur to off remove take me"
    " text texts texting txt msgs want dont do not any more anymore stopping list number"
    " sign up back again add need thanks thank from these this all"
)


def language(t: Text) -> str | None:
    """Return "es", "fr" or "en" when the words show the language, else None."""
    tokens = set(t.norm.split())
    spanish = len(tokens & _SPANISH)
    french = len(tokens & _FRENCH)
    if spanish != french:
        return "es" if spanish > french else "fr"
    if spanish:
        return None  # as much of one as of the other
    return "en" if tokens & _ENGLISH else None


_MARKETING = (
    "promos?|promotions?|promotional(?: \\w+)?|marketing(?: \\w+)?|deals?|offers?|specials"
    "|sales?(?: (?:texts?|messages?|msgs?|alerts?|stuff))?|ads|adverts?|advertising|advertisements?"
    "|coupons?|discounts?|newsletters?|promociones|promocion|ofertas?|publicidad|anuncios"
    "|descuentos|publicites?|pubs?|offres?|promotionnels?"
)
_STOP_WORDS = (
    "stop(?:ping)?|quit(?:ting)?|end(?:ing)? (?:the|these|those|all|your|ur|my)"
    "|cancel(?:l?ing)?|no more"
    "|unsubscrib(?:e|ing)(?: me)?(?: from)?|unsub(?: me)?(?: from)?"
    "|opt (?:me )?out(?: of)?|remove me from|take me off|dont (?:want|need|send)(?: me)?"
    "|do not (?:want|need|send)(?: me)?|not interested in|no longer (?:want|need)|tired of"
    "|sick of|done with|enough with|enough of|without|sin|no (?:quiero|deseo|mas)"
    "|no me (?:manden|envien|mande|envie)|basta de|plus de|pas de|arret\\w*|desabonn\\w*"
    "|je ne veux plus(?: de| recevoir)?"
)
# An opt-out that names promotions as what it is about.
MARKETING_OPT_OUT = phrases(
    f"(?:{_STOP_WORDS}) (?:\\w+ ){{0,3}}?(?:{_MARKETING})\\b",
    f"(?:want|need|keep|send|like|get)(?: me)? (?:\\w+ ){{0,3}}?(?:reminders|updates|alerts"
    "|confirmations|notifications)"
    f"(?: \\w+){{0,6}} (?:not|no) (?:\\w+ ){{0,2}}?(?:{_MARKETING})",
    f"(?:{_MARKETING}) (?:\\w+ ){{0,4}}?(?:no more|no thanks|not interested|stop)$",
    f"no (?:{_MARKETING})\\b",
)
# ...unless it also names every message: "stop the promos and the texts".
_EVERYTHING = phrases(
    "(?:and|or|all|any|every|also) (?:\\w+ ){0,2}?(?:texts|messages|msgs|sms|reminders)\\b",
    "everything|all of it|completely|entirely|altogether|todo|todos|tout",
)
_MARKETING_WORD = phrases(_MARKETING)


# Keeping reminders only says the rest may go: "reminders only please".
REMINDERS_ONLY = phrases(
    "(?:only|just) (?:the |my )?(?:appointment |appt )?reminders(?: please| pls| thanks)?$"
    "|(?:appointment |appt )?reminders only(?: please| pls| thanks)?$"
)


def marketing_only(t: Text) -> bool:
    """Return True if an opt-out names promotions only (a sentence that is STOP alone aside)."""
    head = t.head
    if REMINDERS_ONLY.search(head):
        return True
    if _MARKETING_WORD.search(head) is None:
        return False
    return find(MARKETING_OPT_OUT, head) and _EVERYTHING.search(head) is None


def entities(t: Text, marketing: bool) -> tuple[Entity, ...]:
    """Return the purpose and language entities of a consent reply (opt-out, opt-in, help)."""
    found: list[Entity] = []
    if marketing:
        found.append(Entity(PURPOSE, MARKETING))
    spoken = language(t)
    if spoken is not None:
        found.append(Entity(LANGUAGE, spoken))
    return tuple(found)
