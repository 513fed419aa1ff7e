"""Tracked links: the short link each http(s) link in a message is sent as, and its code.

A code is random (8 bytes from `secrets`: 64 bits, 11 URL-safe characters), made for one
message and one link, so a click names its contact, message, journey and step.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from flows.links import CODE_LENGTH, SHORT_PATH, replace_links

CODE_BYTES = 8
# What a code looks like; anything else in /l/<code> is unknown without a look.
CODE = re.compile(rf"[A-Za-z0-9_-]{{{CODE_LENGTH}}}")


def new_code() -> str:
    """Return a fresh, unguessable link code."""
    return secrets.token_urlsafe(CODE_BYTES)


def is_code(text: str) -> bool:
    """Tell whether `text` has the shape of a link code."""
    return CODE.fullmatch(text) is not None


@dataclass(frozen=True)
class Link:
    """A short link: its code, the URL it leads to, and the message it was sent in."""

    code: str
    url: str
    phone: str
    message: str  # the message's id
    journey: str | None
    step: str | None
    created: str  # ISO-8601

    def to_dict(self) -> dict[str, Any]:
        """Return the link as stored in Redis and carried to the record."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Link:
        """Rebuild a link from to_dict() output."""
        return cls(
            code=str(data["code"]),
            url=str(data["url"]),
            phone=str(data["phone"]),
            message=str(data["message"]),
            journey=data.get("journey") or None,
            step=data.get("step") or None,
            created=str(data["created"]),
        )


def short_url(base: str, code: str) -> str:
    """Return the short link for `code` on `base` (LINK_BASE_URL)."""
    return base.rstrip("/") + SHORT_PATH + code


def shorten(
    text: str,
    base: str,
    make: Callable[[str], Link],
) -> tuple[str, list[Link]]:
    """Return `text` with each http(s) link replaced by a short link, and the links made.

    `make` makes the Link for one URL (a fresh code each time: one per message and link).
    """
    links: list[Link] = []

    def replacement(url: str) -> str:
        link = make(url)
        links.append(link)
        return short_url(base, link.code)

    return replace_links(text, replacement), links


@dataclass(frozen=True)
class LinkPolicy:
    """Which messages have their links tracked, and on which base URL."""

    base: str  # LINK_BASE_URL (or PUBLIC_URL)
    untracked: frozenset[str] = frozenset()  # journeys that say `track_links: false`

    def tracks(self, journey: str | None) -> bool:
        """Tell whether a journey's messages are sent with short links."""
        return journey is not None and journey not in self.untracked
