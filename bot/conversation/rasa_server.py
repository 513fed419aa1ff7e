"""A Rasa server's `/model/parse`: the remote parser for free text when NLU_URL names one."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

import requests

from nlu import Entity, Ranking
from nlu.rasa import read_answer

TIMEOUT = 2.0  # seconds: an SMS reply waits on this, so a slow server loses to the local model
# After a failure the server is left alone for a while, so an outage costs one timeout per
# RETRY_AFTER seconds rather than one per message.
RETRY_AFTER = 15.0
# An SMS is at most 1600 characters; anything past that is not worth sending.
MAX_CHARS = 1600
PARSE_PATH = "/model/parse"

log = logging.getLogger(__name__)


def endpoint(url: str) -> str:
    """Return the `/model/parse` URL of a Rasa server given by its base or that URL."""
    url = url.rstrip("/")
    return url if url.endswith(PARSE_PATH) else url + PARSE_PATH


class RasaServer:
    """Asks a Rasa server to read free text (nlu's RemoteParser), resting it after a failure."""

    def __init__(
        self,
        url: str,
        timeout: float = TIMEOUT,
        retry_after: float = RETRY_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = endpoint(url)
        self.timeout = timeout
        self.retry_after = retry_after
        self.clock = clock
        self._lock = threading.Lock()
        self._resting_until = -math.inf

    def rank(self, text: str) -> tuple[Ranking, tuple[Entity, ...]] | None:
        """Return the server's intents for `text`, most likely first; None if it cannot answer."""
        with self._lock:
            if self.clock() < self._resting_until:
                return None
        try:
            response = requests.post(
                self.url, json={"text": text[:MAX_CHARS]}, timeout=self.timeout
            )
            response.raise_for_status()
            return read_answer(response.json(), min(len(text), MAX_CHARS))
        except (requests.RequestException, ValueError) as error:
            log.warning("NLU server %s failed (%s); using the local model", self.url, error)
            with self._lock:
                self._resting_until = self.clock() + self.retry_after
            return None


def remote_parser(nlu_url: str | None) -> RasaServer | None:
    """Return the Rasa server NLU_URL names, or None to read every text locally."""
    return RasaServer(nlu_url) if nlu_url else None
