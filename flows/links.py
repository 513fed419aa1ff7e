"""Links in message texts: where they are, and what a text costs once they are shortened.

A journey that tracks links (the default) has each http(s) link in its messages sent as a
short link, `<LINK_BASE_URL>/l/<code>`; the bot makes them (bot.domain.links). The
segment count of such a message is that of the text with its short links.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Characters a link in a text message ends before: whitespace and what cannot be in a URL
# unescaped. Punctuation that ends a sentence is trimmed off the end afterwards.
LINK = re.compile(r"https?://[^\s<>\"'`{}|\\^]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
# A short link's code: 8 random bytes in URL-safe base64 (bot.domain.links.new_code).
CODE_LENGTH = 11
SHORT_PATH = "/l/"
# LINK_BASE_URL as checks assume it when they are not told (`flows check` without the
# setting): "https://" and a 16-character host, as in https://sms.example.com.
TYPICAL_BASE_LENGTH = len("https://sms.example.co.uk")


def find_links(text: str) -> list[tuple[int, int]]:
    """Return the (start, end) of each http(s) link in `text`, in order."""
    spans = []
    for match in LINK.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in _TRAILING:
            # A ")" closes the link's own "(" (Wikipedia's pages), else the sentence's.
            if text[end - 1] == ")" and text.count("(", start, end) >= text.count(")", start, end):
                break
            end -= 1
        if text[start:end].split("://", 1)[1]:  # "http://" alone is no link
            spans.append((start, end))
    return spans


def replace_links(text: str, replacement: Callable[[str], str]) -> str:
    """Return `text` with each link replaced by what `replacement` makes of it."""
    out, last = [], 0
    for start, end in find_links(text):
        out.append(text[last:start])
        out.append(replacement(text[start:end]))
        last = end
    out.append(text[last:])
    return "".join(out)


def short_link_length(base: str | None) -> int:
    """Return how long a short link is on `base` (None: a typical LINK_BASE_URL)."""
    base_length = len(base.rstrip("/")) if base else TYPICAL_BASE_LENGTH
    return base_length + len(SHORT_PATH) + CODE_LENGTH


def as_sent(text: str, base: str | None) -> str:
    """Return `text` as it goes out when its links are tracked: each the length of a short link.

    The placeholder has the short link's characters (all in SMS's GSM-7 alphabet), so the
    text's encoding and segment count are those of the message sent.
    """
    length = short_link_length(base)
    return replace_links(text, lambda _: "x" * length)
