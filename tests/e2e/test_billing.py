"""Billing in the running stack: usage booked once however billing dies, bad usage dead-lettered
with the reason, spend for finance on spend.report, and `workforce spend` printing the table."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal

from contracts import codec, topics
from contracts.envelope import Actor
from contracts.events import LlmUsage, TokenUsage
from deploy.stack import ROOT
from services.billing.prices import PriceTable
from tests.conftest import ticket
from tests.e2e.conftest import unique_team

MODELS = ["gpt-4o-mini", "text-embedding-3-small", "claude-haiku-4-5"]


def usage_stream(team: str, count: int, seed: int = 11) -> list[LlmUsage]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        created = ticket(f"{team}-{i % 300:03d}", team=team)
        prompt = rng.randint(0, 4000)
        data = TokenUsage(
            purpose="e2e.call", model=rng.choice(MODELS), provider="test", prompt_tokens=prompt, completion_tokens=rng.randint(0, 800),
            cached_tokens=rng.randint(0, prompt), cost_usd=Decimal(0), latency_ms=rng.random() * 900, ticket_id=created.data.ticket_id,
            coworker=rng.choice(["ava", "ben", None]), skill=rng.choice(["password-reset", None]),
        )
        out.append(created.caused(LlmUsage, data, source="/services/triage", actor=Actor.system("triage"), ordinal=i))
    return out


def bad_usage(team: str) -> list[LlmUsage]:
    created = ticket(f"{team}-bad", team=team)
    absurd = TokenUsage(purpose="e2e.call", model="gpt-4o-mini", provider="test", prompt_tokens=5_000_000, cost_usd=Decimal(0), ticket_id=created.data.ticket_id)
    inconsistent = TokenUsage(purpose="e2e.call", model="gpt-4o-mini", provider="test", prompt_tokens=10, cached_tokens=50, cost_usd=Decimal(0), ticket_id=created.data.ticket_id)
    # 10M tokens of a model nobody prices: once priced high and booked (a team's whole budget), now refused.
    unpriced = TokenUsage(purpose="e2e.call", model="acme/unknown-model", provider="test", prompt_tokens=10_000_000, cost_usd=Decimal(0), ticket_id=created.data.ticket_id)
    # A priced model, signed by memory, which is not configured to call it (callers in budgets.yaml).
    not_memorys = TokenUsage(purpose="e2e.call", model="claude-haiku-4-5", provider="test", prompt_tokens=1000, cost_usd=Decimal(0), ticket_id=created.data.ticket_id)
    return [created.caused(LlmUsage, unpriced, source="/services/triage", actor=Actor.system("triage"), ordinal="unpriced"),
            created.caused(LlmUsage, not_memorys, source="/services/memory", actor=Actor.system("memory"), ordinal="not-memorys"),
            created.caused(LlmUsage, absurd, source="/services/triage", actor=Actor.system("triage"), ordinal="absurd"),
            created.caused(LlmUsage, inconsistent, source="/services/triage", actor=Actor.system("triage"), ordinal="cached")]


async def test_billing_killed_mid_stream_books_every_call_once_and_refuses_the_bad_ones(kafka, db, stack) -> None:  # noqa: ANN001
    team = unique_team("billing")
    good = usage_stream(team, 3000)
    bad = bad_usage(team)
    stream = good[:1500] + bad + good[1500:] + random.Random(5).sample(good, 300)  # and 300 redelivered copies
    kafka.produce_with_librdkafka([(team.encode(), codec.encode(e)) for e in stream], topic=topics.LLM_USAGE.name)

    deadline = time.monotonic() + 120
    while (n := await db.fetchval("SELECT count(*) FROM billing.usage_events WHERE team = $1", team)) < 200:
        assert time.monotonic() < deadline, "billing never started booking"
        await asyncio.sleep(0.02)
    stack.kill("billing")  # SIGKILL mid-stream: no shutdown, no offset commit
    assert n < len(good), "the kill came too late to test anything"
    stack.start_service("billing", env={"SPEND_REPORT_EVERY_S": "2"})

    deadline = time.monotonic() + 240
    while await db.fetchval("SELECT count(*) FROM billing.usage_events WHERE team = $1", team) < len(good):
        assert time.monotonic() < deadline, "billing did not book the whole stream after its restart"
        await asyncio.sleep(0.2)

    # Totals after the crash equal the totals of the stream priced once per distinct event, without a crash.
    prices = PriceTable.load()
    expected: dict[tuple[str, str, str], list] = {}
    for e in good:
        cost = prices.price(e.data.model, e.data.prompt_tokens, e.data.completion_tokens, e.data.cached_tokens, e.data.latency_ms).cost_usd
        row = expected.setdefault((e.data.coworker or "", e.data.skill or "", e.data.model), [0, 0, Decimal(0)])
        row[0] += 1
        row[1] += e.data.prompt_tokens + e.data.completion_tokens
        row[2] += cost
    rows = await db.fetch(
        "SELECT coworker, skill, model, sum(calls) AS calls, sum(prompt_tokens + completion_tokens) AS tokens, sum(cost_usd) AS cost"
        " FROM billing.spend_hourly WHERE team = $1 GROUP BY 1, 2, 3",
        team,
    )
    assert {(r["coworker"], r["skill"], r["model"]): [r["calls"], r["tokens"], r["cost"]] for r in rows} == expected
    assert await db.fetchval("SELECT sum(cost_usd) FROM billing.spend_daily WHERE team = $1", team) == sum(v[2] for v in expected.values())
    assert not await db.fetchval("SELECT count(*) FROM billing.usage_events WHERE team = $1 AND model = 'acme/unknown-model'", team)

    letters = []
    for _ in range(200):
        letters = [d for d in (codec.decode(r.value) for r in await kafka.read(topics.DEADLETTER.name)) if d.data.service == "billing" and d.team == team]
        if len(letters) >= len(bad):
            break
        await asyncio.sleep(0.3)
    assert Counter(d.data.original_id for d in letters).keys() == {b.id for b in bad}
    reasons = " ".join(d.data.reason for d in letters)
    assert "absurd for gpt-4o-mini" in reasons and "cached_tokens 50 is more than prompt_tokens 10" in reasons
    assert [d.data.reason_code for d in letters if d.data.original_id == bad[0].id][:1] == ["unknown_model"]
    assert "model 'acme/unknown-model' has no price" in reasons
    assert [d.data.reason_code for d in letters if d.data.original_id == bad[1].id][:1] == ["unknown_model"]
    assert "memory is not configured to call 'claude-haiku-4-5'" in reasons

    # Finance's topic: a spend.report for the team, with the same total.
    total = sum(v[2] for v in expected.values())
    report = None
    for _ in range(100):
        reports = [codec.decode(r.value) for r in await kafka.read(topics.SPEND_REPORT.name) if r.key == team.encode()]
        report = next((r for r in reversed(reports) if r.data.cost_usd == total), None)
        if report:
            break
        await asyncio.sleep(0.5)
    assert report is not None, "no spend.report with the team's whole spend"
    assert [line.name for line in report.data.top_models][:1] and report.data.calls == len(good)

    # And the CLI prints the same total.
    env = {**os.environ, "DATABASE_URL": stack.database_url, "KAFKA_BOOTSTRAP_SERVERS": stack.broker.bootstrap}
    printed = subprocess.run([sys.executable, "-m", "deploy.cli", "spend", "--team", team, "--by", "model"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    assert f"{total:.6f}" in printed.stdout and "claude-haiku-4-5" in printed.stdout

    # Back to a billing with the default schedule for the rest of the session.
    stack.kill("billing")
    stack.start_service("billing")
