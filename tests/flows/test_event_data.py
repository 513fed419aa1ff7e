"""Event data a journey declares (`event_data:`): checked at load and at POST /api/events."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path
from typing import Any

import pytest

from bot.runtime import Runtime, install
from flows.definition import BUILTIN_DIR, check, load_journeys
from flows.event_data import DataType
from parley.app import create_app

AUTH = {"Authorization": "Bearer test-token"}
PHONE = "+14155550123"
JOURNEYS = load_journeys()


def _write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _errors(tmp_path: Path, text: str) -> list[str]:
    return [str(error) for error in check(_write(tmp_path, text))]


VISIT = """\
id: visit
kind: transactional
trigger: {event: visit_booked}
key: event.visit_id
event_data:
  visit_at: future time
  visit_id: text
  deposit: optional money
  currency: optional currency
  map_url: optional url
  room: optional number
  day: optional date
steps:
  - id: tell
    send: >-
      Visit {{ event.visit_id }} on {{ event.visit_at | local_time }} in room
      {{ event.room }}{% if event.deposit %}, deposit {{ event.deposit | money(event.currency) }}
      {%- endif %}{% if event.map_url %}: {{ event.map_url }}{% endif %}.
"""


# -- the declaration, at load ---------------------------------------------------------------


def test_a_declaration_names_each_field_its_type_and_whether_it_is_needed(tmp_path) -> None:
    assert check(_write(tmp_path, VISIT)) == []
    journey = load_journeys(tmp_path)["visit"]
    fields = journey.event_data
    assert fields is not None
    assert {name: f.type for name, f in fields.items()} == {
        "visit_at": DataType.TIME,
        "visit_id": DataType.TEXT,
        "deposit": DataType.MONEY,
        "currency": DataType.CURRENCY,
        "map_url": DataType.URL,
        "room": DataType.NUMBER,
        "day": DataType.DATE,
    }
    assert [name for name, f in fields.items() if f.required] == ["visit_at", "visit_id"]
    assert [name for name, f in fields.items() if f.future] == ["visit_at"]
    assert journey.key == ("visit_id",)


@pytest.mark.parametrize(
    ("declaration", "line", "says"),
    [
        ("{at: datetime}", 5, "'at' in `event_data`: unknown type 'datetime'; did you mean"),
        ("{at: future text}", 5, "'at' in `event_data`: only a time or a date can be `future`"),
        ("{at: soon time}", 5, "'at' in `event_data`: unknown word 'soon'"),
        ("{at: optional}", 5, "'at' in `event_data` needs a type"),
        ("{at: time time}", 5, "'at' in `event_data`: say the type once"),
        ("[at]", 5, "`event_data` must be a mapping of field names to types"),
        ("{the at: time}", 5, "'the at' in `event_data` must be a field name"),
        ("{at: time, where: {type: text}}", 5, "'where' in `event_data` must be a type"),
    ],
)
def test_a_bad_declaration_is_a_load_error_with_file_and_line(
    tmp_path, declaration: str, line: int, says: str
) -> None:
    text = f"""\
    id: x
    kind: transactional
    trigger: {{event: e}}
    fields: [contact.first_name]
    event_data: {declaration}
    steps:
      - {{id: a, send: "Hi {{{{ contact.first_name }}}}"}}
    """
    errors = _errors(tmp_path, text)
    assert errors, "expected an error"
    assert any(f"x.yaml:{line}: {says}" in error for error in errors), errors


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        (
            'event_data: {at: time}\nsteps:\n  - {id: a, send: "{{ event.when }}"}\n',
            "`send` uses event.when, which `event_data` does not declare",
        ),
        (
            "trigger: {date: {field: at, event: e}}\nevent_data: {at: text}\n"
            'steps:\n  - {id: a, send: "{{ event.at }}"}\n',
            "the `date` trigger reads event.at, which `event_data` declares as text",
        ),
        (
            "event_data: {at: text}\nsteps:\n  - {id: a, delay: {before: event.at}, next: b}\n"
            '  - {id: b, send: "hi"}\n',
            "`before` reads event.at, which `event_data` declares as text",
        ),
        (
            'key: event.ref\nevent_data: {at: time}\nsteps:\n  - {id: a, send: "hi"}\n',
            "`key` names event.ref, which `event_data` does not declare",
        ),
        (
            'key: contact.ref\nsteps:\n  - {id: a, send: "hi"}\n',
            "`key` must name event data, like event.booking_id",
        ),
        (
            'key: event.at\nevent_data: {at: time}\nsteps:\n  - {id: a, send: "hi"}\n',
            "`key` names event.at, a time: a key is text or a number",
        ),
    ],
)
def test_what_a_journey_reads_must_fit_its_declaration(tmp_path, lines: str, says: str) -> None:
    text = "id: x\nkind: transactional\ntrigger: {event: e}\n" + lines
    if lines.startswith("trigger:"):
        text = "id: x\nkind: transactional\n" + lines
    errors = _errors(tmp_path, text)
    assert any(says in error for error in errors), errors
    assert all(error.startswith(str(tmp_path / "x.yaml") + ":") for error in errors)


def test_every_builtin_journey_that_takes_events_declares_their_data() -> None:
    for journey in JOURNEYS.values():
        takes = journey.trigger_events or [
            t for t in journey.triggers_of("date") if t.params.get("event")
        ]
        if takes:
            assert journey.event_data is not None, journey.id
    for journey_id in ("appointment_confirmation", "appointment_reminders"):
        declared = JOURNEYS[journey_id].event_data
        assert declared is not None, journey_id
        at = declared["appointment_at"]
        assert (at.type, at.future) == (DataType.TIME, True)
    assert check(BUILTIN_DIR) == []


# -- the payload, at POST /api/events ----------------------------------------------------------


def _book(client, data: dict[str, Any], event: str = "appointment_booked") -> Any:
    body = {"phone": PHONE, "event": event, "data": data}
    return client.post("/api/events", json=body, headers=AUTH)


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        (
            {"appointment_at": "next tuesday", "provider": "Dr. Lee"},
            "data.appointment_at",
            "must be an ISO-8601 time such as 2026-12-01T17:30:00Z, not 'next tuesday'",
        ),
        (
            {"appointment_at": "2026-12-01", "provider": "Dr. Lee"},
            "data.appointment_at",
            "must be an ISO-8601 time such as 2026-12-01T17:30:00Z, not '2026-12-01'",
        ),
        (
            {"appointment_at": 1796146200},
            "data.appointment_at",
            "must be an ISO-8601 time such as 2026-12-01T17:30:00Z, not a number",
        ),
        (
            {"appointment_at": "2026-11-30T16:59:00Z"},
            "data.appointment_at",
            "is in the past (2026-11-30T16:59:00Z): it must be a time in the future",
        ),
        (
            {"appointment_at": "2026-12-01T17:30:00Z", "provider": {"name": "Dr. Lee"}},
            "data.provider",
            "must be text, not an object",
        ),
        (
            {"appointment_at": "2026-12-01T17:30:00Z", "booking_id": ["a"]},
            "data.booking_id",
            "must be text, not a list",
        ),
    ],
)
def test_data_that_does_not_fit_is_a_400_and_starts_nothing(
    client, data: dict[str, Any], field: str, says: str
) -> None:
    response = _book(client, data)
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["error"] == f"'{field}' {says}"
    assert body["problems"] == [{"field": field, "problem": says}]
    assert client.get(f"/api/contacts/{PHONE}", headers=AUTH).status_code == 404


def test_a_cancellation_with_a_key_that_is_not_text_is_a_400(client) -> None:
    response = _book(client, {"booking_id": {"id": 1}}, "appointment_cancelled")
    assert response.status_code == 400
    assert response.get_json()["problems"] == [
        {"field": "data.booking_id", "problem": "must be text, not an object"}
    ]


def test_data_that_fits_starts_the_journey(client) -> None:
    data = {"appointment_at": "2026-12-01T17:30:00Z", "provider": "Dr. Lee", "extra": [1]}
    response = _book(client, data)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["started"] == ["appointment_confirmation"]


@pytest.fixture
def visit_client(settings, redis_url, clock, tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    _write(flows, VISIT)
    runtime = Runtime(dataclasses.replace(settings, flows_dir=str(flows)), redis_url, clock=clock)
    install(runtime)
    yield create_app(runtime).test_client()
    install(None)


def test_every_problem_is_named_at_once(visit_client) -> None:
    data = {
        "visit_at": "2026-11-29T09:00:00Z",
        "deposit": "lots",
        "currency": "dollars",
        "map_url": "maps/clinic",
        "room": "four",
        "day": "tomorrow",
    }
    response = _book(visit_client, data, "visit_booked")
    assert response.status_code == 400
    problems = {p["field"]: p["problem"] for p in response.get_json()["problems"]}
    assert problems == {
        "data.visit_at": "is in the past (2026-11-29T09:00:00Z): it must be a time in the future",
        "data.visit_id": "is missing: journey visit needs it (text)",
        "data.deposit": "must be an amount of money such as 42.50, not 'lots'",
        "data.currency": "must be a three-letter currency code such as USD, not 'dollars'",
        "data.map_url": "must be a web address starting http:// or https://, not 'maps/clinic'",
        "data.room": "must be a number, not 'four'",
        "data.day": "must be an ISO-8601 date such as 2026-12-01, not 'tomorrow'",
    }
    assert response.get_json()["error"].startswith("'data.visit_at' is in the past")


@pytest.mark.parametrize("visit_id", [None, "", "  "])
def test_a_needed_field_that_is_null_or_blank_is_missing(visit_client, visit_id) -> None:
    response = _book(
        visit_client, {"visit_at": "2026-12-01T09:00:00Z", "visit_id": visit_id}, "visit_booked"
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == (
        "'data.visit_id' is missing: journey visit needs it (text)"
    )


def test_data_of_every_type_that_fits_is_accepted(visit_client) -> None:
    data = {
        "visit_at": "2026-12-01T09:00:00+01:00",
        "visit_id": 1234,
        "deposit": "1,250.50",
        "currency": "eur",
        "map_url": "https://maps.example.com/clinic?q=1",
        "room": 4,
        "day": "2026-12-01",
    }
    response = _book(visit_client, data, "visit_booked")
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["started"] == ["visit"]
