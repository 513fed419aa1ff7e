"""`python -m bot`: parse, flows check and handback, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bot(*args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_parse_prints_rasa_parse_format_for_arguments() -> None:
    result = bot("parse", "STOP", "I'd give it a 4")
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["text"] == "STOP"
    assert first["intent"] == {"name": "opt_out", "confidence": 1.0}
    assert first["entities"] == []
    assert second["intent"]["name"] == "rating"
    assert [(e["entity"], e["value"]) for e in second["entities"]] == [("rating", 4)]


def test_parse_reads_one_text_per_line_from_stdin() -> None:
    result = bot("parse", stdin="yes\ncan we do Friday?\n")
    assert result.returncode == 0, result.stderr
    names = [json.loads(line)["intent"]["name"] for line in result.stdout.splitlines()]
    assert names == ["affirm", "reschedule"]


def test_flows_check_passes_on_the_built_in_journeys() -> None:
    result = bot("flows", "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_flows_check_names_file_and_line_of_each_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "id: broken\n"
        "kind: transactional\n"
        "steps:\n"
        "  - id: ask\n"
        "    send: Reply CANCEL to cancel your booking.\n"
        "    wait:\n"
        "      timeout: 1h\n"
        "      on: {affirm: nowhere}\n"
    )
    result = bot("flows", "check", str(broken))
    assert result.returncode == 1
    assert f"{broken}:5:" in result.stderr
    assert f"{broken}:8:" in result.stderr
    assert "nowhere" in result.stderr


def test_flows_check_warns_about_long_messages_without_failing(tmp_path: Path) -> None:
    long = tmp_path / "long.yaml"
    long.write_text(
        "id: long\n"
        "kind: transactional\n"
        "trigger: {event: long}\n"
        "steps:\n"
        "  - id: only\n"
        f"    send: {'A very long message. ' * 12}\n"
    )
    result = bot("flows", "check", str(long))
    assert result.returncode == 0, result.stderr
    assert f"{long}:6: warning:" in result.stderr
    assert "segments" in result.stderr
    assert "1 warning(s)" in result.stdout


def test_handback_releases_a_handed_off_contact(redis_url: str, tmp_path: Path) -> None:
    from bot.config import Settings
    from bot.conversation import Inbound
    from bot.runtime import Runtime

    runtime = Runtime(Settings(var_dir=tmp_path), redis_url)
    runtime.conversations.update_contact("+14155550123")
    env = {"REDIS_URL": redis_url, "PARLEY_VAR_DIR": str(tmp_path)}
    assert bot("handback", "+14155550123", env=env).returncode == 1
    asked = Inbound(sid="SMhuman", phone="+14155550123", body="can I speak to someone?")
    runtime.conversations.receive(asked)
    assert runtime.store.load_contact("+14155550123").handoff is True
    result = bot("handback", "(415) 555-0123", env=env)
    assert result.returncode == 0, result.stderr
    assert runtime.store.load_contact("+14155550123").handoff is False


def test_commands_do_not_log_action_registrations(redis_url: str, tmp_path: Path) -> None:
    env = {"REDIS_URL": redis_url, "PARLEY_VAR_DIR": str(tmp_path)}
    result = bot("handback", "+14155550123", env=env)
    assert result.stderr.strip() == "+14155550123: was not handed off"


def test_a_bad_setting_is_one_line_naming_the_variable(redis_url: str, tmp_path: Path) -> None:
    env = {"REDIS_URL": redis_url, "PARLEY_VAR_DIR": str(tmp_path), "TRUSTED_PROXIES": "two"}
    result = bot("handback", "+14155550123", env=env)
    assert result.returncode == 2
    assert "TRUSTED_PROXIES" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
