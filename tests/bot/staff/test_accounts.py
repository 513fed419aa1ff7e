"""Staff accounts in the record: adding, listing, removing, signing in, rehashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select

from bot.record.schema import staff
from bot.staff import Staff, StaffAccounts, StaffError

# Cheap parameters: the tests check behaviour, not the cost of guessing.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"


@pytest.fixture
def accounts(engine: Engine) -> StaffAccounts:
    return StaffAccounts(engine, hasher=FAST)


def stored_hash(engine: Engine, email: str) -> str:
    with engine.connect() as connection:
        return connection.execute(
            select(staff.c.password_hash).where(staff.c.email == email)
        ).one()[0]


def test_an_added_account_is_listed_found_and_signs_in(accounts: StaffAccounts) -> None:
    added = accounts.add(" Ana@Example.COM ", PASSWORD, name="Ana Lima", role="admin")
    assert added.email == "ana@example.com"
    assert (added.name, added.role) == ("Ana Lima", "admin")
    accounts.add("bo@example.com", PASSWORD)
    listed = accounts.list()
    assert [s.email for s in listed] == ["ana@example.com", "bo@example.com"]
    assert listed[1].role == "agent" and listed[1].name is None
    assert listed[0] == added
    assert accounts.get("ANA@example.com") == added
    assert accounts.authenticate("ana@EXAMPLE.com", PASSWORD) == added


def test_the_password_is_stored_only_as_an_argon2_hash(accounts, engine) -> None:
    accounts.add("ana@example.com", PASSWORD)
    hashed = stored_hash(engine, "ana@example.com")
    assert hashed.startswith("$argon2id$")
    assert PASSWORD not in hashed


def test_a_wrong_password_or_unknown_email_does_not_sign_in(accounts) -> None:
    accounts.add("ana@example.com", PASSWORD)
    assert accounts.authenticate("ana@example.com", PASSWORD + "!") is None
    assert accounts.authenticate("nobody@example.com", PASSWORD) is None
    assert accounts.authenticate("not an email", PASSWORD) is None
    assert accounts.authenticate("ana@example.com", "") is None


def test_signing_in_notes_when(accounts, engine) -> None:
    accounts.add("ana@example.com", PASSWORD)
    accounts.authenticate("ana@example.com", PASSWORD)
    with engine.connect() as connection:
        signed_in = connection.execute(select(staff.c.signed_in_at)).scalar_one()
    assert signed_in is not None


def test_a_second_account_for_an_email_is_refused(accounts) -> None:
    accounts.add("ana@example.com", PASSWORD)
    with pytest.raises(StaffError, match=r"ana@example\.com already has an account"):
        accounts.add("ANA@example.com", "another password")


@pytest.mark.parametrize(
    ("email", "password", "role", "says"),
    [
        ("ana", PASSWORD, "agent", "'ana' is not an email address"),
        ("ana@localhost", PASSWORD, "agent", "not an email address"),
        ("ana @example.com", PASSWORD, "agent", "not an email address"),
        ("a" * 250 + "@example.com", PASSWORD, "agent", "not an email address"),
        ("ana@example.com", PASSWORD, "owner", "role must be admin or agent, not 'owner'"),
        ("ana@example.com", "short", "agent", "at least 10 characters"),
    ],
)
def test_bad_accounts_are_refused_with_a_reason(accounts, email, password, role, says) -> None:
    with pytest.raises(StaffError, match=says):
        accounts.add(email, password, role=role)
    assert accounts.list() == []


def test_a_removed_account_is_gone(accounts) -> None:
    accounts.add("ana@example.com", PASSWORD)
    assert accounts.remove("Ana@Example.com") is True
    assert accounts.remove("ana@example.com") is False
    assert accounts.get("ana@example.com") is None
    assert accounts.authenticate("ana@example.com", PASSWORD) is None


def test_a_hash_made_with_older_parameters_is_upgraded_at_sign_in(engine) -> None:
    StaffAccounts(engine, hasher=FAST).add("ana@example.com", PASSWORD)
    old = stored_hash(engine, "ana@example.com")
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    accounts = StaffAccounts(engine, hasher=stronger)
    assert accounts.authenticate("ana@example.com", "wrong password") is None
    assert stored_hash(engine, "ana@example.com") == old  # only a right password rehashes
    signed_in = accounts.authenticate("ana@example.com", PASSWORD)
    assert isinstance(signed_in, Staff)
    new = stored_hash(engine, "ana@example.com")
    assert new != old
    assert not stronger.check_needs_rehash(new)
    assert accounts.authenticate("ana@example.com", PASSWORD) == signed_in
