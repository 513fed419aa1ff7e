"""`python -m bot staff add|list|remove` as a person runs them: real processes, a real record."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.record import database
from bot.staff import StaffAccounts
from tests.parley.test_cli import ROOT, bot, one_line_error

PASSWORD = "correct horse battery"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment whose record is a SQLite file of this test's own (not made yet)."""
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'record.sqlite3'}",
        "PARLEY_VAR_DIR": str(tmp_path),
    }


def test_an_account_is_added_listed_and_removed(env) -> None:
    added = bot(
        "staff", "add", "Ana@Example.com", "--name", "Ana Lima", "--role", "admin",
        "--password-stdin", stdin=PASSWORD + "\n", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added ana@example.com (admin)" in added.stdout
    bot("staff", "add", "bo@example.com", "--password-stdin", stdin=PASSWORD, env=env)

    listed = bot("staff", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    header, ana, bo = listed.stdout.splitlines()
    assert header.split() == ["EMAIL", "NAME", "ROLE", "CREATED"]
    assert ana.split()[:4] == ["ana@example.com", "Ana", "Lima", "admin"]
    assert bo.split()[:2] == ["bo@example.com", "agent"]

    removed = bot("staff", "remove", "BO@example.com", env=env)
    assert removed.returncode == 0, removed.stderr
    assert "removed bo@example.com" in removed.stdout
    again = bot("staff", "remove", "bo@example.com", env=env)
    assert one_line_error(again) == "parley: no staff account for bo@example.com"
    assert again.returncode == 1
    assert "bo@example.com" not in bot("staff", "list", env=env).stdout


def test_an_added_account_signs_in_with_its_password(env) -> None:
    bot("staff", "add", "ana@example.com", "--password-stdin", stdin=PASSWORD + "\n", env=env)
    engine = database.connect(env["DATABASE_URL"])
    try:
        accounts = StaffAccounts(engine)
        assert accounts.authenticate("ana@example.com", PASSWORD) is not None
        assert accounts.authenticate("ana@example.com", PASSWORD + "\n") is None
    finally:
        engine.dispose()


def test_an_empty_record_lists_no_accounts(env) -> None:
    listed = bot("staff", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "no staff accounts yet" in listed.stdout


@pytest.mark.parametrize(
    ("email", "password", "says"),
    [
        ("ana", PASSWORD, "parley: 'ana' is not an email address"),
        ("ana@example.com", "short", "parley: the password must be at least 10 characters"),
        ("ana@example.com", "", "parley: the password must be at least 10 characters"),
    ],
)
def test_a_bad_account_is_one_line_and_exit_1(env, email, password, says) -> None:
    result = bot("staff", "add", email, "--password-stdin", stdin=password + "\n", env=env)
    assert one_line_error(result) == says
    assert result.returncode == 1


def test_a_taken_email_is_one_line_and_exit_1(env) -> None:
    bot("staff", "add", "ana@example.com", "--password-stdin", stdin=PASSWORD, env=env)
    result = bot("staff", "add", "ANA@example.com", "--password-stdin", stdin=PASSWORD, env=env)
    assert one_line_error(result) == "parley: ana@example.com already has an account"


def test_without_a_terminal_the_password_must_come_from_stdin(env) -> None:
    result = bot("staff", "add", "ana@example.com", stdin="", env=env)
    assert "--password-stdin" in one_line_error(result)


def type_passwords(env: dict[str, str], *typed: str) -> tuple[int, str, str]:
    """Run `staff add` on a terminal, typing each password at its prompt."""
    terminal, stdin = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "staff", "add", "ana@example.com"],
        cwd=ROOT,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
        start_new_session=True,  # no controlling terminal: getpass reads the pty on stdin
    )
    os.close(stdin)
    assert process.stderr is not None
    prompts = b""
    try:
        for asked, text in enumerate(typed):
            deadline = time.monotonic() + 60
            # Type only once prompted: getpass discards what was typed before its prompt.
            while prompts.count(b"Password") <= asked and time.monotonic() < deadline:
                prompts += os.read(process.stderr.fileno(), 1024)
            os.write(terminal, text.encode() + b"\n")
        out, err = process.communicate(timeout=60)
    finally:
        os.close(terminal)
    return process.returncode, out.decode(), (prompts + err).decode()


def test_the_password_is_asked_twice_on_the_terminal(env) -> None:
    code, out, err = type_passwords(env, PASSWORD, PASSWORD)
    assert code == 0, err
    assert "Password: " in err and "Password again: " in err
    assert PASSWORD not in out + err  # not echoed
    assert "added ana@example.com (agent)" in out


def test_passwords_that_differ_make_no_account(env) -> None:
    code, _, err = type_passwords(env, PASSWORD, PASSWORD + "x")
    assert code == 1
    assert err.strip().splitlines()[-1] == "parley: the passwords differ; no account made"
    assert "no staff accounts yet" in bot("staff", "list", env=env).stdout
