"""Staff accounts in the record: adding, listing, removing, and checking passwords."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.record.schema import staff
from bot.record.times import utc

ROLES = ("admin", "agent")
SHORTEST_PASSWORD = 10
# Enough to tell a typo from an address; whether mail arrives there is not ours to check.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_LONGEST_EMAIL = 254  # RFC 5321's limit on a path, and the column's width


class StaffError(ValueError):
    """An account that cannot be made as asked; the message says why, in one line."""


@dataclass(frozen=True)
class Staff:
    """One staff member, as the inbox and the command line show them."""

    email: str
    name: str | None
    role: str
    created_at: datetime
    # Not part of who they are: signing in again leaves the same person.
    signed_in_at: datetime | None = field(default=None, compare=False)

    @property
    def shown(self) -> str:
        """Return what pages call this person: the name, else the email."""
        return self.name or self.email


def normalize_email(email: str) -> str:
    """Return the email as accounts are keyed: trimmed and lower-cased."""
    return email.strip().lower()


def _now() -> datetime:
    return datetime.now(UTC)


class StaffAccounts:
    """The staff table: accounts with argon2 password hashes."""

    def __init__(
        self,
        engine: Engine,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.engine = engine
        self.hasher = hasher or PasswordHasher()
        self.clock = clock
        self._dummy_hash: str | None = None

    def add(self, email: str, password: str, name: str | None = None, role: str = "agent") -> Staff:
        """Create an account; raise StaffError for a bad email, role, password or a taken email."""
        email = normalize_email(email)
        if len(email) > _LONGEST_EMAIL or not _EMAIL.fullmatch(email):
            raise StaffError(f"{email!r} is not an email address")
        if role not in ROLES:
            raise StaffError(f"role must be {' or '.join(ROLES)}, not {role!r}")
        if len(password) < SHORTEST_PASSWORD:
            raise StaffError(f"the password must be at least {SHORTEST_PASSWORD} characters")
        name = (name or "").strip() or None
        if name is not None and len(name) > 200:
            raise StaffError("the name must be at most 200 characters")
        created = self.clock()
        row = {
            "email": email,
            "name": name,
            "role": role,
            "password_hash": self.hasher.hash(password),
            "created_at": created,
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(staff).values(**row))
        except IntegrityError:
            raise StaffError(f"{email} already has an account") from None
        return Staff(email, name, role, utc(created))

    def list(self) -> list[Staff]:
        """Return every account, by email."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(staff).order_by(staff.c.email)).mappings().all()
        return [_staff(row) for row in rows]

    def get(self, email: str) -> Staff | None:
        """Return the account with this email, or None."""
        row = self._row(normalize_email(email))
        return None if row is None else _staff(row)

    def remove(self, email: str) -> bool:
        """Delete the account with this email; say whether there was one."""
        with self.engine.begin() as connection:
            result = connection.execute(
                delete(staff).where(staff.c.email == normalize_email(email))
            )
        return result.rowcount > 0

    def authenticate(self, email: str, password: str) -> Staff | None:
        """Return the account if the password is its own, else None; note the sign-in."""
        row = self._row(normalize_email(email))
        if row is None:
            # Take as long as a real check, so the answer's timing does not tell
            # whether the email has an account.
            self._verify(self._dummy(), password)
            return None
        if not self._verify(row["password_hash"], password):
            return None
        changes: dict[str, Any] = {"signed_in_at": self.clock()}
        if self.hasher.check_needs_rehash(row["password_hash"]):
            # The hasher's parameters were raised since this hash was made: upgrade it
            # now, the one moment the password is at hand.
            changes["password_hash"] = self.hasher.hash(password)
        with self.engine.begin() as connection:
            connection.execute(update(staff).where(staff.c.email == row["email"]).values(**changes))
        return _staff(row)

    def _row(self, email: str) -> Any:
        with self.engine.connect() as connection:
            return (
                connection.execute(select(staff).where(staff.c.email == email)).mappings().first()
            )

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self.hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash


def _staff(row: Any) -> Staff:
    signed_in = row["signed_in_at"]
    return Staff(
        row["email"],
        row["name"],
        row["role"],
        utc(row["created_at"]),
        None if signed_in is None else utc(signed_in),
    )
