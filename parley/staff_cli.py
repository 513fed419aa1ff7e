"""The `staff` commands: add, list and remove the accounts that sign in to the inbox."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.staff import StaffAccounts


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `staff add|list|remove` under the command line's commands."""
    staff = commands.add_parser("staff", help="the staff inbox's accounts").add_subparsers(
        dest="staff_command", required=True
    )
    add = staff.add_parser("add", help="create an account (the password is asked for)")
    add.add_argument("email")
    add.add_argument("--name", help="what the inbox calls them (default: the email)")
    add.add_argument("--role", choices=["admin", "agent"], default="agent")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of the terminal",
    )
    add.set_defaults(func=_add)
    staff.add_parser("list", help="show every account").set_defaults(func=_list)
    remove = staff.add_parser("remove", help="delete an account; it is signed out at once")
    remove.add_argument("email")
    remove.set_defaults(func=_remove)


def _accounts() -> StaffAccounts:
    """Return the record's staff accounts, its schema brought up to date first."""
    from bot.config import Settings
    from bot.record import database
    from bot.staff import StaffAccounts

    url = Settings.from_env().record_url
    database.upgrade(url)
    return StaffAccounts(database.connect(url))


def _password(from_stdin: bool) -> str | None:
    """Return the new account's password, or None (having said why) when there is none."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        print(
            "parley: no terminal to ask for the password; pipe it in with --password-stdin",
            file=sys.stderr,
        )
        return None
    try:
        password = getpass.getpass("Password: ")
        again = getpass.getpass("Password again: ")
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        print("parley: no password given; no account made", file=sys.stderr)
        return None
    if password != again:
        print("parley: the passwords differ; no account made", file=sys.stderr)
        return None
    return password


def _add(args: argparse.Namespace) -> int:
    from bot.staff import StaffError

    password = _password(args.password_stdin)
    if password is None:
        return 1
    accounts = _accounts()
    try:
        staff = accounts.add(args.email, password, name=args.name, role=args.role)
    except StaffError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 1
    finally:
        accounts.engine.dispose()
    print(f"parley: added {staff.email} ({staff.role}); they sign in at /inbox/")
    return 0


def _list(args: argparse.Namespace) -> int:
    accounts = _accounts()
    try:
        found = accounts.list()
    finally:
        accounts.engine.dispose()
    if not found:
        print("parley: no staff accounts yet (python -m bot staff add EMAIL makes one)")
        return 0
    rows = [("EMAIL", "NAME", "ROLE", "CREATED")] + [
        (s.email, s.name or "", s.role, s.created_at.strftime("%Y-%m-%d %H:%M UTC")) for s in found
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def _remove(args: argparse.Namespace) -> int:
    accounts = _accounts()
    try:
        removed = accounts.remove(args.email)
    finally:
        accounts.engine.dispose()
    if not removed:
        print(f"parley: no staff account for {args.email.strip().lower()}", file=sys.stderr)
        return 1
    print(f"parley: removed {args.email.strip().lower()}; any session of theirs has ended")
    return 0
