"""Parley's Redis scripts: one file each, each naming what it takes, each valid Lua.

Every key a script touches comes in KEYS and is named in its header, and no script builds
a key name; a contact's JSON is read only for the fields SCRIPT_FIELDS lists.
"""

from __future__ import annotations

import re

import pytest
import redis

from bot.domain.contacts import Purpose
from bot.storage import jsonio, lua
from bot.storage.store import SCRIPT_FIELDS

SCRIPTS = lua.names()
# A header line naming one key or argument, or (with "..") every one from there on.
_ENTRY = re.compile(r"--\s+(KEYS|ARGV)\[(\d+)(\.\.)?\]\s+\S")
_USE = re.compile(r"\b(KEYS|ARGV)\[([^\]]*)\]")
_CALL = re.compile(r"redis\.call\(\s*'(\w+)'\s*(?:,\s*([^,)]+))?")
_KEYLESS = {"TIME"}


def header(name: str) -> list[str]:
    """Return the comment lines a script starts with."""
    lines = lua.source(name).splitlines()
    end = next(number for number, line in enumerate(lines) if not line.startswith("--"))
    return lines[:end]


def code(name: str) -> str:
    """Return a script's code without its comments and with its string literals emptied."""
    text = re.sub(r"'(?:[^'\\\n]|\\.)*'", "''", lua.source(name))
    text = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', text)
    return re.sub(r"--[^\n]*", "", text)


def declared(name: str, kind: str) -> tuple[set[int], int | None]:
    """Return the positions a header names one by one, and where its open tail starts."""
    single, tail = set(), None
    for line in header(name):
        match = _ENTRY.match(line)
        if match and match.group(1) == kind:
            if match.group(3):
                tail = int(match.group(2))
            else:
                single.add(int(match.group(2)))
    return single, tail


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_names_its_keys_and_arguments(name: str) -> None:
    for kind in ("KEYS", "ARGV"):
        single, tail = declared(name, kind)
        assert single or tail, f"{name}.lua names no {kind}"
        # Named in order, from 1, with no gaps.
        assert single == set(range(1, len(single) + 1)), f"{name}.lua: {kind} {sorted(single)}"
        assert tail is None or tail == len(single) + 1


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_key_and_argument_a_script_uses_is_named_in_its_header(name: str) -> None:
    used: dict[str, set[str]] = {"KEYS": set(), "ARGV": set()}
    for kind, index in _USE.findall(code(name)):
        used[kind].add(index.strip())
    for kind, indexes in used.items():
        single, tail = declared(name, kind)
        for index in indexes:
            if index.isdigit():
                number = int(index)
                assert number in single or (tail is not None and number >= tail), (
                    f"{name}.lua uses {kind}[{index}] but its header does not name it"
                )
            else:  # a computed position: only into the open tail the header describes
                assert tail is not None, f"{name}.lua uses {kind}[{index}] with no tail named"
        # ... and the header names nothing the script no longer uses.
        for number in single:
            assert str(number) in indexes, f"{name}.lua names {kind}[{number}] but never uses it"


@pytest.mark.parametrize("name", SCRIPTS)
def test_no_script_builds_a_key_name(name: str) -> None:
    text = code(name)
    assert ".." not in text.replace("...", ""), f"{name}.lua concatenates strings"
    for command, first in _CALL.findall(text):
        if command.upper() in _KEYLESS:
            continue
        assert first.strip().startswith("KEYS["), (
            f"{name}.lua calls {command} on {first.strip()!r}, not on a key from KEYS"
        )


def contact_reads(name: str) -> set[str]:
    """Return the paths a script reads from a decoded contact document ("a.b.c")."""
    text = code(name)
    for argument in re.findall(r"cjson\.decode\(([^)]*)\)", text):
        if not argument.strip().startswith("ARGV["):
            # Stored JSON is decoded into `contact`, so that its reads can be found below.
            assert re.search(rf"local contact = cjson\.decode\({re.escape(argument)}\)", text)
    assert "contact[" not in text, f"{name}.lua reads a contact field by a computed name"
    assert not re.search(r"(?<![=~<>])=\s*contact\b", text), f"{name}.lua aliases the contact"
    paths = {match.lstrip(".") for match in re.findall(r"\bcontact((?:\.\w+)+)", text)}
    # Only the deepest paths: `contact.consent` is read on the way to `.marketing.granted`.
    return {p for p in paths if not any(other.startswith(p + ".") for other in paths)}


def test_the_contact_fields_scripts_read_are_those_script_fields_lists() -> None:
    read = set().union(*(contact_reads(name) for name in SCRIPTS))
    assert read == set(SCRIPT_FIELDS)


def test_script_fields_are_where_python_writes_them(runtime) -> None:
    contact = runtime.conversations.new_contact("+14155550123")
    contact.grant(Purpose.MARKETING, True, "test", runtime.clock())
    contact.grant(Purpose.TRANSACTIONAL, True, "test", runtime.clock())
    contact.undeliverable = 30003
    stored = jsonio.loads(jsonio.dumps(contact.to_dict()))
    for path in SCRIPT_FIELDS:
        value = stored
        for part in path.split("."):
            assert isinstance(value, dict) and part in value, f"{path} is not in a contact"
            value = value[part]


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_compiles_in_redis(name: str, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    sha = client.script_load(lua.source(name))
    assert client.script_exists(sha) == [True]
    assert sha == lua.script(name).sha
