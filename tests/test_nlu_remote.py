"""NLU_URL: a Rasa server reads free text; compliance stays local; failures fall back."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from nlu import parse, remote
from nlu.intents import AFFIRM, FALLBACK, HUMAN, OPT_OUT, RESCHEDULE

Answer = Callable[[str], Any]


class RasaStub:
    """A local HTTP server that answers POST /model/parse like Rasa, as a test tells it to."""

    def __init__(self) -> None:
        self.answer: Answer = lambda text: _rasa(text, HUMAN, 0.93)
        self.texts: list[str] = []
        self.delay = 0.0
        self.status = 200
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @Request.application
    def _app(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/model/parse":
            return Response("not found", status=404)
        text = request.get_json()["text"]
        self.texts.append(text)
        time.sleep(self.delay)
        body = self.answer(text)
        raw = body if isinstance(body, str) else json.dumps(body)
        return Response(raw, status=self.status, mimetype="application/json")

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join()


def _rasa(text: str, intent: str, confidence: float, entities: list | None = None) -> dict:
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        "intent_ranking": [
            {"name": intent, "confidence": confidence},
            {"name": "nlu_fallback", "confidence": 1 - confidence},
        ],
    }


@pytest.fixture
def rasa(monkeypatch: pytest.MonkeyPatch) -> Iterator[RasaStub]:
    stub = RasaStub()
    monkeypatch.setenv("NLU_URL", stub.url)
    monkeypatch.setattr(remote, "_resting_until", {})
    yield stub
    stub.close()


FREE_TEXT = "the wifi password is not working for me"


def test_free_text_is_read_by_the_rasa_server(rasa: RasaStub) -> None:
    result = parse(FREE_TEXT)
    assert rasa.texts == [FREE_TEXT]
    assert result.intent == HUMAN
    assert result.confidence == 0.8  # never as sure as a rule


@pytest.mark.parametrize("suffix", ["", "/", "/model/parse"])
def test_nlu_url_may_name_the_server_or_its_parse_endpoint(
    rasa: RasaStub, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    monkeypatch.setenv("NLU_URL", rasa.url + suffix)
    assert parse(FREE_TEXT).intent == HUMAN


@pytest.mark.parametrize("text", ["STOP", "please stop texting me", "START", "HELP", "yes", "4/5"])
def test_compliance_and_clear_replies_never_leave_the_process(rasa: RasaStub, text: str) -> None:
    rasa.answer = lambda t: _rasa(t, AFFIRM, 0.99)
    assert parse(text).intent == parse(text, expecting=None).intent
    assert rasa.texts == []


def test_the_server_cannot_unsubscribe_anyone_on_its_own(rasa: RasaStub) -> None:
    rasa.answer = lambda t: _rasa(t, OPT_OUT, 0.99)
    assert parse(FREE_TEXT).intent == FALLBACK
    assert parse("cut it out with the texts").intent == OPT_OUT


def test_intents_outside_the_contract_are_nlu_fallback(rasa: RasaStub) -> None:
    rasa.answer = lambda t: _rasa(t, "ask_wifi", 0.97)
    assert parse(FREE_TEXT).intent == FALLBACK


def test_the_servers_entities_come_through(rasa: RasaStub) -> None:
    text = "could we shift things to the 3rd of May"
    start = text.index("3rd")
    day = {"entity": "time", "value": "2025-05-03", "start": start, "end": len(text)}
    day["extractor"] = "Duck"
    rasa.answer = lambda t: _rasa(t, RESCHEDULE, 0.9, [day])
    result = parse(text)
    assert result.intent == RESCHEDULE
    assert result.entity("time") == "2025-05-03"
    assert result.as_dict()["entities"][0]["extractor"] == "Duck"
    assert result.entities[0].start == start


@pytest.mark.parametrize(
    "breakage",
    [
        {"status": 500},
        {"delay": 0.5},
        {"answer": lambda t: "this is not json"},
        {"answer": lambda t: {"intent": None}},
        {"answer": lambda t: ["a", "list"]},
        {"answer": lambda t: {**_rasa(t, HUMAN, 0.9), "entities": ["not a mapping"]}},
    ],
)
def test_any_failure_falls_back_to_the_local_classifier(
    rasa: RasaStub, monkeypatch: pytest.MonkeyPatch, breakage: dict[str, Any]
) -> None:
    monkeypatch.setattr(remote, "TIMEOUT", 0.2)
    for name, value in breakage.items():
        setattr(rasa, name, value)
    local = "ya I can make that work"
    assert parse(local).intent == AFFIRM


def test_an_unreachable_server_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    stub = RasaStub()
    stub.close()  # nothing listens on its port any more
    monkeypatch.setenv("NLU_URL", stub.url)
    monkeypatch.setattr(remote, "_resting_until", {})
    assert parse("ya I can make that work").intent == AFFIRM


def test_a_failed_server_is_left_alone_for_a_while(
    rasa: RasaStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    rasa.status = 503
    parse(FREE_TEXT)
    parse(FREE_TEXT)
    assert len(rasa.texts) == 1
    monkeypatch.setattr(remote, "_resting_until", {})
    rasa.status = 200
    assert parse(FREE_TEXT).intent == HUMAN


def test_without_nlu_url_nothing_is_called(rasa: RasaStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NLU_URL")
    assert remote.endpoint() is None
    parse(FREE_TEXT)
    assert rasa.texts == []
