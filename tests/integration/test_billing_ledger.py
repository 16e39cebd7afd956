"""The billing ledger in a real PostgreSQL: every call priced by billing and booked once, roll-ups
that add up, replays that rebuild the same totals, bad usage (and usage of a model with no price)
refused, alerts once per period."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from contracts.envelope import Actor
from contracts.events import LlmUsage, Price, TokenUsage
from runtime.db import Database
from services.billing import budgets as budgets_
from services.billing.config import BillingConfig
from services.billing.ledger import book, split
from services.billing.prices import PriceTable, UnknownModel
from services.billing.reports import summary, table
from services.billing.periods import Period
from tests.conftest import ticket

#: "m" costs $0.001 a prompt token and $0.002 a completion token, so sums are easy to check by hand.
PRICES = PriceTable.load(local={"m": Price(usd_per_input_token=Decimal("0.001"), usd_per_cached_input_token=Decimal("0.0005"), usd_per_output_token=Decimal("0.002"))})
NOW = datetime.now(UTC)


@pytest.fixture
async def db(service_database) -> Database:  # noqa: ANN001
    return await service_database("billing")


def usage(team: str, prompt: int, completion: int = 0, *, model: str = "m", coworker: str | None = None, skill: str | None = None, cached: int = 0, reported: str = "0", ticket_id: str | None = None, at: datetime | None = None) -> LlmUsage:
    created = ticket(ticket_id, team=team)
    data = TokenUsage(purpose="triage.classify", model=model, provider="test", prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached, cost_usd=Decimal(reported), ticket_id=created.data.ticket_id, coworker=coworker, skill=skill)
    event = created.caused(LlmUsage, data, source="/services/triage", actor=Actor.system("triage"))
    return event.model_copy(update={"time": at}) if at else event


async def test_billing_prices_each_call_itself_and_records_the_version_and_what_the_caller_said(db: Database) -> None:
    events = [usage("it-support", 100, 10, reported="99"), usage("it-support", 1000, 100, model="gpt-4o-mini", cached=400)]
    async with db.pool.acquire() as conn:
        assert await book(conn, events, PRICES) == 2
    rows = {r["model"]: r for r in await db.pool.fetch("SELECT * FROM billing.usage_events")}
    assert rows["m"]["cost_usd"] == Decimal("0.12") and rows["m"]["reported_cost_usd"] == Decimal("99")  # the caller's figure is kept, not billed
    assert rows["gpt-4o-mini"]["cost_usd"] == Decimal("0.00018") == rows["gpt-4o-mini"]["litellm_cost_usd"]  # 600 x .15 + 400 x .075 + 100 x .60 per M
    assert {r["price_version"] for r in rows.values()} == {PRICES.version} and all(r["flags"] == [] for r in rows.values())


async def test_usage_of_a_model_with_no_price_is_refused_and_counts_against_no_budget(db: Database) -> None:
    config = BillingConfig.model_validate({"teams": {"it-support": {"budget": {"limit_usd": 200, "period": "month"}}}})
    attack = usage("it-support", 0, 10_000_000, model="acme/unknown-model")  # issue 14: priced by the old default, $600 of a $200 budget
    good, bad = split([usage("it-support", 100), attack], PRICES)
    assert [p.event.id for p in bad] == [attack.id] and bad[0].code == "unknown_model" and "'acme/unknown-model' has no price" in bad[0].reason
    async with db.pool.acquire() as conn:
        with pytest.raises(UnknownModel):
            await book(conn, [attack], PRICES)  # even unchecked, it is never priced by a guess
        assert await book(conn, good, PRICES) == 1
        (standing,) = await budgets_.standings(conn, budgets_.Budgets(config, {}).touched([("it-support", None, None)], NOW), NOW, grace_s=30)
    assert standing.spent_usd == Decimal("0.1")
    assert await db.pool.fetchval("SELECT count(*) FROM billing.usage_events WHERE model = 'acme/unknown-model'") == 0


async def test_spend_rolls_up_per_team_coworker_skill_model_hour_and_ticket(db: Database) -> None:
    events = [
        usage("it-support", 10, coworker="jordan", skill="password-reset", ticket_id="T-1"),
        usage("it-support", 20, coworker="jordan", skill="password-reset", ticket_id="T-1"),
        usage("it-support", 5, coworker="triage-manager", ticket_id="T-2"),
        usage("hr", 7, coworker="bob", ticket_id="T-3", at=NOW - timedelta(days=40)),
    ]
    async with db.pool.acquire() as conn:
        await book(conn, events, PRICES)
        month = Period("month").window(NOW)
        by_coworker = {(r["team"], r["name"]): (r["calls"], r["cost_usd"]) for r in await table(conn, month, by="coworker")}
        by_skill = {(r["team"], r["name"]): r["cost_usd"] for r in await table(conn, month, team="it-support", by="skill")}
        tickets = {r["ticket_id"]: (r["calls"], r["cost_usd"]) for r in await conn.fetch("SELECT * FROM billing.spend_tickets")}
    assert by_coworker == {("it-support", "jordan"): (2, Decimal("0.030")), ("it-support", "triage-manager"): (1, Decimal("0.005"))}  # bob's was last month
    assert by_skill == {("it-support", "password-reset"): Decimal("0.030"), ("it-support", ""): Decimal("0.005")}
    assert tickets == {"T-1": (2, Decimal("0.030")), "T-2": (1, Decimal("0.005")), "T-3": (1, Decimal("0.007"))}


async def test_a_redelivered_usage_event_is_never_billed_twice(db: Database) -> None:
    events = [usage("it-support", 250) for _ in range(5)]
    async with db.pool.acquire() as conn:
        assert await book(conn, events, PRICES) == 5
        assert await book(conn, events[:3] + events[:1], PRICES) == 0
    assert await db.pool.fetchval("SELECT sum(cost_usd) FROM billing.spend_daily") == Decimal("1.25")
    assert await db.pool.fetchval("SELECT sum(cost_usd) FROM billing.spend_hourly") == Decimal("1.25")


ROLLUPS = {
    "usage_events": "SELECT event_id, cost_usd, price_version FROM billing.usage_events ORDER BY event_id",
    "spend_daily": "SELECT * FROM billing.spend_daily ORDER BY team, coworker, day",
    "spend_hourly": "SELECT * FROM billing.spend_hourly ORDER BY team, coworker, skill, model, hour",
    "spend_tickets": "SELECT * FROM billing.spend_tickets ORDER BY team, ticket_id",
}


async def test_a_replay_in_any_order_with_redeliveries_rebuilds_identical_totals(service_database, server_url) -> None:  # noqa: ANN001
    from tests.conftest import _create_database, _drop_database

    rng = random.Random(7)
    events = [
        usage(rng.choice(["it-support", "hr"]), rng.randint(0, 5000), rng.randint(0, 500), model=rng.choice(["m", "gpt-4o-mini", "text-embedding-3-small"]),
              coworker=rng.choice([None, "jordan", "bob"]), skill=rng.choice([None, "password-reset"]), ticket_id=f"T-{rng.randint(1, 40)}", at=NOW - timedelta(hours=rng.randint(0, 24 * 60)))
        for _ in range(600)
    ]
    first = await service_database("billing")
    async with first.pool.acquire() as conn:
        await book(conn, events, PRICES)
    other_url = await _create_database(server_url)
    replay = Database(other_url, "billing", first.migrations, pool_size=4)
    await replay.open()
    try:
        shuffled = events + rng.sample(events, 200)  # redelivered copies
        rng.shuffle(shuffled)

        async def booker(batch: list[LlmUsage]) -> None:
            async with replay.pool.acquire() as conn:
                await book(conn, batch, PRICES)

        await asyncio.gather(*(booker(shuffled[i : i + 97]) for i in range(0, len(shuffled), 97)))
        for name, query in ROLLUPS.items():
            assert [tuple(r) for r in await first.pool.fetch(query)] == [tuple(r) for r in await replay.pool.fetch(query)], f"{name} differs after the replay"
    finally:
        await replay.close()
        await _drop_database(server_url, other_url)


@pytest.mark.parametrize(
    ("prompt", "cached", "model", "why"),
    [
        (10, 11, "m", "cached_tokens 11 is more than prompt_tokens 10"),
        (300_000, 0, "gpt-4o-mini", "prompt_tokens 300,000 is absurd for gpt-4o-mini, whose context window is 128,000 tokens"),
    ],
)
def test_absurd_usage_is_refused_with_the_reason_never_billed(prompt: int, cached: int, model: str, why: str) -> None:
    good, bad = split([usage("it-support", 10), usage("it-support", prompt, cached=cached, model=model)], PRICES)
    assert len(good) == 1 and len(bad) == 1 and bad[0].code == "schema" and bad[0].reason.startswith(why)


def test_negative_counts_and_a_missing_team_fail_the_contract_and_are_dead_lettered_by_the_runtime() -> None:
    import json

    from contracts import codec

    raw = json.loads(codec.encode(usage("it-support", 10)))
    raw["data"]["prompt_tokens"] = -5
    with pytest.raises(codec.DecodeError, match="prompt_tokens: Input should be greater than or equal to 0"):
        codec.decode(json.dumps(raw).encode())
    raw["data"]["prompt_tokens"] = 10**12
    with pytest.raises(codec.DecodeError, match="prompt_tokens: Input should be less than or equal to 10000000"):
        codec.decode(json.dumps(raw).encode())
    raw["data"]["prompt_tokens"] = 10
    del raw["team"]
    with pytest.raises(codec.DecodeError, match="team: Field required"):
        codec.decode(json.dumps(raw).encode())


async def test_each_alert_is_sent_once_per_budget_and_period(db: Database) -> None:
    config = BillingConfig.model_validate({"teams": {"it-support": {"budget": {"limit_usd": 1, "period": "month"}}}})
    known = budgets_.Budgets(config, {})
    seen: list[int] = []
    async with db.pool.acquire() as conn:
        for spend in (300, 260, 10, 400, 500):  # 0.30, 0.56, 0.57, 0.97, 1.47 USD of 1
            await book(conn, [usage("it-support", spend)], PRICES)
            standing = await budgets_.standings(conn, known.touched([("it-support", None, None)], NOW), NOW, grace_s=30)
            alerts = await budgets_.unsent_alerts(conn, standing, config.alerts_pct)
            await budgets_.mark_sent(conn, alerts)
            seen.append([p for _, p in alerts])
    assert seen == [[], [50], [], [80, 95], [100]]


async def test_cost_per_ticket_and_per_resolved_ticket_against_the_human_baseline(db: Database) -> None:
    config = BillingConfig.model_validate({"teams": {"it-support": {"human_cost_per_ticket_usd": 18}}})
    async with db.pool.acquire() as conn:
        await book(conn, [usage("it-support", 100, ticket_id=f"T-{i}", coworker="jordan") for i in range(4)], PRICES)
        await conn.executemany("INSERT INTO billing.resolved_tickets (ticket_id, team, coworker, resolved_at) VALUES ($1, 'it-support', 'jordan', $2)", [(f"T-{i}", NOW) for i in range(3)])
        report = await summary(conn, "it-support", Period("month").window(NOW), config)
    assert (report.cost_usd, report.tickets, report.resolved_tickets) == (Decimal("0.4"), 4, 3)
    assert (report.cost_per_ticket_usd, report.cost_per_resolved_ticket_usd) == (Decimal("0.1"), Decimal("0.1333"))
    assert report.savings_usd == Decimal("53.6")  # 3 resolved x $18 by a person - $0.40 of AI
    assert [line.name for line in report.top_coworkers] == ["jordan"] and report.price_versions == [PRICES.version]
