"""Redis memory per contact: new, after a 100-message conversation, and once idle.

Each contact texts the bot and gets a reply (a new contact: 2 messages), then 49 more
times (100 messages), every reply sent through the Twilio emulator. The recorder copies
everything into the record (SQLite here) and leaves each contact its recent window in
Redis; once the contact is idle, its recorded messages and most of its event log leave
Redis too. Figures are the MEMORY USAGE of every key in the contact's hash slot (its
document, event log, message list and hashes, inbound markers), mean per contact, with
the record stream empty. Shared keys (queues, the stream, the contacts index) are not
counted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.harness import BenchRedis
from bot.config import Settings
from bot.conversation.runner import Inbound
from bot.delivery.sender import Sender
from bot.record import database
from bot.record.drain import RecordDrain
from bot.record.writer import RecordWriter
from bot.recorder import IDLE_SECONDS, RECENT_MESSAGES, Recorder
from bot.runtime import Runtime
from bot.storage import keys
from sandbox.emulator_server import EmulatorServer

TURNS = 50  # each an inbound message and its reply: 100 messages


def run(quick: bool = False) -> dict[str, Any]:
    """Measure; return bytes per contact at each point."""
    count = 20 if quick else 200
    with tempfile.TemporaryDirectory() as workdir, EmulatorServer() as emulator:
        redis = BenchRedis(Path(workdir) / "redis-memory").start()
        try:
            settings = Settings(
                twilio_account_sid=emulator.account_sid,
                twilio_auth_token=emulator.auth_token,
                twilio_from_number="+15005550006",
                twilio_api_base=emulator.base_url,
                var_dir=Path(workdir) / "var",
            )
            database.upgrade(settings.record_url)
            runtime = Runtime(settings, redis.url)
            client = runtime.redis
            drain = RecordDrain(client, RecordWriter(runtime.record), keys.RECORD, "bench")
            recorder = Recorder(drain, runtime.store)
            recorder.run(burst=True)  # the stream's consumer group exists before the baseline
            phones = [f"+1212{3000000 + n:07d}" for n in range(count)]

            def converse(turns: range) -> None:
                for turn in turns:
                    for phone in phones:
                        sid = f"SM{turn:04d}{phone[1:]:0>28}"
                        runtime.conversations.receive(Inbound(sid, phone, f"question {turn}"))
                    Sender(runtime).drain()
                recorder.run(burst=True)

            converse(range(1))
            new = _per_contact(runtime, phones)
            converse(range(1, TURNS))
            active = _per_contact(runtime, phones)
            window = int(client.llen(keys.messages(phones[0])))
            recorder.sweep(now=runtime.store.now() + IDLE_SECONDS + 1)
            idle = _per_contact(runtime, phones)
            markers = _per_contact(runtime, phones, "inbound")
            runtime.record.dispose()
        finally:
            redis.stop()
    return {
        "contacts": count,
        "new": new,
        "active": active,
        "idle": idle,
        "markers": markers,
        "window": window,
        "recent": RECENT_MESSAGES,
    }


def _per_contact(runtime: Runtime, phones: list[str], kind: str = "*") -> float:
    """Return the mean MEMORY USAGE of a contact's keys (those in its hash slot)."""
    client = runtime.redis
    total = 0
    for phone in phones:
        pattern = f"*{{{phone}}}*" if kind == "*" else f"{keys.PREFIX}{kind}:{{{phone}}}*"
        names = list(client.scan_iter(match=pattern, count=1000))
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.memory_usage(name, samples=0)
        total += sum(int(size or 0) for size in pipe.execute())
    return total / len(phones)


def format_table(result: dict[str, Any]) -> str:
    """Return the figures as a Markdown table."""
    kib = 1024
    rows = [
        ("a new contact (2 messages)", result["new"]),
        (f"after 100 messages, active ({result['window']} kept)", result["active"]),
        ("after 100 messages, idle", result["idle"]),
        ("idle after 100 messages, over a new contact", result["idle"] - result["new"]),
        ("  of which inbound markers (expire after 24 hours)", result["markers"]),
        ("after 100 messages, idle a day (markers expired)", result["idle"] - result["markers"]),
        (
            "idle a day after 100 messages, over a new contact",
            result["idle"] - result["markers"] - result["new"],
        ),
    ]
    lines = [
        f"{result['contacts']} contacts.",
        "",
        "| Redis memory per contact | bytes | KiB |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {value:,.0f} | {value / kib:.2f} |" for name, value in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_table(run(quick=True)))
