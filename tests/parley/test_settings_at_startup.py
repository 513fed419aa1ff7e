"""A bad setting stops the Procfile's processes at start-up, with a line naming it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.emulator_server import EmulatorServer
from tests.conftest import free_port
from tests.processes import Processes, deployment, environment, wait_until
from tests.sandbox.test_devserver import healthy


@pytest.fixture
def processes(redis_url: str, emulator: EmulatorServer, tmp_path: Path) -> Iterator[Processes]:
    """The Procfile's processes, none started yet; all stopped after the test."""
    processes = Processes(environment(redis_url, emulator, free_port(), tmp_path / "var"), tmp_path)
    yield processes
    processes.stop()


def test_the_web_process_stops_and_logs_the_bad_setting(processes: Processes) -> None:
    web = processes.start("web", DEFAULT_TIMEZONE="America/New_Yrok")
    wait_until(lambda: web.poll() is not None, 60, "the web process to stop")
    assert web.returncode != 0
    log = processes.log("web")
    assert "DEFAULT_TIMEZONE must be an IANA time zone" in log, log
    assert "Traceback" not in log, log


def test_the_worker_stops_with_one_line_naming_the_bad_setting(processes: Processes) -> None:
    worker = processes.start("worker", DEFAULT_TIMEZONE="America/New_Yrok")
    wait_until(lambda: worker.poll() is not None, 60, "the worker to stop")
    assert worker.returncode == 2
    lines = processes.log("worker").strip().splitlines()
    assert len(lines) == 1, lines
    assert "DEFAULT_TIMEZONE" in lines[0]


def test_web_and_worker_warn_when_business_contact_is_unset(processes: Processes) -> None:
    processes.start("web", BUSINESS_CONTACT="")
    processes.start("worker", BUSINESS_CONTACT="")
    warning = "BUSINESS_CONTACT is unset"
    wait_until(lambda: warning in processes.log("web"), 60, "web")
    wait_until(lambda: warning in processes.log("worker"), 60, "worker")


def test_web_warns_once_however_many_workers_it_runs(processes: Processes) -> None:
    base = f"http://127.0.0.1:{processes.env['PORT']}"
    processes.start("web", BUSINESS_CONTACT="", WEB_CONCURRENCY="3")
    wait_until(lambda: healthy(base), 60, "the web process")
    wait_until(lambda: "BUSINESS_CONTACT is unset" in processes.log("web"), 60, "the warning")
    # Every worker has served /healthz by now: give a late duplicate a moment to show.
    for _ in range(6):
        healthy(base)
    assert processes.log("web").count("BUSINESS_CONTACT is unset") == 1, processes.log("web")


def test_web_does_not_warn_when_business_contact_is_set(
    redis_url: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    with deployment(
        redis_url, emulator, tmp_path, workers=0, BUSINESS_CONTACT="help@example.com"
    ) as (_, processes):
        assert "BUSINESS_CONTACT" not in processes.log("web")
