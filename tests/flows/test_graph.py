"""Tests for drawing journeys: Mermaid text, a well-formed SVG, and `flows graph`."""

from __future__ import annotations

import re
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from flows.definition import load_journeys, read_journey
from flows.graph import mermaid, svg, write_graph
from flows.model import Journey
from parley.cli import main

JOURNEYS = load_journeys()
SVG = "{http://www.w3.org/2000/svg}"

# Loops, a split, a branch, an action, a start and a wait without a timeout branch.
TANGLED = """\
id: tangled
steps:
  - id: ask
    send: "Rate us"
    wait:
      timeout: 1d
      rating: {">=4": happy, "<=2": ask}
      keywords: {MENU: menu}
      on: {other: check}
  - id: happy
    split: {thank: 1, ask_again: 3}
  - id: thank
    send: thanks
    start: welcome
  - id: ask_again
    delay: {for: 1d}
    next: ask
  - id: menu
    action: action_menu
    next: check
  - id: check
    branch:
      - {if: "contact.tier == 'gold'", goto: happy}
      - {else: done}
  - id: done
    end: true
"""


def _parse(text: str) -> Journey:
    reading = read_journey("<test>", textwrap.dedent(text))
    assert reading.journey is not None, reading.errors
    return reading.journey


def _all() -> list[Journey]:
    return [*JOURNEYS.values(), _parse(TANGLED)]


@pytest.mark.parametrize("journey", _all(), ids=lambda j: j.id)
def test_mermaid_shows_every_step_and_every_edge_label(journey: Journey) -> None:
    text = mermaid(journey)
    assert text.startswith("flowchart TD\n")
    for step in journey.steps:
        assert re.search(rf'\["{re.escape(step.id)}(<br/>|")', text) or (f'{{"{step.id}' in text), (
            step.id
        )
        for edge in step.edges():
            assert f'|"{edge.label}"|' in text.replace("#quot;", '"'), edge.label
    # Every arrow joins two declared nodes.
    declared = set(re.findall(r"^    (n\d+)[\[({]", text, re.MULTILINE))
    for source, target in re.findall(r"^    (n\d+) -\.?->(?:\|[^|]*\|)? (n\d+)$", text, re.M):
        assert {source, target} <= declared


@pytest.mark.parametrize("journey", _all(), ids=lambda j: j.id)
def test_svg_is_well_formed_and_shows_every_step(journey: Journey) -> None:
    root = ET.fromstring(svg(journey))
    assert root.tag == f"{SVG}svg"
    assert float(root.get("width", 0)) > 0 and float(root.get("height", 0)) > 0
    texts = [element.text for element in root.iter(f"{SVG}text")]
    for step in journey.steps:
        assert step.id in texts, step.id
    labels = " | ".join(t for t in texts if t)
    for step in journey.steps:
        for edge in step.edges():
            assert edge.label in labels, edge.label
    # Nothing outside the document: no external references, no scripts.
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter(f"{SVG}image"))


def test_nodes_do_not_overlap() -> None:
    root = ET.fromstring(svg(JOURNEYS["post_purchase_feedback"]))
    boxes = []
    for group in root.iter(f"{SVG}g"):
        if "node" in (group.get("class") or ""):
            rect = group.find(f"{SVG}rect")
            assert rect is not None
            x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
            boxes.append((x, y, x + float(rect.get("width", 0)), y + float(rect.get("height", 0))))
    assert len(boxes) >= len(JOURNEYS["post_purchase_feedback"].steps)
    for index, a in enumerate(boxes):
        for b in boxes[index + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, (a, b)


def test_the_tangled_journey_draws_its_loops_and_ends() -> None:
    text = mermaid(_parse(TANGLED))
    assert '[["journey<br/>welcome"]]' in text and '-.->|"start"|' in text
    assert '|"75%"|' in text and '|"25%"|' in text
    assert "|\"if contact.tier == 'gold'\"|" in text and '|"else"|' in text
    assert '|"after action_menu"|' in text and '|"for 1d"|' in text
    assert '|"timeout"|' in text and '(["expired"])' in text


def test_write_graph_and_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    journey = JOURNEYS["welcome"]
    mmd, drawing = write_graph(journey, tmp_path / "new")
    assert mmd.read_text() == mermaid(journey)
    ET.parse(drawing)

    out = tmp_path / "cli"
    assert main(["flows", "graph", "abandoned_cart", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed == (out / "abandoned_cart.mmd").read_text()
    assert printed.startswith("flowchart TD")
    ET.parse(out / "abandoned_cart.svg")

    assert main(["flows", "graph", "no_such_journey", "--out", str(out)]) == 1
    assert "no journey 'no_such_journey'" in capsys.readouterr().err


def test_the_command_line_writes_under_var_by_default_not_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    here, var = tmp_path / "here", tmp_path / "var"
    here.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setenv("PARLEY_VAR_DIR", str(var))
    assert main(["flows", "graph", "welcome"]) == 0
    assert list(here.iterdir()) == []
    drawn = var / "graphs"
    assert (drawn / "welcome.mmd").is_file() and (drawn / "welcome.svg").is_file()
    err = capsys.readouterr().err
    assert str(drawn / "welcome.mmd") in err and str(drawn / "welcome.svg") in err
