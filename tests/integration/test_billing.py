"""The billing ledger in a real PostgreSQL: every usage event booked once, aggregates that add up."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from contracts.envelope import Actor
from contracts.events import LlmUsage, TokenUsage
from runtime.db import Database
from services.billing.ledger import book
from tests.conftest import ticket


@pytest.fixture
async def db(service_database) -> Database:  # noqa: ANN001
    return await service_database("billing")


def usage(team: str, tokens: int, cost: str, *, coworker: str | None = None) -> LlmUsage:
    created = ticket(team=team)
    data = TokenUsage(purpose="triage.embed", model="m", provider="local", prompt_tokens=tokens, completion_tokens=1, cost_usd=Decimal(cost), ticket_id=created.data.ticket_id, coworker=coworker)
    return created.caused(LlmUsage, data, source="/services/triage", actor=Actor.system("triage"))


async def test_spend_per_team_and_coworker_is_the_sum_of_the_usage(db: Database) -> None:
    events = [usage("it-support", 10, "0.001"), usage("it-support", 20, "0.002", coworker="jordan"), usage("hr", 5, "0.0005")]
    async with db.pool.acquire() as conn:
        assert await book(conn, events) == 3
    rows = {(r["team"], r["coworker"]): (r["calls"], r["prompt_tokens"], r["completion_tokens"], r["cost_usd"]) for r in await db.pool.fetch("SELECT * FROM billing.spend_daily")}
    assert rows == {
        ("it-support", ""): (1, 10, 1, Decimal("0.001")),
        ("it-support", "jordan"): (1, 20, 1, Decimal("0.002")),
        ("hr", ""): (1, 5, 1, Decimal("0.0005")),
    }


async def test_a_redelivered_usage_event_is_never_billed_twice(db: Database) -> None:
    events = [usage("it-support", 10, "0.25") for _ in range(5)]
    async with db.pool.acquire() as conn:
        assert await book(conn, events) == 5
        assert await book(conn, events[:3] + events[:1]) == 0
    assert await db.pool.fetchval("SELECT sum(cost_usd) FROM billing.spend_daily") == Decimal("1.25")


async def test_concurrent_bookers_of_overlapping_batches_add_up_exactly(db: Database) -> None:
    events = [usage("it-support" if i % 2 else "hr", i, "0.01") for i in range(200)]

    async def booker(batch: list[LlmUsage]) -> int:
        async with db.pool.acquire() as conn:
            return await book(conn, batch)

    booked = await asyncio.gather(*(booker(events[i : i + 80]) for i in range(0, 200, 40)))
    assert sum(booked) == 200
    total = await db.pool.fetchrow("SELECT sum(calls) AS calls, sum(prompt_tokens) AS tokens, sum(cost_usd) AS cost FROM billing.spend_daily")
    assert (total["calls"], total["tokens"], total["cost"]) == (200, sum(range(200)), Decimal("2.00"))
