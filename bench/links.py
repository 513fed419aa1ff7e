"""Links: a tracked link's redirect (GET /l/<code>) against the inbound webhook, one server.

One Parley web server (the Procfile's web command) answers both, in interleaved rounds
driven by the same load generator: signed SMS webhooks that resume a waiting journey run
(as the inbound benchmark sends them), and a person's click on a short link sent in a
staff reply (answered 302, the click appended to the record stream). The redirect's
p50 should not exceed the webhook's.
"""

from __future__ import annotations

import json
import re
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from bench.harness import (
    API_TOKEN,
    BenchRedis,
    deployment_env,
    free_port,
    start_emulator,
    valid_phones,
)
from bench.inbound import Plan as InboundPlan
from bench.inbound import chunks, pooled, prepare, probe, replies, serve, start_journeys
from bench.load import Call, LoadResult, drive
from bench.report import Section
from bot.storage import keys
from bot.storage.store import Store

TARGET = 1.0  # the redirect's p50 over the webhook's: at most this
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"
LINKED = "Your order ships today; track it at https://shop.example/track/{n} (reply STOP to end)"


@dataclass(frozen=True)
class Plan:
    """How much load a links run sends."""

    contacts: int  # contacts mid-journey, for the webhooks
    linked: int  # contacts who got a short link, for the clicks
    requests: int  # measured requests of each kind
    warmup: int
    rounds: int
    senders: int = 8
    processes: int = 2


FULL = Plan(contacts=2000, linked=500, requests=6000, warmup=200, rounds=6)
QUICK = Plan(contacts=300, linked=100, requests=600, warmup=60, rounds=2)


def short_links(url: str, phones: list[str]) -> tuple[list[str], list[str]]:
    """Send each phone a staff reply with a tracked link; return the codes and problems."""
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    codes, problems = [], []
    with requests.Session() as session:
        for number, phone in enumerate(phones):
            created = session.post(f"{url}/api/contacts", json={"phone": phone}, headers=headers)
            body: dict[str, Any] = {"body": LINKED.format(n=number), "track_links": True}
            sent = session.post(
                f"{url}/api/contacts/{quote(phone)}/messages", json=body, headers=headers
            )
            found = re.search(r"/l/([A-Za-z0-9_-]{11})", sent.json().get("body", ""))
            if created.status_code != 200 or sent.status_code != 201 or found is None:
                problems.append(f"setup: no short link for {phone} ({sent.status_code})")
                continue
            codes.append(found[1])
    return codes, problems


def clicks(codes: list[str], count: int) -> list[Call]:
    """Return `count` clicks on the codes, in turn, as a phone's browser makes them."""
    headers = {"User-Agent": BROWSER, "Accept": "text/html"}
    return [Call(f"/l/{codes[n % len(codes)]}", b"", headers, "GET") for n in range(count)]


def run(quick: bool, workdir: Path) -> Section:
    """Run the links benchmark and return its results."""
    plan = QUICK if quick else FULL
    section = Section("links", "Links: the tracked-link redirect vs the inbound webhook")
    with ExitStack() as stack:
        redis = BenchRedis(workdir / "redis-links").start()
        stack.callback(redis.stop)
        emulator, emulator_url = start_emulator(workdir)
        stack.callback(emulator.stop)
        port = free_port()
        env = deployment_env(redis.url, emulator_url, workdir / "var-links", port=port)
        parley = serve("parley", "parley.app:create_app()", port, env, workdir, stack)
        store = Store(redis.client())

        phones = valid_phones(plan.contacts + plan.linked + 50)
        contacts, linked, warm_contacts = (
            phones[: plan.contacts],
            phones[plan.contacts : plan.contacts + plan.linked],
            phones[plan.contacts + plan.linked :],
        )
        inbound_plan = InboundPlan(
            contacts=plan.contacts,
            requests=plan.requests,
            warmup=plan.warmup,
            rounds=plan.rounds,
            senders=plan.senders,
            processes=plan.processes,
        )
        section.failures += start_journeys(parley, store, contacts + warm_contacts, inbound_plan)
        codes, problems = short_links(parley.url, linked)
        section.failures += problems

        measured = replies(inbound_plan, contacts)
        warm = [(warm_contacts[i % len(warm_contacts)], "maybe") for i in range(plan.warmup)]
        webhook_rounds, webhook_warmups = prepare(parley, 0, measured, warm, plan.rounds)
        click_rounds = chunks(clicks(codes, plan.requests), plan.rounds)
        click_warmups = [clicks(codes, plan.warmup) for _ in range(plan.rounds)]
        webhooks: list[LoadResult] = []
        redirects: list[LoadResult] = []
        for index in range(plan.rounds):
            kinds = ("webhook", "redirect") if index % 2 == 0 else ("redirect", "webhook")
            for kind in kinds:
                calls, warmups, results = (
                    (webhook_rounds, webhook_warmups, webhooks)
                    if kind == "webhook"
                    else (click_rounds, click_warmups, redirects)
                )
                results.append(
                    drive(
                        parley.url,
                        calls[index],
                        warmup=warmups[index],
                        senders=plan.senders,
                        processes=plan.processes,
                        probe=lambda: probe(parley.service, redis),
                    )
                )
        report(section, plan, pooled(webhooks), pooled(redirects), webhooks, redirects)
        verify(section, store, plan, pooled(webhooks), pooled(redirects))
    return section


