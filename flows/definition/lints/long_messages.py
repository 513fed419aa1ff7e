"""Warn when a message's fixed text alone takes more than one SMS segment.

A journey that tracks links sends each as a short link: the text is measured with its
links that long (flows.links), not as written.
"""

from __future__ import annotations

from collections.abc import Iterator

from flows.definition.context import Context
from flows.links import as_sent
from flows.sms import UCS2, segments
from flows.template import fixed_text


def lint(ctx: Context) -> Iterator[tuple[int, str]]:
    """Yield a warning for each message whose fixed text costs more than one segment."""
    for line, what, text in ctx.messages:
        try:
            fixed = fixed_text(text, ctx.defaults)
        except Exception:
            continue  # a template that fails without data is measured when it runs
        if ctx.track_links:
            fixed = as_sent(fixed, ctx.link_base)
        cost = segments(fixed)
        if cost.count <= 1:
            continue
        why = f" (because of {cost.culprit!r})" if cost.encoding == UCS2 else ""
        single = 160 if cost.encoding != UCS2 else 70
        yield (
            line,
            f"`{what}` costs {cost.count} SMS segments: its fixed text alone is {cost.length} "
            f"{cost.encoding} characters{why}, and one segment holds {single}",
        )
