"""Lints: risks that do not stop a journey from loading, one module each, run in LINTS order."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flows.definition.context import Context
from flows.definition.lints import long_messages

__all__ = ["LINTS", "Lint", "lint"]

# A lint reads the context (messages, defaults, ...) and yields (line, warning) pairs.
Lint = Callable[[Context], Iterable[tuple[int, str]]]

LINTS: tuple[Lint, ...] = (long_messages.lint,)


def lint(ctx: Context) -> None:
    """Run every lint over what was read, recording what each finds as warnings."""
    for each in LINTS:
        for line, message in each(ctx):
            ctx.warn(line, message)
