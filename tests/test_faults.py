"""Faults in the real processes: Redis dropping mid-turn, workers dying or losing Redis."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import store
from tests.processes import deployment, wait_until
from tests.redis_proxy import RedisProxy
from tests.texting import new_sid

COMMIT_SHA = hashlib.sha1(store._COMMIT.encode()).hexdigest().encode()


@pytest.fixture
def proxy(redis_url: str) -> Iterator[RedisProxy]:
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = RedisProxy(port)
    yield proxy
    proxy.close()


def sent_to(emulator, phone: str) -> list[str]:
    return [m["body"] for m in emulator.messages() if m["to"] == phone]


def test_an_opt_out_cut_off_before_its_commit_is_handled_on_retry(
    proxy: RedisProxy, redis_url: str, emulator, tmp_path: Path
) -> None:
    with deployment(proxy.url, emulator, tmp_path, workers=0) as (parley, processes):
        processes.start("worker", REDIS_URL=redis_url)  # only the web process loses Redis
        assert parley.text("hello").status_code == 200
        wait_until(lambda: sent_to(emulator, parley.phone), what="the greeting")
        # Redis goes away after the STOP's turn has begun and before it commits, and the
        # clean-up that follows cannot reach it either.
        proxy.cut_on(COMMIT_SHA, outage=2.0)
        sid = new_sid()
        first = parley.text("STOP", sid=sid)
        assert first.status_code == 503
        assert proxy.cuts == 1
        wait_until(lambda: not proxy.refusing(), what="Redis to come back")
        # Twilio retries the same MessageSid: it must be handled now, not taken for a repeat.
        assert parley.text("STOP", sid=sid).status_code == 200
        assert parley.contact()["subscribed"] is False
        wait_until(
            lambda: [b for b in sent_to(emulator, parley.phone) if "unsubscribed" in b],
            what="the opt-out confirmation",
        )
        # A third delivery is a repeat: still exactly one confirmation, queued and sent.
        assert parley.text("STOP", sid=sid).status_code == 200
        queued = [m for m in parley.messages() if "unsubscribed" in m["body"]]
        assert len(queued) == 1
        assert len([b for b in sent_to(emulator, parley.phone) if "unsubscribed" in b]) == 1
        inbound = [m["body"] for m in parley.messages() if m["direction"] == "inbound"]
        assert inbound == ["hello", "STOP"]


def test_the_worker_rides_out_a_redis_outage(proxy: RedisProxy, emulator, tmp_path: Path) -> None:
    outage = float(os.environ.get("PARLEY_TEST_OUTAGE", "10"))
    with deployment(proxy.url, emulator, tmp_path) as (parley, processes):
        assert parley.text("hello").status_code == 200
        wait_until(lambda: sent_to(emulator, parley.phone), what="the greeting")
        # Redis goes away while the worker is busy: Twilio is slow to answer this send.
        emulator.inject_fault(delay=1.5)
        assert parley.text("thanks").status_code == 200
        wait_until(lambda: emulator.faults_pending() == 0, what="the slow send to start")
        proxy.down(outage)
        wait_until(lambda: not proxy.refusing(), timeout=outage + 5, what="Redis to come back")
        wait_until(parley.healthy, what="the web process to reconnect")
        assert parley.text("HELP").status_code == 200
        wait_until(
            lambda: any("Msg & data rates" in body for body in sent_to(emulator, parley.phone)),
            timeout=20,
            what="the HELP answer",
        )
        (worker,) = processes.running["worker"]
        assert worker.poll() is None, processes.log("worker")