def report(
    section: Section,
    plan: Plan,
    webhook: LoadResult,
    redirect: LoadResult,
    webhooks: list[LoadResult],
    redirects: list[LoadResult],
) -> None:
    """Add the table and the ratio to the section."""
    rows = []
    for label, result in (
        ("POST /webhooks/twilio/sms (resumes a waiting run)", webhook),
        ("GET /l/<code> (302, click recorded)", redirect),
    ):
        rows.append(
            [
                label,
                str(result.count),
                f"{result.rate:,.0f}",
                f"{result.p(50):.2f}",
                f"{result.p(99):.2f}",
                f"{result.server_cpu['web'] / result.count * 1000:.2f}",
                f"{result.server_cpu['redis'] / result.count * 1000:.2f}",
            ]
        )
    ratio = redirect.p(50) / webhook.p(50) if webhook.p(50) else float("nan")
    met = "met" if ratio <= TARGET else "NOT met"
    per_round = ", ".join(
        f"{r.p(50) / w.p(50):.2f}" for w, r in zip(webhooks, redirects, strict=True)
    )
    section.add(
        f"_Run: {'quick' if plan is QUICK else 'full'}._ One Parley web server (the"
        " Procfile's web line, bound to 127.0.0.1) answers both kinds of request, in"
        " interleaved rounds.",
        "",
    )
    section.table(
        ["request", "requests", "req/s", "p50 ms", "p99 ms", "web CPU ms/req", "Redis CPU ms/req"],
        rows,
    )
    section.add(
        f"**Redirect p50 / webhook p50: {ratio:.2f}** (target <= {TARGET:g}: {met});"
        f" per round: {per_round}.",
        "",
        f"- Load: {plan.senders} concurrent senders ({plan.processes} client processes),"
        f" closed loop, {plan.requests} measured requests of each kind in {plan.rounds}"
        f" rounds, each after a warm-up of {plan.warmup}.",
        f"- Webhooks: as in the inbound benchmark, {plan.contacts} contacts mid-journey;"
        f" clicks: a phone browser's GET on the short links of {plan.linked} staff replies"
        " (`track_links`), each answered `302` by one Redis script call that finds the link"
        " and appends the click to the record stream. No journey here starts or waits on"
        " clicks, so no click timer is set; neither the worker nor the recorder runs.",
        "",
    )


def verify(
    section: Section, store: Store, plan: Plan, webhook: LoadResult, redirect: LoadResult
) -> None:
    """Check every request got its answer and every click is in the record stream."""
    if webhook.failures:
        section.failures.append(f"webhooks: {webhook.failures} failed: {webhook.statuses}")
    wrong = sum(n for status, n in redirect.statuses.items() if status != 302)
    if wrong:
        section.failures.append(f"redirects: {wrong} not answered 302: {redirect.statuses}")
    entries: Any = store.redis.xrange(keys.RECORD)  # [(id, {field: value}), ...]
    recorded = sum(1 for _, fields in entries if json.loads(fields.get("k") or "{}").get("code"))
    expected = plan.requests + plan.warmup * plan.rounds
    if recorded != expected:
        section.failures.append(f"{recorded} clicks in the record stream, expected {expected}")
    section.add(
        f"Checked after the run: {recorded} clicks in the record stream (expected"
        f" {expected}); redirects not answered 302: {wrong}; failed webhooks:"
        f" {webhook.failures}.",
        "",
    )
