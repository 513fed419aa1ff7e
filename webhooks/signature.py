"""X-Twilio-Signature checks over the URL Twilio called."""

from __future__ import annotations

import hmac
import logging
from functools import lru_cache

from flask import Request
from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    RequestValidator,
    get_signature_algorithm,
)

from bot.config import Settings

log = logging.getLogger(__name__)

# What RequestValidator can compute; it raises ValueError on any other name.
ALGORITHMS = frozenset({HMAC_SHA1, HMAC_SHA256})


def signed_url(request: Request, public_url: str | None) -> str:
    """Return the URL Twilio must have signed: PUBLIC_URL plus path and query, else this URL.

    Never a host the client names: one Twilio account signs webhooks for all its hosts,
    so a request signed for another of them would pass. `request.url` follows proxy
    headers only as far as the app's ProxyFix trusts them (TRUSTED_PROXIES).
    """
    if not public_url:
        return request.url
    path = request.full_path if request.query_string else request.path
    return public_url.rstrip("/") + path


def is_signed(request: Request, settings: Settings) -> bool:
    """Say whether the request carries a valid Twilio signature (always, in the sandbox)."""
    if not settings.verify_signatures:
        return True
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not signature.isascii():  # base64, so never anything else
        return False
    algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    if algorithm.upper() not in ALGORITHMS:
        log.info("refused webhook signed with unknown algorithm %r", algorithm[:40])
        return False
    url = signed_url(request, settings.public_url)
    validator = _validator(settings.auth_token)
    # Parley's request class (webhooks.forms) gives the form the `getall` the validator
    # tries first; on any other request the validator falls back to `getlist`.
    form = request.form
    # The usual case costs one HMAC; `validate` also tries the URL with and without its port.
    if hmac.compare_digest(validator.compute_signature(url, form, algorithm), signature):
        return True
    try:
        return validator.validate(url, form, signature, algorithm)
    except ValueError:  # a port that is not a number: no URL Twilio could have called
        return False


@lru_cache(maxsize=8)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)
