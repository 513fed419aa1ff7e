"""Redis replies as text, whichever client made them."""

from __future__ import annotations

from collections.abc import Mapping


def text(reply: bytes | str) -> str:
    """Return a Redis reply as text: Parley's clients decode replies, RQ's do not."""
    return reply if isinstance(reply, str) else reply.decode()


def text_hash(reply: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """Return a Redis hash reply with its fields and values as text."""
    return {text(name): text(value) for name, value in reply.items()}
