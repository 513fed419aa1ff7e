"""Charts drawn on the server as inline SVG: a sparkline, a funnel, a daily time series.

Each chart is readable without colour: lines differ by dash and marker as well as hue,
the funnel's drop-off is hatched, and every mark that matters carries its number as
text. Each has a `<title>` and an aria-label stating its figures; the page puts a table
of the same figures beside it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

_ids = itertools.count(1)


@dataclass(frozen=True)
class Line:
    """One series of a time series chart: its name, its key in the rows, how it is drawn."""

    key: str
    name: str
    colour: str
    dash: str  # an SVG stroke-dasharray ("" for solid)
    marker: str  # circle, square, triangle or diamond


# Four series told apart by dash and marker, not only by hue (colour-blind safe hues).
LINES = (
    Line("sent", "Sent", "#1d4ed8", "", "circle"),
    Line("delivered", "Delivered", "#05603a", "6 3", "square"),
    Line("clicked", "Clicked", "#b54708", "2 3", "triangle"),
    Line("conversions", "Conversions", "#6b21a8", "10 3 2 3", "diamond"),
)


def number(value: float | int | None) -> str:
    """Show a count as people read it: 1,200."""
    if value is None:
        return "none"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _svg(width: float, height: float, label: str, body: str, css: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f"aria-label={quoteattr(label)}><title>{escape(label)}</title>{body}</svg>"
    )


def sparkline(days: Sequence[Mapping[str, Any]], key: str, what: str) -> Markup:
    """Draw one metric per day as a small line, its total and peak stated in words."""
    values = [int(day.get(key) or 0) for day in days]
    width, height, pad = 120.0, 28.0, 3.0
    total = sum(values)
    peak = max(values, default=0)
    span = f"{what} per day, {days[0]['day']} to {days[-1]['day']}" if days else what
    if total:
        label = (
            f"{span}: {number(total)} in all, at most {number(peak)} "
            f"(on {days[values.index(peak)]['day']}), {number(values[-1])} on the last day"
        )
    else:
        label = f"{span}: none"
    step = (width - 2 * pad) / max(1, len(values) - 1)
    top = max(1, peak)
    points = " ".join(
        f"{pad + i * step:.1f},{height - pad - (v / top) * (height - 2 * pad):.1f}"
        for i, v in enumerate(values)
    )
    body = (
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#c9ced6" stroke-width="1"/>'
    )
    if len(values) == 1:
        y = height - pad - (values[0] / top) * (height - 2 * pad)
        body += f'<circle cx="{width / 2}" cy="{y:.1f}" r="2" fill="#1d4ed8"/>'
    elif values:
        body += (
            f'<polyline points="{points}" fill="none" stroke="#1d4ed8" stroke-width="1.5" '
            'stroke-linejoin="round"/>'
        )
    return _svg(width, height, label, body, "sparkline")


def funnel(entered: int, steps: Sequence[Mapping[str, Any]]) -> Markup:
    """Draw runs entered, then each step's runs reached, its drop-off hatched and labelled."""
    bar_left, bar_width, row, label_width = 150.0, 360.0, 30.0, 260.0
    rows = [("Entered", entered, 0), *((s["step"], s["reached"], s["dropped_off"]) for s in steps)]
    width = bar_left + bar_width + label_width
    height = row * len(rows) + 10
    scale = max([entered, *(r for _, r, _ in rows)]) or 1
    pattern = f"hatch{next(_ids)}"
    body = [
        f'<defs><pattern id="{pattern}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fde2e1"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#b42318" stroke-width="2.5"/></pattern></defs>'
    ]
    words = [f"Funnel: {number(entered)} runs entered"]
    for index, (name, reached, dropped) in enumerate(rows):
        y = 5 + index * row
        kept = max(0, reached - dropped)
        body.append(
            f'<text x="{bar_left - 8}" y="{y + 17}" text-anchor="end" class="chart-name">'
            f"{escape(_short(name, 20))}</text>"
        )
        body.append(
            f'<rect x="{bar_left}" y="{y + 3}" width="{bar_width * kept / scale:.1f}" '
            f'height="{row - 8}" fill="#1d4ed8"/>'
        )
        if dropped:
            body.append(
                f'<rect x="{bar_left + bar_width * kept / scale:.1f}" y="{y + 3}" '
                f'width="{bar_width * dropped / scale:.1f}" height="{row - 8}" '
                f'fill="url(#{pattern})" stroke="#b42318" stroke-width="1"/>'
            )
        text = f"{number(reached)} reached" if index else f"{number(reached)} entered"
        if index:
            share = f" ({dropped / reached:.0%})" if reached else ""
            text += f", {number(dropped)} dropped off{share}"
            words.append(f"{name}: {text}")
        x = bar_left + bar_width * reached / scale + 6
        body.append(f'<text x="{x:.1f}" y="{y + 17}" class="chart-value">{escape(text)}</text>')
    label = "; ".join(words) + ". Hatched: runs that dropped off at the step."
    return _svg(width, height, label, "".join(body), "funnel")


