"""Intent parsing speed per message over the evaluation set: rules alone, and the whole parse.

`run(quick)` returns the figures; `python -m bench.nlu [--quick]` prints them as a table.
Each path is reported against a baseline measured in the same run: a bare `str.lower()`
and dict lookup of the same texts, the least any parser could do.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

# Repeats per text: the median of several calls hides one-off hiccups of a busy machine.
QUICK_REPEATS = 3
FULL_REPEATS = 15


def run(quick: bool = False) -> dict[str, Any]:
    """Time first use and per-message parsing; return the figures in microseconds."""
    started = time.perf_counter()
    from nlu import classifier, corpus, parser

    import_s = time.perf_counter() - started
    started = time.perf_counter()
    examples = corpus.load()
    classifier.Classifier.train(examples)
    train_s = time.perf_counter() - started
    parser.prepare()

    texts = [example.text for example in corpus.load(corpus.TEST_DIR)]
    ruled = [text for text in texts if parser.apply_rules(text) is not None]
    modelled = [text for text in texts if parser.apply_rules(text) is None]
    repeats = QUICK_REPEATS if quick else FULL_REPEATS
    table = {text.lower(): index for index, text in enumerate(texts)}

    def baseline(text: str) -> object:
        return table.get(text.lower())

    paths = {
        "baseline (lower + dict)": _time(baseline, texts, repeats),
        "rules alone (texts they decide)": _time(parser.apply_rules, ruled, repeats),
        "whole parse (every text)": _time(parser.parse, texts, repeats),
        "whole parse (texts the model decides)": _time(parser.parse, modelled, repeats),
    }
    floor = paths["baseline (lower + dict)"]["median_us"] or 1e-9
    for figures in paths.values():
        figures["x_baseline"] = round(figures["median_us"] / floor, 1)
    return {
        "texts": len(texts),
        "decided_by_rules": len(ruled),
        "training_examples": len(examples),
        "import_s": round(import_s, 3),
        "train_s": round(train_s, 3),
        "repeats": repeats,
        "paths": paths,
    }


def _time(function: Callable[[str], object], texts: Sequence[str], repeats: int) -> dict[str, Any]:
    """Return the median and p99, over texts, of each text's median time per call."""
    per_text = []
    for text in texts:
        samples = []
        for _ in range(repeats):
            started = time.perf_counter_ns()
            function(text)
            samples.append(time.perf_counter_ns() - started)
        per_text.append(statistics.median(samples) / 1000)
    per_text.sort()
    p99 = per_text[min(len(per_text) - 1, round(0.99 * (len(per_text) - 1)))] if per_text else 0.0
    return {
        "messages": len(texts),
        "median_us": round(statistics.median(per_text), 2) if per_text else 0.0,
        "p99_us": round(p99, 2),
    }


def format_table(result: dict[str, Any]) -> str:
    """Return the figures of `run` as a small plain-text table."""
    lines = [
        f"{result['texts']} evaluation texts, {result['decided_by_rules']} decided by rules; "
        f"classifier: {result['training_examples']} examples, import {result['import_s']:.2f} s, "
        f"training {result['train_s']:.2f} s",
        "",
        f"{'path':<40}{'messages':>9}{'median µs':>11}{'p99 µs':>10}{'x baseline':>12}",
    ]
    for name, figures in result["paths"].items():
        lines.append(
            f"{name:<40}{figures['messages']:>9}{figures['median_us']:>11.1f}"
            f"{figures['p99_us']:>10.1f}{figures['x_baseline']:>12.1f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    options = argparse.ArgumentParser(prog="python -m bench.nlu", description=__doc__)
    options.add_argument("--quick", action="store_true", help="fewer repeats per text")
    print(format_table(run(options.parse_args().quick)))
