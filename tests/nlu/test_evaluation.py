"""The held-out evaluation set: separate from training, and the scores the parser must reach."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nlu import corpus
from nlu.evaluation import evaluate, format_report
from nlu.intents import INTENTS
from nlu.rules import normalise
from parley.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _key(text: str) -> str:
    # Compared as the parser reads them, so "Thanks!" and "thanks" count as the same text.
    return normalise(text).norm or text.strip().casefold()


def test_evaluation_set_is_large_labelled_and_never_trained_on() -> None:
    held_out = corpus.load(corpus.TEST_DIR)
    assert len(held_out) >= 300
    assert {e.intent for e in held_out} == INTENTS
    trained = {_key(e.text) for e in corpus.load()}
    shared = sorted({e.text for e in held_out if _key(e.text) in trained})
    assert shared == []


def test_parser_meets_the_bar_on_the_evaluation_set() -> None:
    report = evaluate()
    assert report.opt_out_recall == 1.0, format_report(report)
    assert report.false_opt_outs == 0, format_report(report)
    assert report.accuracy >= 0.95, format_report(report)


def test_report_has_accuracy_per_intent_scores_and_every_miss(tmp_path: Path) -> None:
    data = tmp_path / "replies.yml"
    data.write_text(
        'version: "3.1"\nnlu:\n'
        "- intent: opt_out\n  examples: |\n    - STOP\n    - see you friday\n"
        "- intent: affirm\n  examples: |\n    - yes\n    - sure thing\n"
        "- intent: out_of_scope\n  examples: |\n    - purple monkey dishwasher\n",
        encoding="utf-8",
    )
    report = evaluate(data)
    assert (report.total, report.accuracy, report.opt_out_recall) == (5, 0.8, 0.5)
    assert report.false_opt_outs == 0
    text = format_report(report)
    assert "accuracy      80.0%" in text
    assert "opt-out recall 50.0%" in text
    assert "opt_out -> affirm" in text and "see you friday" in text
    by_intent = {s.intent: s for s in report.scores}
    assert by_intent["affirm"].precision == pytest.approx(2 / 3)
    assert by_intent["opt_out"].recall == 0.5
    assert by_intent["nlu_fallback"].support == 1  # labels outside the contract


def test_cli_evaluates_and_fails_on_a_missed_opt_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.yml"
    good.write_text(
        'version: "3.1"\nnlu:\n- intent: opt_out\n  examples: |\n    - stop\n', encoding="utf-8"
    )
    bad = tmp_path / "bad.yml"
    bad.write_text(
        'version: "3.1"\nnlu:\n- intent: opt_out\n  examples: |\n    - lovely day\n',
        encoding="utf-8",
    )
    assert main(["nlu", "evaluate", "--data", str(good)]) == 0
    assert "accuracy      100.0%" in capsys.readouterr().out
    assert main(["nlu", "evaluate", "--data", str(good), "--data", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "examples      2" in out and "opt_out -> nlu_fallback" in out


def test_python_m_bot_nlu_evaluate_prints_the_report() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "nlu", "evaluate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "precision" in result.stdout and "false opt-outs 0" in result.stdout