def time_series(days: Sequence[Mapping[str, Any]], lines: Sequence[Line] = LINES) -> Markup:
    """Draw each line's value per day on shared axes, each line named at its end."""
    left, right, top, bottom = 48.0, 170.0, 14.0, 34.0
    plot_w, plot_h = 600.0, 220.0
    width, height = left + plot_w + right, top + plot_h + bottom
    peak = max([1, *(int(d.get(line.key) or 0) for d in days for line in lines)])
    count = len(days)
    step = plot_w / max(1, count - 1)

    def at(index: int, value: int) -> tuple[float, float]:
        x = left + (index * step if count > 1 else plot_w / 2)
        return x, top + plot_h - value / peak * plot_h

    body = []
    for tick in sorted({0, peak // 2, peak}):
        _, y = at(0, tick)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e4e7ec"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="chart-axis">'
            f"{number(tick)}</text>"
        )
    if days:
        labelled = sorted({0, count - 1, *range(0, count, max(1, count // 6))})
        for index in labelled:
            x, _ = at(index, 0)
            body.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
                f'class="chart-axis">{escape(str(days[index]["day"])[5:])}</text>'
            )
    body.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#4a5260"/>'
    )
    words, ends = [], []
    for line in lines:
        values = [int(d.get(line.key) or 0) for d in days]
        words.append(f"{line.name} {number(sum(values))} in all")
        points = [at(i, v) for i, v in enumerate(values)]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{line.colour}" '
                f'stroke-width="2"{dash}/>'
            )
        every = max(1, count // 15)  # markers on at most ~15 days, so they stay apart
        for index, (x, y) in enumerate(points):
            if index % every == 0 or index == count - 1:
                body.append(_marker(line, x, y))
        if points:
            ends.append((points[-1][1], line, values[-1]))
    # Each line is named at its end, with a sample of its dash and marker; names that
    # would overlap are spread apart, within the plot's height.
    placed = _spread([y for y, _, _ in sorted(ends, key=lambda e: e[0])], top, top + plot_h)
    x = left + plot_w + 8
    for y, (_, line, last) in zip(placed, sorted(ends, key=lambda e: e[0]), strict=True):
        dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
        body.append(
            f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 26:.1f}" y2="{y:.1f}" '
            f'stroke="{line.colour}" stroke-width="2"{dash}/>'
            + _marker(line, x + 13, y)
            + f'<text x="{x + 32:.1f}" y="{y + 4:.1f}" style="fill: {line.colour}" '
            f'class="chart-name">{escape(line.name)} {number(last)}</text>'
        )
    span = f"{days[0]['day']} to {days[-1]['day']}" if days else "no days"
    label = f"Per day, {span}: " + ", ".join(words) + ". Lines end with the last day's figure."
    return _svg(width, height, label, "".join(body), "series")


def _spread(ys: Sequence[float], low: float, high: float, gap: float = 16.0) -> list[float]:
    """Move sorted label positions apart by `gap`, keeping them between `low` and `high`."""
    out: list[float] = []
    for y in ys:
        out.append(max(y, low, out[-1] + gap if out else low))
    for index in range(len(out) - 1, -1, -1):
        ceiling = high if index == len(out) - 1 else out[index + 1] - gap
        out[index] = min(out[index], ceiling)
    return out


def _marker(line: Line, x: float, y: float) -> str:
    fill = f'fill="{line.colour}"'
    if line.marker == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" {fill}/>'
    shapes: dict[str, list[tuple[float, float]]] = {
        "triangle": [(0, -4.5), (4.5, 3.5), (-4.5, 3.5)],
        "diamond": [(0, -5), (5, 0), (0, 5), (-5, 0)],
    }
    corners = shapes.get(line.marker)
    if corners:
        d = " L".join(f"{x + dx:.1f},{y + dy:.1f}" for dx, dy in corners)
        return f'<path d="M{d} z" {fill}/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" {fill}/>'


def _short(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
