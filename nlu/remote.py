"""A Rasa server's `/model/parse`, used for free text when NLU_URL names one."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from typing import Any

import requests

from nlu.model import Entity

URL_VARIABLE = "NLU_URL"
TIMEOUT = 2.0  # seconds: an SMS reply waits on this, so a slow server loses to the local model
# After a failure the server is left alone for a while, so an outage costs one timeout per
# RETRY_AFTER seconds rather than one per message.
RETRY_AFTER = 15.0
# An SMS is at most 1600 characters; anything past that is not worth sending.
MAX_CHARS = 1600

Ranking = list[tuple[str, float]]
log = logging.getLogger(__name__)
_lock = threading.Lock()
_resting_until: dict[str, float] = {}


def endpoint() -> str | None:
    """Return the `/model/parse` URL that NLU_URL points at, or None when it is unset."""
    url = os.environ.get(URL_VARIABLE, "").strip().rstrip("/")
    if not url:
        return None
    return url if url.endswith("/model/parse") else f"{url}/model/parse"


def rank(text: str, url: str) -> tuple[Ranking, tuple[Entity, ...]] | None:
    """Ask the Rasa server at `url` for intents, most likely first; None if it cannot answer."""
    with _lock:
        if time.monotonic() < _resting_until.get(url, 0.0):
            return None
    try:
        response = requests.post(url, json={"text": text[:MAX_CHARS]}, timeout=TIMEOUT)
        response.raise_for_status()
        answer = _read(response.json(), min(len(text), MAX_CHARS))
    except (requests.RequestException, ValueError, TypeError, KeyError, AttributeError) as error:
        log.warning("NLU server %s failed (%s); using the local model", url, error)
        with _lock:
            _resting_until[url] = time.monotonic() + RETRY_AFTER
        return None
    return answer


def _read(body: Any, length: int) -> tuple[Ranking, tuple[Entity, ...]]:
    """Return the intent ranking and entities of a Rasa parse, checking their types."""
    intent = body["intent"]
    ranking = [(str(intent["name"]), _probability(intent.get("confidence")))]
    for other in body.get("intent_ranking") or ():
        name = str(other["name"])
        if name != ranking[0][0]:
            ranking.append((name, _probability(other.get("confidence"))))
    entities = tuple(
        Entity(
            str(found["entity"]),
            found.get("value"),
            *_span(found, length),
            extractor=_extractor(found),
        )
        for found in body.get("entities") or ()
    )
    return ranking, entities


def _probability(value: Any) -> float:
    number = float(value if value is not None else 0.0)
    return min(max(number, 0.0), 1.0) if math.isfinite(number) else 0.0


def _span(found: dict[str, Any], length: int) -> tuple[int | None, int | None]:
    start, end = found.get("start"), found.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= length:
        return start, end
    return None, None


def _extractor(found: dict[str, Any]) -> str:
    return str(found.get("extractor") or "rasa")
