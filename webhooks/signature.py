"""X-Twilio-Signature checks over the URL Twilio called, behind proxies too."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from functools import lru_cache

from flask import Request
from twilio.request_validator import RequestValidator, get_signature_algorithm

from bot.config import Settings


def candidate_urls(request: Request, public_url: str | None) -> Iterator[str]:
    """Yield the URLs Twilio may have signed, each once: PUBLIC_URL first, then what proxies say.

    A generator: the usual request matches the first, and the rest are never built.
    """
    path = request.full_path if request.query_string else request.path
    first = public_url.rstrip("/") + path if public_url else None
    if first:
        yield first
    proto = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    forwarded = f"{proto}://{host}{path}"
    if forwarded != first:
        yield forwarded


def is_signed(request: Request, settings: Settings) -> bool:
    """Say whether the request carries a valid Twilio signature (always, in the sandbox)."""
    if not settings.verify_signatures:
        return True
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    validator = _validator(settings.auth_token)
    # Parley's request class (webhooks.forms) gives the form the `getall` the validator
    # tries first; on any other request the validator falls back to `getlist`.
    form = request.form
    # The usual case costs one HMAC; `validate` tries each URL with and without its port.
    if any(
        hmac.compare_digest(validator.compute_signature(url, form, algorithm), signature)
        for url in candidate_urls(request, settings.public_url)
    ):
        return True
    return any(
        validator.validate(url, form, signature, algorithm)
        for url in candidate_urls(request, settings.public_url)
    )


@lru_cache(maxsize=8)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)
