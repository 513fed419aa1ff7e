"""NLU_URL: a Rasa server reads free text; compliance stays local; failures fall back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from bot.config import Settings
from bot.conversation.rasa_server import RasaServer, remote_parser
from bot.conversation.runner import Inbound
from bot.runtime import Runtime
from nlu import parse
from nlu.intents import AFFIRM, FALLBACK, HUMAN, OPT_OUT, RESCHEDULE

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

Answer = Callable[[str], Any]
ROOT = Path(__file__).resolve().parents[3]


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

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self._respond(Request(environ))(environ, start_response)

    def _respond(self, request: Request) -> Response:
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
def rasa() -> Iterator[RasaStub]:
    stub = RasaStub()
    yield stub
    stub.close()


@pytest.fixture
def server(rasa: RasaStub) -> RasaServer:
    return RasaServer(rasa.url)


FREE_TEXT = "the wifi password is not working for me"


def test_free_text_is_read_by_the_rasa_server(rasa: RasaStub, server: RasaServer) -> None:
    result = parse(FREE_TEXT, remote=server)
    assert rasa.texts == [FREE_TEXT]
    assert result.intent == HUMAN
    assert result.confidence == 0.8  # never as sure as a rule


@pytest.mark.parametrize("suffix", ["", "/", "/model/parse", "/model/parse/"])
def test_nlu_url_may_name_the_server_or_its_parse_endpoint(rasa: RasaStub, suffix: str) -> None:
    settings = Settings.from_env({"NLU_URL": rasa.url + suffix})
    remote = remote_parser(settings.nlu_url)
    assert remote is not None and remote.url == rasa.url + "/model/parse"
    assert parse(FREE_TEXT, remote=remote).intent == HUMAN


@pytest.mark.parametrize("text", ["STOP", "please stop texting me", "START", "HELP", "yes", "4/5"])
def test_compliance_and_clear_replies_never_leave_the_process(
    rasa: RasaStub, server: RasaServer, text: str
) -> None:
    rasa.answer = lambda t: _rasa(t, AFFIRM, 0.99)
    assert parse(text, remote=server).intent == parse(text).intent
    assert rasa.texts == []


def test_the_server_cannot_unsubscribe_anyone_on_its_own(
    rasa: RasaStub, server: RasaServer
) -> None:
    rasa.answer = lambda t: _rasa(t, OPT_OUT, 0.99)
    assert parse(FREE_TEXT, remote=server).intent == FALLBACK
    assert parse("cut it out with the texts", remote=server).intent == OPT_OUT


def test_intents_outside_the_contract_are_nlu_fallback(rasa: RasaStub, server: RasaServer) -> None:
    rasa.answer = lambda t: _rasa(t, "ask_wifi", 0.97)
    assert parse(FREE_TEXT, remote=server).intent == FALLBACK


def test_the_servers_entities_come_through(rasa: RasaStub, server: RasaServer) -> None:
    text = "could we shift things to the 3rd of May"
    start = text.index("3rd")
    day = {"entity": "time", "value": "2025-05-03", "start": start, "end": len(text)}
    day["extractor"] = "Duck"
    rasa.answer = lambda t: _rasa(t, RESCHEDULE, 0.9, [day])
    result = parse(text, remote=server)
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
        {"answer": lambda t: {"intent": {"name": "human", "confidence": [0.9]}}},
    ],
)
def test_any_failure_falls_back_to_the_local_classifier(
    rasa: RasaStub, breakage: dict[str, Any]
) -> None:
    for name, value in breakage.items():
        setattr(rasa, name, value)
    local = "ya I can make that work"
    assert parse(local, remote=RasaServer(rasa.url, timeout=0.2)).intent == AFFIRM


def test_an_unreachable_server_falls_back() -> None:
    stub = RasaStub()
    stub.close()  # nothing listens on its port any more
    assert parse("ya I can make that work", remote=RasaServer(stub.url)).intent == AFFIRM


def test_a_failed_server_is_left_alone_for_a_while(rasa: RasaStub) -> None:
    now = [100.0]
    server = RasaServer(rasa.url, retry_after=15.0, clock=lambda: now[0])
    rasa.status = 503
    parse(FREE_TEXT, remote=server)
    now[0] += 14.9
    parse(FREE_TEXT, remote=server)
    assert len(rasa.texts) == 1
    rasa.status = 200
    now[0] += 0.2
    assert parse(FREE_TEXT, remote=server).intent == HUMAN
    assert len(rasa.texts) == 2


def test_without_nlu_url_there_is_no_remote_parser() -> None:
    assert remote_parser(Settings.from_env({}).nlu_url) is None


def test_the_conversation_reads_free_text_with_the_server_nlu_url_names(
    rasa: RasaStub, settings: Settings, redis_url: str
) -> None:
    runtime = Runtime(replace(settings, nlu_url=rasa.url), redis_url)
    runtime.conversations.receive(Inbound("SMfree", "+14155550123", FREE_TEXT))
    assert rasa.texts == [FREE_TEXT]
    events = runtime.store.events("+14155550123")
    assert [e["intent"] for e in events if e["type"] == "message_received"] == [HUMAN]


def test_python_m_bot_parse_asks_the_server_nlu_url_names(rasa: RasaStub) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "parse", FREE_TEXT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NLU_URL": rasa.url},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["intent"]["name"] == HUMAN
    assert rasa.texts == [FREE_TEXT]


def test_a_bad_nlu_url_stops_parse_in_one_line_naming_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "parse", "hi"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NLU_URL": "rasa:5005"},
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "parley: NLU_URL must be an http:// or https:// URL, not 'rasa:5005'"
    ]
