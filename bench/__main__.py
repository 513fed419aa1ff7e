"""`python -m bench`: run the benchmarks, print the figures and rewrite BENCHMARKS.md."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench import (
    analytics,
    inbound,
    inbox,
    links,
    memory,
    nlu,
    outbound,
    record,
    slow_clients,
    timers,
)
from bench.report import HEADER, Section, commit, machine, merge, now
from bot.config import PROJECT_ROOT


def _timers(quick: bool, workdir: Path) -> Section:
    section = Section("timers", "Timers: journey timeouts all due at once, fired by the workers")
    result = timers.run(quick)
    section.add(timers.__doc__.strip().replace("\n", " "), "", timers.format_table(result), "")
    if result["fired"] != result["timers"] or result["fired_twice"]:
        section.failures.append(f"{result['fired']} fired, {result['fired_twice']} twice")
    return section


def _nlu(quick: bool, workdir: Path) -> Section:
    section = Section("nlu", "Intent parsing: per message over the evaluation set")
    section.add(
        nlu.__doc__.strip().replace("\n", " "),
        "",
        "```",
        nlu.format_table(nlu.run(quick)),
        "```",
        "",
    )
    return section


def _memory(quick: bool, workdir: Path) -> Section:
    section = Section("memory", "Redis memory per contact: new, after 100 messages, idle")
    section.add(
        memory.__doc__.strip().replace("\n", " "), "", memory.format_table(memory.run(quick)), ""
    )
    return section


BENCHMARKS = {
    "inbound": inbound.run,
    "outbound": outbound.run,
    "timers": _timers,
    "nlu": _nlu,
    "slow_clients": slow_clients.run,
    "memory": _memory,
    "record": record.section,
    "inbox": inbox.run,
    "analytics": analytics.section,
    "links": links.run,
}


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every finally, which stops the servers


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks; return 1 if a run's own checks failed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (about a minute)")
    parser.add_argument("--only", choices=sorted(BENCHMARKS), help="run just one benchmark")
    parser.add_argument(
        "--output",
        type=Path,
        default=PROJECT_ROOT / "BENCHMARKS.md",
        help="the Markdown file to rewrite (default: BENCHMARKS.md)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)

    names = [args.only] if args.only else list(BENCHMARKS)
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        for name in names:
            print(f"bench: running {name}{' (quick)' if args.quick else ''}...", flush=True)
            workdir = Path(tmp) / name
            workdir.mkdir()
            measured = f"_Measured {now()} at commit {commit()} on {machine()}._"
            section = BENCHMARKS[name](args.quick, workdir)
            section.lines[:0] = [measured, ""]
            sections.append(section)
            print(section.markdown(), flush=True)

    previous = args.output.read_text() if args.output.exists() else None
    args.output.write_text(merge(previous, sections, HEADER))
    print(f"bench: wrote {args.output}", flush=True)
    failures = [f"{s.key}: {problem}" for s in sections for problem in s.failures]
    for problem in failures:
        print(f"bench: CHECK FAILED {problem}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
