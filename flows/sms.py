"""Count what a text costs as SMS: its encoding and how many segments carriers bill."""

from __future__ import annotations

from dataclasses import dataclass

# The GSM 03.38 default alphabet; anything outside it (and its extension) forces UCS-2.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension characters take an escape plus the character: two septets each.
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

GSM7, UCS2 = "GSM-7", "UCS-2"
# (characters in a single message, characters per part of a multi-part message)
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class Segments:
    """How a text travels: its encoding, its length in that encoding and its parts."""

    encoding: str
    length: int
    count: int
    # the first character that forced UCS-2, if any
    culprit: str | None = None


def segments(text: str) -> Segments:
    """Return the encoding, length and segment count of an SMS text."""
    culprit = next((c for c in text if c not in GSM_BASIC and c not in GSM_EXTENDED), None)
    if culprit is None:
        encoding = GSM7
        length = sum(2 if c in GSM_EXTENDED else 1 for c in text)
    else:
        encoding = UCS2
        # UCS-2 counts UTF-16 code units: an emoji takes two.
        length = len(text.encode("utf-16-le")) // 2
    single, part = LIMITS[encoding]
    count = 0 if length == 0 else 1 if length <= single else -(-length // part)
    return Segments(encoding, length, count, culprit)
