"""Faults in the real processes: Redis dropping mid-turn, workers dying or losing Redis."""

from __future__ import annotations

import hashlib
import os
from functools import partial
from pathlib import Path

from bot.storage import lua
from tests.processes import deployment, wait_until
from tests.redis_proxy import RedisProxy
from tests.texting import new_sid

COMMIT_SHA = hashlib.sha1(lua.source("commit").encode()).hexdigest().encode()


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


def final_statuses(parley, phones: list[str]) -> dict[str, list[str]]:
    return {
        phone: [m["status"] for m in parley.messages(phone) if m["direction"] == "outbound"]
        for phone in phones
    }


def settled(statuses: dict[str, list[str]]) -> bool:
    # Only a final status: `sent` is followed by `delivered` (or a failure) a moment later.
    final = ("delivered", "undelivered", "failed")
    return all(s and all(x in final for x in s) for s in statuses.values())


def test_a_send_whose_answer_is_late_or_lost_reaches_the_person_once(
    emulator, redis_url: str, tmp_path: Path
) -> None:
    phones = ["+14155550141", "+14155550142", "+14155550143"]
    with deployment(redis_url, emulator, tmp_path, SEND_TIMEOUT="1") as (parley, _):
        # Twilio takes each message but: answers after the sender gave up; drops the
        # connection instead of answering; posts `delivered` before it answers.
        emulator.inject_fault(delay=2.0, mode="late")
        emulator.inject_fault(mode="drop")
        emulator.inject_fault(mode="callback_first")
        for phone in phones:
            assert parley.text("HELP", phone=phone).status_code == 200
            wait_until(partial(sent_to, emulator, phone), what=f"the answer to {phone}")
        statuses = wait_until(
            lambda: (s := final_statuses(parley, phones)) and settled(s) and s,
            timeout=30,
            what="every message to end with Twilio's status",
        )
        assert statuses == {phone: ["delivered"] for phone in phones}
        assert {phone: len(sent_to(emulator, phone)) for phone in phones} == dict.fromkeys(
            phones, 1
        )


def test_a_killed_workers_batch_is_recovered_within_seconds(
    emulator, redis_url: str, tmp_path: Path
) -> None:
    phones = [f"+1415555016{n}" for n in range(6)]
    with deployment(
        redis_url, emulator, tmp_path, workers=0, SEND_CONCURRENCY="1", SEND_TIMEOUT="2"
    ) as (parley, processes):
        for phone in phones:  # six opt-outs wait in the outbox: one batch for one worker
            assert parley.text("STOP", phone=phone).status_code == 200
        # Every send is slow: Twilio takes the message and answers a second later.
        emulator.inject_fault(delay=1.0, mode="late", count=len(phones))
        doomed = processes.start("worker")
        wait_until(lambda: len(emulator.messages()) == 2, what="the second send to reach Twilio")
        processes.kill(doomed)  # mid-batch, before Twilio's answer to the second arrives
        assert len(emulator.messages()) == 2
        processes.start("worker")
        wait_until(
            lambda: all(sent_to(emulator, phone) for phone in phones),
            timeout=20,
            what="the rest of the batch",
        )
        wait_until(
            lambda: settled(final_statuses(parley, phones)),
            timeout=20,
            what="every message to end with Twilio's status",
        )
        assert all(len(sent_to(emulator, phone)) == 1 for phone in phones)
