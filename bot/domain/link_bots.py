"""Which clicks on a tracked link count: not link previews, scanners or instant clicks.

Messaging apps fetch a link to draw its preview, and mail and SMS security gateways
fetch it to scan it; neither is a person. A click is kept but not counted when its user
agent names such a fetcher, or when it comes within DELIVERY_GRACE of the message's
delivery: the latest of its `sent` and `delivered` times known (either side of it, since
a delivery receipt can arrive after a scanner's fetch), faster than anyone reads a text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

# One second: a person needs longer to open a text and tap its link.
DELIVERY_GRACE = timedelta(seconds=1)
# The statuses whose times say when the message reached the phone.
DELIVERY_STATUSES = ("sent", "delivered")

# Link-preview fetchers, crawlers, security scanners and HTTP tools, by the words their
# user agents carry (matched anywhere, ignoring case).
BOT_WORDS = (
    "facebookexternalhit",
    "facebot",
    "twitterbot",
    "slackbot",
    "slack-imgproxy",
    "whatsapp",
    "telegrambot",
    "discordbot",
    "linkedinbot",
    "applebot",
    "googlebot",
    "bingbot",
    "skypeuripreview",
    "iframely",
    "embedly",
    "pinterest",
    "redditbot",
    "viber",
    "snapchat",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "go-http-client",
    "okhttp",
    "java/",
    "libwww-perl",
    "httpclient",
    "headlesschrome",
    "barracuda",
    "proofpoint",
    "mimecast",
    "urldefense",
    "safelinks",
    "symantec",
    "forcepoint",
    "zscaler",
    "bot",
    "crawler",
    "spider",
    "preview",
    "scanner",
)
_BOTS = re.compile("|".join(re.escape(word) for word in BOT_WORDS), re.IGNORECASE)


def is_bot(user_agent: str | None) -> bool:
    """Tell whether a user agent is a link-preview bot, crawler, scanner or HTTP tool.

    No user agent at all is a program too: every browser sends one.
    """
    return not user_agent or not user_agent.strip() or _BOTS.search(user_agent) is not None


def delivered_at(history: Iterable[Sequence[object]]) -> datetime | None:
    """Return the latest `sent` or `delivered` time in a status history ([status, time], ...)."""
    times = []
    for entry in history:
        if len(entry) >= 2 and entry[0] in DELIVERY_STATUSES and isinstance(entry[1], str):
            try:
                moment = datetime.fromisoformat(entry[1])
            except ValueError:
                continue
            times.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return max(times) if times else None


def near_delivery(at: datetime, delivered: datetime) -> bool:
    """Tell whether a click at `at` comes within DELIVERY_GRACE of the delivery."""
    return abs(at - delivered) < DELIVERY_GRACE


def counted(user_agent: str | None, at: datetime, delivered: datetime | None) -> bool:
    """Tell whether a click counts: a person's, not within a second of the delivery."""
    if is_bot(user_agent):
        return False
    return delivered is None or not near_delivery(at, delivered)
