"""Phone numbers: E.164 normalisation and the time zone a number implies."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as number_timezone

from bot.domain.area_zones import split_zones

_REASONS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "its country code is not valid",
    phonenumbers.ValidationResult.TOO_SHORT: "it is too short",
    phonenumbers.ValidationResult.TOO_LONG: "it is too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "it has the wrong number of digits",
}


class InvalidPhone(ValueError):
    """A phone number that cannot be turned into E.164; the message says why."""


def region_of(number: str | None, fallback: str = "US") -> str:
    """Return the region code of a number (e.g. the business number), or the fallback."""
    if number:
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
        except phonenumbers.NumberParseException:
            region = None
        if region and region != "ZZ":
            return region
    return fallback


def normalize(raw: object, region: str = "US", *, strict: bool = True) -> str:
    """Return `raw` in E.164, or raise InvalidPhone saying what is wrong with it.

    `strict` also requires a number that is assigned in its country's plan; webhooks
    from Twilio pass strict=False, since Twilio has already routed the message.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise InvalidPhone("phone is required")
    if not isinstance(raw, str):
        # A number loses its leading + and zeros; only text keeps a phone number whole.
        raise InvalidPhone(f'phone must be a string such as "+14155550123", not {_json_kind(raw)}')
    text = raw.strip()
    e164, assigned = _read(text, region)
    if strict and not assigned:
        raise InvalidPhone(f"{text!r} is not a valid phone number: no such number is assigned")
    return e164


def _json_kind(value: object) -> str:
    """Name a value's kind as JSON calls it: a number, true/false, an array, an object."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# The same people text again and again: parsing a number costs more than remembering it.
# Strict and lenient callers share one entry, so a contact the API created is already known
# when they first text in.
@lru_cache(maxsize=65536)
def _read(text: str, region: str) -> tuple[str, bool]:
    """Return (E.164, whether the number is assigned), or raise InvalidPhone."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"{text!r} is not a phone number: {exc._msg}") from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason not in (
        phonenumbers.ValidationResult.IS_POSSIBLE,
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ):
        why = _REASONS.get(reason, "it is not a possible number")
        raise InvalidPhone(f"{text!r} is not a valid phone number: {why}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.is_valid_number(number)


def timezone_for(e164: str, default: str) -> str:
    """Return the IANA time zone of a number when it has exactly one, else `default`."""
    zones = zones_of(e164)
    return zones[0] if len(zones) == 1 else default


def zones_of(e164: str) -> tuple[str, ...]:
    """Return every IANA time zone a number may be in (none when unknown)."""
    split = split_zones(e164)
    if split is not None:
        return split
    try:
        zones = number_timezone.time_zones_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return ()
    return tuple(zone for zone in zones if zone != "Etc/Unknown")
