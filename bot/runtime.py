"""The runtime: settings, Redis, journeys and services wired together, once per process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

import redis
from rq import Queue
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.config import TWILIO_API_BASE, Settings
from bot.conversation.actions import ActionRunner
from bot.conversation.desk import StaffDesk
from bot.conversation.journeys import JourneyRunner
from bot.conversation.rasa_server import remote_parser
from bot.conversation.runner import Conversations, utcnow
from bot.conversation.schedules import Schedules
from bot.delivery.outbox import QUEUE_NAME, Outbox
from bot.delivery.timers import Timers
from bot.history import History
from bot.record import database
from bot.storage import embedded, migrations, redis_server
from bot.storage.store import Store
from flows.definition import load_journeys

log = logging.getLogger(__name__)


class Runtime:
    """Everything a web or worker process needs, built from one Settings."""

    def __init__(
        self,
        settings: Settings,
        redis_url: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.redis_url = redis_url
        self.clock = clock
        self.redis = redis_server.connect(redis_url)
        self.queue = Queue(QUEUE_NAME, connection=redis_server.connect(redis_url, decode=False))
        self.store = Store(self.redis, settings.link_ttl_days * 86400)
        self.outbox = Outbox(self.store, self.queue)
        self.timers = Timers(self.store)
        extra = [settings.flows_dir] if settings.flows_dir else []
        self.journeys = load_journeys(*extra)
        self.actions = ActionRunner(endpoint=settings.action_endpoint)
        self.runner = JourneyRunner(self.journeys, settings, self.actions)
        self.conversations = Conversations(
            self.store, self.outbox, self.runner, settings, clock, remote_parser(settings.nlu_url)
        )
        self.desk = StaffDesk(self.conversations)
        self.schedules = Schedules(self.store, self.conversations, settings.default_timezone)
        # The record (SQL): connections are made when first used.
        self.record = database.connect(settings.record_url)
        self.history = History(self.store, self.record)
        self._local = threading.local()
        self._storage_ready = False
        self._storage_lock = threading.Lock()
        try:
            self.prepare_storage()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            # Web and worker start anyway and prepare it once Redis answers; each reports
            # the outage its own way (503s, "waiting for Redis", the CLI's one line).
            log.debug("Redis unavailable at start-up (%s); its data is checked later", exc)

    def prepare_storage(self) -> None:
        """Bring Redis' data to this version's key layout and load the scripts, once.

        Runs before the process first uses Redis: when it starts, or (if Redis was down
        then) before its first request or job. Cheap once done.
        """
        if self._storage_ready:
            return
        with self._storage_lock:
            if not self._storage_ready:
                migrations.upgrade(self.redis, self.store.scripts)
                self.store.scripts.load()
                self._storage_ready = True

    @classmethod
    def from_env(cls) -> Runtime:
        """Build a runtime from the environment: REDIS_URL, else the one `make run` keeps.

        Raise EmbeddedRedisError, saying what to do, when REDIS_URL is unset and
        `make run` is not running.
        """
        settings = Settings.from_env()
        return cls(settings, settings.redis_url or embedded.running_url(settings.var_dir))

    def twilio(self) -> Client:
        """Return this thread's Twilio client (requests sessions are not thread-safe)."""
        client = getattr(self._local, "client", None)
        if client is None:
            http = TwilioHttpClient(timeout=self.settings.send_timeout)
            client = Client(self.settings.account_sid, self.settings.auth_token, http_client=http)
            if self.settings.api_base != TWILIO_API_BASE:
                client.api.base_url = self.settings.api_base
            self._local.client = client
        return client


_current: Runtime | None = None
_current_lock = threading.Lock()


def current() -> Runtime:
    """Return this process's runtime, building it from the environment on first use."""
    global _current
    with _current_lock:
        if _current is None:
            _current = Runtime.from_env()
        return _current


def install(runtime: Runtime | None) -> None:
    """Make `runtime` this process's runtime (the worker and tests set it explicitly)."""
    global _current
    with _current_lock:
        _current = runtime
