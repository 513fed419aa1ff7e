"""Lay out a directed graph in layers: longest-path layers, barycenter order, box positions."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field


@dataclass
class Node:
    """A box in the drawing: a step, a start or end marker, or another journey."""

    key: str
    lines: list[str]
    # step, wait, delay, choice, action, terminal, journey; dummy bends long edges
    kind: str
    layer: int = 0
    order: float = 0.0
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = 0.0
    # wide enough for the arrow labels drawn beside it
    min_width: float = 0.0


@dataclass
class Link:
    """An arrow from one node to another, with its label."""

    source: str
    target: str
    label: str
    dashed: bool = False
    points: list[tuple[float, float]] = field(default_factory=list)
    near_target: bool = True


CHAR_WIDTH, LINE_HEIGHT, PAD = 7.0, 16.0, 10.0
H_GAP, V_GAP, MARGIN = 36.0, 76.0, 24.0
LABEL_NEAR_TARGET = 0.75


def _back_links(nodes: dict[str, Node], links: list[Link]) -> set[int]:
    """Return the indexes of links that close a cycle, found by depth-first search."""
    out_links: dict[str, list[int]] = {key: [] for key in nodes}
    for number, link in enumerate(links):
        out_links[link.source].append(number)
    state: dict[str, int] = {}
    back: set[int] = set()
    for root in nodes:
        if root in state:
            continue
        stack = [(root, iter(out_links[root]))]
        state[root] = 1
        while stack:
            key, pending = stack[-1]
            index = next(pending, None)
            if index is None:
                state[key] = 2
                stack.pop()
                continue
            target = links[index].target
            if state.get(target) == 1:
                back.add(index)
            elif target not in state:
                state[target] = 1
                stack.append((target, iter(out_links[target])))
    return back


def _layers(nodes: dict[str, Node], links: list[Link], back: set[int]) -> None:
    """Give each node the length of the longest forward path to it."""
    forward = [link for index, link in enumerate(links) if index not in back]
    incoming = {key: 0 for key in nodes}
    for link in forward:
        incoming[link.target] += 1
    ready = [key for key in nodes if incoming[key] == 0]
    while ready:
        key = ready.pop(0)
        for link in forward:
            if link.source == key:
                target = nodes[link.target]
                target.layer = max(target.layer, nodes[key].layer + 1)
                incoming[link.target] -= 1
                if incoming[link.target] == 0:
                    ready.append(link.target)


def _bend(nodes: dict[str, Node], links: list[Link], back: set[int]) -> list[list[str]]:
    """Route forward links that skip layers through invisible nodes; return each link's path."""
    paths = []
    for index, link in enumerate(links):
        path = [link.source]
        low, high = nodes[link.source].layer, nodes[link.target].layer
        if index not in back and high - low > 1:
            for layer in range(low + 1, high):
                key = f"~{index}~{layer}"
                nodes[key] = Node(key, [], "dummy", layer=layer)
                path.append(key)
        paths.append([*path, link.target])
    return paths


def _order(nodes: dict[str, Node], paths: list[list[str]]) -> list[list[Node]]:
    """Order each layer to keep links short: a few barycenter sweeps down and up."""
    layers: list[list[Node]] = []
    for node in nodes.values():
        while len(layers) <= node.layer:
            layers.append([])
        layers[node.layer].append(node)
    for row in layers:
        for position, node in enumerate(row):
            node.order = position
    pairs = [pair for path in paths for pair in itertools.pairwise(path)]
    for sweep in range(8):
        downward = sweep % 2 == 0
        for row in layers if downward else reversed(layers):
            for node in row:
                near = [
                    nodes[a if downward else b].order
                    for a, b in pairs
                    if (b if downward else a) == node.key
                    and nodes[a if downward else b].layer != node.layer
                ]
                if near:
                    node.order = sum(near) / len(near)
            row.sort(key=lambda n: n.order)
            for position, node in enumerate(row):
                node.order = position
    return layers


def place(layers: list[list[Node]]) -> tuple[float, float]:
    """Set every node's size and centre; return the drawing's width and height."""
    for row in layers:
        for node in row:
            longest = max((len(line) for line in node.lines), default=0)
            text = max(90.0, longest * CHAR_WIDTH + 2 * PAD)
            node.width = max(8.0 if node.kind == "dummy" else text, node.min_width)
            node.height = 8.0 if node.kind == "dummy" else len(node.lines) * LINE_HEIGHT + 2 * PAD
    widths = [sum(n.width for n in row) + H_GAP * (len(row) - 1) for row in layers]
    total = max(widths, default=0.0)
    y = MARGIN
    for row, width in zip(layers, widths, strict=True):
        tallest = max((n.height for n in row), default=0.0)
        x = MARGIN + (total - width) / 2
        for node in row:
            node.x, node.y = x + node.width / 2, y + tallest / 2
            x += node.width + H_GAP
        y += tallest + V_GAP
    # Back links curve out to the right of everything.
    return total + 2 * MARGIN + 160, y - V_GAP + MARGIN


def lay_out(
    nodes: dict[str, Node], links: list[Link]
) -> tuple[set[int], list[list[str]], list[list[Node]]]:
    """Layer and order the nodes; return the back links, each link's path and the layers."""
    back = _back_links(nodes, links)
    _layers(nodes, links, back)
    paths = _bend(nodes, links, back)
    return back, paths, _order(nodes, paths)
