"""Results as Markdown: sections, tables, the machine they were measured on."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version

from bot.config import PROJECT_ROOT
from bot.storage.redis_server import server_binary


@dataclass
class Section:
    """One benchmark's results: Markdown lines, and how many checks failed."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, *lines: str) -> None:
        """Append lines of Markdown."""
        self.lines.extend(lines)

    def table(self, headers: list[str], rows: list[list[str]]) -> None:
        """Append a Markdown table, numbers right-aligned."""
        aligns = [":---" if i == 0 else "---:" for i in range(len(headers))]
        self.add(
            "| " + " | ".join(headers) + " |",
            "| " + " | ".join(aligns) + " |",
            *("| " + " | ".join(row) + " |" for row in rows),
            "",
        )

    def markdown(self) -> str:
        """Return the section, between markers that let a later run replace it alone."""
        body = "\n".join(self.lines).rstrip()
        return f"<!-- bench:{self.key} -->\n## {self.title}\n\n{body}\n<!-- /bench:{self.key} -->\n"


def cpus() -> int:
    """Return the CPUs this process may run on (what nproc prints)."""
    return len(os.sched_getaffinity(0))


def machine() -> str:
    """Return a one-line description of the machine and software measured on."""
    try:
        out = subprocess.run(
            [server_binary(), "--version"], capture_output=True, text=True, check=False
        ).stdout
        found = re.search(r"v=(\S+)", out)
        redis_version = found[1] if found else "unknown"
    except OSError:
        redis_version = "unknown"
    return (
        f"{cpus()} CPUs (nproc), {platform.machine()} {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, redis-server {redis_version}, "
        f"gunicorn {version('gunicorn')}, twilio {version('twilio')};"
        f" load average {os.getloadavg()[0]:.2f} at start"
    )


def commit() -> str:
    """Return the short hash of the checked-out commit, or "unknown" outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def now() -> str:
    """Return the current time, to the minute, in UTC."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def ratio(value: float, base: float) -> float:
    """Return value / base, or 0 when the base is empty."""
    return value / base if base else 0.0


def verdict(value: float, target: float) -> str:
    """Say whether a ratio met its target."""
    return f"met (>= {target:g})" if value >= target else f"NOT met (< {target:g})"


HEADER = """# Benchmarks

Reproduce with `make bench` (it runs `python -m bench` from the repository root; add
`--quick` for a short run or `--only inbound|outbound` for one benchmark, which then
replaces only its own section below). Every benchmark starts its own redis-server (on a
free loopback port, append-only file off, data in a temp dir) and its own Twilio emulator,
sends traffic to 127.0.0.1 only, and measures Parley against a baseline in the same run:
compare the ratios between machines, not the absolute rates.
"""


def merge(previous: str | None, sections: list[Section], header: str) -> str:
    """Return BENCHMARKS.md with `sections` replaced, other sections kept from `previous`."""
    kept: dict[str, str] = {}
    for match in re.finditer(r"<!-- bench:(\w+) -->.*?<!-- /bench:\1 -->\n?", previous or "", re.S):
        kept[match[1]] = match[0].rstrip("\n") + "\n"
    for section in sections:
        kept[section.key] = section.markdown()
    order = ["inbound", "outbound"]
    keys = [k for k in order if k in kept] + [k for k in kept if k not in order]
    return header.rstrip("\n") + "\n\n" + "\n".join(kept[k] for k in keys)
