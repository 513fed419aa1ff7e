"""Score the parser against labelled replies: accuracy, per-intent figures, what it got wrong."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from nlu import corpus
from nlu.intents import FALLBACK, INTENTS, OPT_OUT
from nlu.model import RemoteParser
from nlu.parser import parse


@dataclass(frozen=True, slots=True)
class Score:
    """Precision, recall and F1 of one intent, over `support` examples labelled with it."""

    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Miss:
    """One reply the parser read differently from its label."""

    text: str
    expected: str
    got: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of parsing every example of an evaluation set."""

    total: int
    accuracy: float
    scores: tuple[Score, ...]
    misses: tuple[Miss, ...]

    @property
    def opt_out_recall(self) -> float:
        """Return the share of opt-outs recognised (1.0 when there were none)."""
        missed = sum(1 for miss in self.misses if miss.expected == OPT_OUT)
        labelled = next((s.support for s in self.scores if s.intent == OPT_OUT), 0)
        return 1.0 - missed / labelled if labelled else 1.0

    @property
    def false_opt_outs(self) -> int:
        """Return how many replies that were not opt-outs were read as one."""
        return sum(1 for miss in self.misses if miss.got == OPT_OUT)


def evaluate(*paths: str | Path, remote: RemoteParser | None = None) -> Report:
    """Parse every example in Rasa NLU files (default: nlu/data/test) and score the result.

    `remote` is the parser's remote model, if the deployment has one: it is scored too.
    """
    examples = corpus.load(*(paths or (corpus.TEST_DIR,)))
    if not examples:
        raise ValueError("no examples to evaluate")
    # Labels outside the contract ("out_of_scope") mean the same as nlu_fallback here.
    expected = [e.intent if e.intent in INTENTS else FALLBACK for e in examples]
    parses = [parse(example.text, remote=remote) for example in examples]
    got = [p.intent for p in parses]
    labels = sorted(set(expected) | set(got))
    precision, recall, f1, support = precision_recall_fscore_support(
        expected, got, labels=labels, zero_division=0
    )
    scores = tuple(
        Score(label, float(p), float(r), float(f), int(n))
        for label, p, r, f, n in zip(labels, precision, recall, f1, support, strict=True)
    )
    misses = tuple(
        Miss(example.text, want, found.intent, found.confidence)
        for example, want, found in zip(examples, expected, parses, strict=True)
        if want != found.intent
    )
    return Report(len(examples), float(accuracy_score(expected, got)), scores, misses)


def format_report(report: Report) -> str:
    """Return the report as a plain-text table followed by every miss."""
    lines = [
        f"examples      {report.total}",
        f"accuracy      {report.accuracy:.1%}",
        f"opt-out recall {report.opt_out_recall:.1%}   false opt-outs {report.false_opt_outs}",
        "",
        f"{'intent':<14}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}",
    ]
    lines += [
        f"{s.intent:<14}{s.precision:>10.2f}{s.recall:>8.2f}{s.f1:>8.2f}{s.support:>9}"
        for s in report.scores
    ]
    lines += ["", f"misclassified ({len(report.misses)}):"]
    lines += [f"  {m.expected} -> {m.got} ({m.confidence:.2f}): {m.text}" for m in report.misses]
    return "\n".join(lines)


def run(paths: Sequence[str], remote: RemoteParser | None = None) -> int:
    """Print the evaluation of `paths`; return 1 if any opt-out was missed or invented."""
    report = evaluate(*paths, remote=remote)
    print(format_report(report))
    return 0 if report.opt_out_recall == 1.0 and report.false_opt_outs == 0 else 1
