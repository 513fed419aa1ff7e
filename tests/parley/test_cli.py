"""`python -m bot`: parse, flows check and handback, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


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
    assert [(e["entity"], e["value"]) for e in first["entities"]] == [("language", "en")]
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


def test_flows_check_measures_tracked_links_on_link_base_url(tmp_path: Path) -> None:
    journey = tmp_path / "sale.yaml"
    text = "x" * 120 + " https://a.example/s"  # one segment as written, and with a short base
    journey.write_text(f'id: sale\nkind: transactional\nsteps:\n  - {{id: a, send: "{text}"}}\n')
    short = bot("flows", "check", str(journey), env={"LINK_BASE_URL": "https://go.example"})
    assert short.returncode == 0 and "warning" not in short.stderr, short.stderr
    base = "https://links.a-rather-long-business-name.example.com"
    long = bot("flows", "check", str(journey), env={"LINK_BASE_URL": base})
    assert long.returncode == 0 and "costs 2 SMS segments" in long.stderr, long.stderr


def test_handback_releases_a_handed_off_contact(redis_url: str, tmp_path: Path) -> None:
    from bot.config import Settings
    from bot.conversation.runner import Inbound
    from bot.runtime import Runtime

    runtime = Runtime(Settings(var_dir=tmp_path), redis_url)
    runtime.conversations.update_contact("+14155550123")
    env = {"REDIS_URL": redis_url, "PARLEY_VAR_DIR": str(tmp_path)}
    assert bot("handback", "+14155550123", env=env).returncode == 1
    asked = Inbound(sid="SMhuman", phone="+14155550123", body="can I speak to someone?")
    runtime.conversations.receive(asked)
    contact = runtime.store.load_contact("+14155550123")
    assert contact is not None and contact.handoff is True
    result = bot("handback", "(415) 555-0123", env=env)
    assert result.returncode == 0, result.stderr
    contact = runtime.store.load_contact("+14155550123")
    assert contact is not None and contact.handoff is False


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


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """Assert the command failed with one clear line and no traceback; return that line."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_handback_of_a_bad_phone_says_why_in_one_line(redis_url: str, tmp_path: Path) -> None:
    env = {"REDIS_URL": redis_url, "PARLEY_VAR_DIR": str(tmp_path)}
    assert "not a phone number" in one_line_error(bot("handback", "notaphone", env=env))
    assert "phone is required" in one_line_error(bot("handback", " ", env=env))


def test_handback_without_redis_says_so_in_one_line(tmp_path: Path) -> None:
    env = {"REDIS_URL": "redis://127.0.0.1:1/0", "PARLEY_VAR_DIR": str(tmp_path)}
    assert "Redis" in one_line_error(bot("handback", "+14155550123", env=env))


def test_chat_with_a_bad_phone_says_why_in_one_line() -> None:
    assert "not a phone number" in one_line_error(bot("chat", "notaphone", stdin=""))


def test_flows_graph_of_an_unknown_journey_lists_the_known_ones(tmp_path: Path) -> None:
    line = one_line_error(bot("flows", "graph", "no_such_journey", "--out", str(tmp_path)))
    assert "no_such_journey" in line
    assert "appointment_confirmation" in line


def test_flows_graph_into_a_folder_it_cannot_make_says_why(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = bot("flows", "graph", "welcome", "--out", str(blocker / "graphs"))
    assert str(blocker) in one_line_error(result)


def test_nlu_evaluate_on_missing_data_says_so_in_one_line(tmp_path: Path) -> None:
    result = bot("nlu", "evaluate", "--data", str(tmp_path / "missing"))
    assert str(tmp_path / "missing") in one_line_error(result)


def test_parse_of_odd_input_prints_a_parse_per_line() -> None:
    odd = b"\x00\n\xff\xfe not UTF-8\n" + b"a" * 100_000 + b"\n\n"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "parse"], cwd=ROOT, input=odd, capture_output=True
    )
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    assert len(result.stdout.splitlines()) == 4


def test_a_bad_port_stops_run_in_one_line_and_leaves_other_commands_be(tmp_path: Path) -> None:
    env = {"PORT": "http", "PARLEY_VAR_DIR": str(tmp_path)}
    assert bot("parse", "hi", env=env).returncode == 0
    result = bot("run", env=env)
    assert result.returncode == 2
    assert "PORT" in one_line_error(result)


@pytest.fixture
def served(app) -> Iterator[str]:
    """Serve the app over HTTP on loopback; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.mark.parametrize("token", ["wrong-token", ""])
def test_chat_refused_by_the_server_says_set_api_token(served: str, token: str) -> None:
    result = bot("chat", "+14155550123", "--url", served, stdin="", env={"API_TOKEN": token})
    line = one_line_error(result)
    assert "401" in line and "API_TOKEN" in line and served in line


def test_chat_with_no_server_says_start_one() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    line = one_line_error(bot("chat", "+14155550123", "--url", url, stdin=""))
    assert f"no Parley server answers at {url}" in line
    assert "make run" in line


def test_chat_without_url_talks_to_the_port_make_run_was_given(served: str) -> None:
    # `PORT=5001 make run` serves on 5001 and sets PUBLIC_URL only for its own children.
    port = served.rsplit(":", 1)[1]
    env = {"PORT": port, "PUBLIC_URL": "", "API_TOKEN": "wrong-token"}
    line = one_line_error(bot("chat", "+14155550123", stdin="", env=env))
    assert "401" in line and served in line  # it reached the server on PORT
