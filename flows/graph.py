"""Draw a journey: Mermaid flowchart text, and a self-contained SVG from a small layered layout."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import escape

from flows.layout import LABEL_NEAR_TARGET, LINE_HEIGHT, MARGIN, PAD, Link, Node, lay_out, place
from flows.model import TIMEOUT, Journey, Step, describe_delay, format_duration

BEGIN = "begin"


def summary(step: Step) -> str:
    """Describe in a few words what a step does: "send · wait 24h"."""
    parts = []
    if step.stage:
        parts.append(f"stage {step.stage}")
    if step.set:
        parts.append("set " + ", ".join(step.set))
    if step.tag or step.untag:
        parts.append("tags")
    if step.send is not None:
        parts.append("send")
    if step.goal:
        parts.append(f"goal {step.goal}")
    if step.handoff:
        parts.append(f"handoff {step.handoff}")
    if step.action:
        parts.append(f"action {step.action}")
    if step.wait is not None:
        timeout = step.wait.timeout
        parts.append(f"wait {format_duration(timeout)}" if timeout else "wait")
    if step.delay is not None:
        parts.append(f"delay {describe_delay(step.delay)}")
    if step.branch:
        parts.append("branch")
    if step.split:
        parts.append("split")
    if step.end:
        parts.append("end")
    return " · ".join(parts)


def _kind(step: Step) -> str:
    if step.wait is not None:
        return "wait"
    if step.delay is not None:
        return "delay"
    if step.branch or step.split:
        return "choice"
    return "action" if step.action or step.start else "step"


def _graph(journey: Journey) -> tuple[dict[str, Node], list[Link]]:
    """Return the nodes and links of a journey, steps in file order."""
    nodes = {BEGIN: Node(BEGIN, ["start"], "terminal")}
    links = [Link(BEGIN, journey.first.id, "")]
    for step in journey.steps:
        lines = [step.id] + ([summary(step)] if summary(step) else [])
        nodes[step.id] = Node(step.id, lines, _kind(step))
    for step in journey.steps:
        for edge in step.edges():
            if edge.target in nodes:
                links.append(Link(step.id, edge.target, edge.label))
        # Each way out of the journey gets its own end marker, right under its step.
        wait = step.wait
        if wait is not None and wait.timeout is not None and TIMEOUT not in wait.on:
            nodes[f"expired:{step.id}"] = Node(f"expired:{step.id}", ["expired"], "terminal")
            links.append(Link(step.id, f"expired:{step.id}", "timeout"))
        elif not step.edges() and wait is None:
            nodes[f"end:{step.id}"] = Node(f"end:{step.id}", ["end"], "terminal")
            label = f"after {step.action}" if step.action else ""
            links.append(Link(step.id, f"end:{step.id}", label))
        if step.start:
            key = f"journey:{step.start}"
            nodes.setdefault(key, Node(key, ["journey", step.start], "journey"))
            links.append(Link(step.id, key, "start", dashed=True))
    return nodes, links


# -- Mermaid ---------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def mermaid(journey: Journey) -> str:
    """Return the journey as a Mermaid flowchart (top down), one labelled edge per way on."""
    nodes, links = _graph(journey)
    ids = {key: f"n{index}" for index, key in enumerate(nodes)}
    out = ["flowchart TD"]
    for key, node in nodes.items():
        label = _quote("<br/>".join(node.lines))
        shape = {"terminal": f"([{label}])", "journey": f"[[{label}]]", "choice": f"{{{label}}}"}
        out.append(f"    {ids[key]}{shape.get(node.kind, f'[{label}]')}")
    for link in links:
        arrow = "-.->" if link.dashed else "-->"
        label = f"|{_quote(link.label)}|" if link.label else ""
        out.append(f"    {ids[link.source]} {arrow}{label} {ids[link.target]}")
    return "\n".join(out) + "\n"


# -- SVG -------------------------------------------------------------------------------------

STYLE = """
text { font-family: Helvetica, Arial, sans-serif; font-size: 12px; fill: #1f2933; }
.node rect { stroke: #52606d; stroke-width: 1.2; }
.step rect { fill: #ffffff; } .wait rect { fill: #fff3c4; } .delay rect { fill: #dceefb; }
.choice rect { fill: #eae2f8; } .action rect { fill: #e3f9e5; } .journey rect { fill: #f0f4f8; }
.terminal rect { fill: #d9e2ec; }
.link { fill: none; stroke: #7b8794; stroke-width: 1.2; }
.dashed { stroke-dasharray: 5 4; }
.label rect { fill: #ffffff; opacity: 0.9; } .label text { font-size: 11px; fill: #3e4c59; }
.title { font-size: 14px; font-weight: bold; }
"""


def _label_width(label: str) -> float:
    return len(label) * 6.2 + 8 if label else 0.0


def _node_svg(node: Node) -> str:
    left, top = node.x - node.width / 2, node.y - node.height / 2
    radius = node.height / 2 if node.kind == "terminal" else 6
    parts = [
        f'<g class="node {node.kind}">',
        f'<rect x="{left:.1f}" y="{top:.1f}" width="{node.width:.1f}" '
        f'height="{node.height:.1f}" rx="{radius:.1f}"/>',
    ]
    for index, line in enumerate(node.lines):
        y = top + PAD + LINE_HEIGHT * (index + 0.75)
        weight = ' font-weight="bold"' if index == 0 and node.kind != "terminal" else ""
        parts.append(
            f'<text x="{node.x:.1f}" y="{y:.1f}" text-anchor="middle"{weight}>{escape(line)}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _clear_of(x: float, y: float, width: float, placed: list[tuple[float, float, float]]) -> float:
    """Move a label up until its box clears the labels already placed; note where it went."""
    for _ in range(len(placed) + 1):
        hit = next(
            (py for px, py, pw in placed if abs(px - x) < (pw + width) / 2 and abs(py - y) < 18),
            None,
        )
        if hit is None:
            break
        y = hit - 18
    placed.append((x, y, width))
    return y


def _link_svg(
    link: Link, curve: bool, right: float, placed: list[tuple[float, float, float]]
) -> str:
    points = link.points
    if curve:
        (x1, y1), (x2, y2) = points[0], points[-1]
        d = f"M{x1:.1f},{y1:.1f} C{right:.1f},{y1:.1f} {right:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        # The curve's outermost point, where its label sits on it.
        middle = (0.75 * right + 0.125 * (x1 + x2), (y1 + y2) / 2)
    else:
        d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)
        # Near whichever end the link shares with fewer others, where it has room.
        (ax, ay), (bx, by) = points[len(points) // 2 - 1], points[len(points) // 2]
        share = LABEL_NEAR_TARGET if link.near_target else 1 - LABEL_NEAR_TARGET
        middle = (ax + (bx - ax) * share, ay + (by - ay) * share)
    dashed = " dashed" if link.dashed else ""
    out = f'<path class="link{dashed}" d="{d}" marker-end="url(#arrow)"/>'
    if link.label:
        width = _label_width(link.label)
        mx, my = middle
        my = _clear_of(mx, my, width, placed)  # two labels near one box go one above the other
        out += (
            f'<g class="label"><rect x="{mx - width / 2:.1f}" y="{my - 9:.1f}" '
            f'width="{width:.1f}" height="16" rx="3"/>'
            f'<text x="{mx:.1f}" y="{my + 3:.1f}" text-anchor="middle">'
            f"{escape(link.label)}</text></g>"
        )
    return out


def _merge(links: list[Link]) -> list[Link]:
    """Draw links between the same two nodes as one arrow carrying all their labels."""
    merged: dict[tuple[str, str, bool], Link] = {}
    for link in links:
        key = (link.source, link.target, link.dashed)
        if key in merged:
            merged[key].label = ", ".join(x for x in (merged[key].label, link.label) if x)
        else:
            merged[key] = Link(link.source, link.target, link.label, link.dashed)
    return list(merged.values())


def svg(
    journey: Journey,
    node_notes: Mapping[str, str] | None = None,
    link_notes: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """Return the journey drawn as a self-contained SVG document.

    `node_notes` adds a line under a box (by step id, or `begin` for the start marker);
    `link_notes` adds to the label of the arrow from one box to another (figures, say).
    """
    nodes, links = _graph(journey)
    links = _merge(links)
    for key, note in (node_notes or {}).items():
        if key in nodes and note:
            nodes[key].lines.append(note)
    for link in links:
        figure = (link_notes or {}).get((link.source, link.target))
        if figure:
            link.label = f"{link.label}: {figure}" if link.label else figure
    back, paths, layers = lay_out(nodes, links)
    fan_out = Counter(link.source for link in links)
    fan_in = Counter(link.target for link in links)
    for link, path in zip(links, paths, strict=True):
        link.near_target = fan_out[link.source] >= fan_in[link.target]
        # Widen the node the label sits next to, so labels side by side do not overlap.
        middle = len(path) // 2
        near = nodes[path[middle] if link.near_target else path[middle - 1]]
        near.min_width = max(near.min_width, _label_width(link.label) + 12)
    width, height = place(layers)
    height += 28  # room for the title
    for node in nodes.values():
        node.y += 28
    body = []
    curves = 0
    labels: list[tuple[float, float, float]] = []
    for index, (link, path) in enumerate(zip(links, paths, strict=True)):
        source, target = nodes[path[0]], nodes[path[-1]]
        curve = index in back or source.layer == target.layer
        if curve:
            # A step that loops to itself leaves from its upper right and comes back lower.
            rise = source.height / 4 if source is target else 0.0
            link.points = [
                (source.x + source.width / 2, source.y - rise),
                (target.x + target.width / 2 + 6, target.y + rise),
            ]
            # Clear every box on the layers the curve passes, and the curves drawn before it.
            low, high = sorted((source.layer, target.layer))
            spanned = [n for n in nodes.values() if low <= n.layer <= high]
            right = max(n.x + n.width / 2 for n in spanned) + 60 + 14 * curves
            curves += 1
        else:
            bends = [(nodes[key].x, nodes[key].y) for key in path[1:-1]]
            link.points = [
                (source.x, source.y + source.height / 2),
                *bends,
                (target.x, target.y - target.height / 2 - 2),
            ]
            right = 0.0
        body.append(_link_svg(link, curve, right, labels))
    body += [_node_svg(node) for node in nodes.values() if node.kind != "dummy"]
    title = escape(f"{journey.name} ({journey.id})")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img">\n'
        f"<title>{title}</title>\n<style>{STYLE}</style>\n"
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#7b8794"/></marker></defs>\n'
        f'<rect width="100%" height="100%" fill="#fbfcfd"/>\n'
        f'<text class="title" x="{MARGIN}" y="{MARGIN}">{title}</text>\n'
        + "\n".join(body)
        + "\n</svg>\n"
    )


def write_graph(journey: Journey, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ID.mmd and ID.svg into out_dir (created if missing); return their paths."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    mmd, drawing = folder / f"{journey.id}.mmd", folder / f"{journey.id}.svg"
    mmd.write_text(mermaid(journey), encoding="utf-8")
    drawing.write_text(svg(journey), encoding="utf-8")
    return mmd, drawing
