"""Budgets enforced before the call, against the real billing service, broker and PostgreSQL:
1,000 concurrent calls from two caller instances at a budget's edge never overspend; at exactly the
limit the call is refused, naming the budget; nested budgets and per-ticket caps all hold; a model
with no price gets no lease, and its usage is dead-lettered, not booked."""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import codec
from contracts.envelope import Actor
from contracts.events import DeadLetter, LlmUsage, TokenUsage
from contracts.topics import BUDGET_LEASE_REQUESTED, COWORKER_STATE, DEADLETTER, LLM_USAGE
from deploy.stack import Broker, Stack, free_port
from runtime.budget import BudgetClient, BudgetRefused
from tests.conftest import _create_database, _drop_database, coworker_row, ticket

RUN = uuid.uuid4().hex[:6]
EDGE, NESTED, SKILLED, FREED, UNPRICED = f"edge-{RUN}", f"nested-{RUN}", f"skilled-{RUN}", f"freed-{RUN}", f"unpriced-{RUN}"
COWORKER = f"capped-{RUN}"
MODEL = "edge-model"  # priced by configuration: $0.001 a token, so 10 tokens is one cent


@dataclass
class Billing:
    bootstrap: str
    database_url: str
    stack: Stack


@pytest.fixture(scope="module")
def billing(tmp_path_factory, server_url, workforce) -> Iterator[Billing]:  # noqa: ANN001
    var = tmp_path_factory.mktemp("billing")
    # A broker of its own: the e2e stack's billing (same consumer group) must not share this work.
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker = Broker(bootstrap=external) if external else Broker.start(port=free_port(), log=var / "broker.log")
    config = var / "budgets.yaml"
    config.write_text(yaml.safe_dump({
        "local_models": {MODEL: {"usd_per_million_tokens": 1000}},
        "teams": {
            EDGE: {"budget": {"limit_usd": "0.05", "period": "month"}},
            FREED: {"budget": {"limit_usd": "0.05", "period": "month"}},
            UNPRICED: {"budget": {"limit_usd": "200", "period": "month"}},
            NESTED: {"budget": {"limit_usd": "10", "period": "month"}, "per_ticket_usd": "0.50"},
            SKILLED: {"budget": {"limit_usd": "10", "period": "day"}, "skills": {"password-reset": {"limit_usd": "0.02", "period": "week"}}},
        },
    }))
    database_url = asyncio.run(_create_database(server_url))
    stack = Stack(var=var, services=("billing",), extra_env={"BILLING_CONFIG": str(config), "LOG_LEVEL": "INFO"})
    stack.broker, stack.database_url = broker, database_url
    from runtime.topics import ensure_topics

    asyncio.run(ensure_topics(broker.bootstrap))
    # A coworker whose own budget is 3 cents a month and 2 cents a ticket.
    manifest = workforce["jordan"].model_copy(update={"name": COWORKER, "team": NESTED, "budget": workforce["jordan"].budget.model_copy(update={"monthly_usd": Decimal("0.03"), "per_ticket_usd": Decimal("0.02")})})
    asyncio.run(_produce(broker.bootstrap, COWORKER_STATE.name, [coworker_row(manifest)]))
    service = stack.start_service("billing")
    deadline = time.monotonic() + 120  # its consumer groups join one after another: leases are answered once that one has
    while BUDGET_LEASE_REQUESTED.name not in ((service.status() or {}).get("assigned") or {}):
        assert time.monotonic() < deadline, "billing never joined the lease requests' consumer group"
        time.sleep(0.25)
    yield Billing(broker.bootstrap, database_url, stack)
    for procs in stack.running.values():
        for proc in procs:
            proc.stop()
    if not external:
        broker.stop()
    asyncio.run(_drop_database(server_url, database_url))


async def _produce(bootstrap: str, topic: str, events: list) -> None:  # noqa: ANN001
    from contracts.topics import BY_NAME
    from tests.e2e.conftest import signature

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        records = [(BY_NAME[topic].key(e), codec.encode(e)) for e in events]
        await asyncio.gather(*(producer.send_and_wait(topic, value, key=key, headers=[*codec.HEADERS, *signature(topic, key, value)]) for key, value in records))
    finally:
        await producer.stop()


async def clients(bootstrap: str, n: int) -> list[BudgetClient]:
    started = [BudgetClient(bootstrap, service="triage", call_timeout_s=30) for _ in range(n)]  # generous: a loaded machine answers slowly; this is about money, not speed
    await asyncio.gather(*(c.start() for c in started))
    return started


def usage_of(team: str, ticket_id: str | None, cost: Decimal, leases: list[str], *, coworker: str | None = None, skill: str | None = None, tokens: int = 10, model: str = MODEL, completion: int = 0) -> LlmUsage:
    created = ticket(ticket_id, team=team)
    data = TokenUsage(purpose="tests.call", model=model, provider="local", prompt_tokens=tokens, completion_tokens=completion, cost_usd=cost, ticket_id=ticket_id, coworker=coworker, skill=skill, leases=leases)
    return created.caused(LlmUsage, data, source="/services/triage", actor=Actor.system("triage"))


async def dead_letters(bootstrap: str, ids: set[str], timeout_s: float = 60) -> dict[str, DeadLetter]:
    """The dead letters of the events ``ids`` (waiting for all of them), by event id."""
    consumer = AIOKafkaConsumer(DEADLETTER.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: dict[str, DeadLetter] = {}
    try:
        deadline = time.monotonic() + timeout_s
        while not ids <= found.keys():
            assert time.monotonic() < deadline, f"no dead letter for {sorted(ids - found.keys())}"
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    letter = codec.decode(record.value)
                    if letter.data.original_id in ids:
                        found[letter.data.original_id] = letter.data
    finally:
        await consumer.stop()
    return found


async def booked(database_url: str, team: str, calls: int, timeout_s: float = 60) -> Decimal:
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(int(timeout_s * 10)):
            row = await conn.fetchrow("SELECT count(*) AS n, coalesce(sum(cost_usd), 0) AS cost FROM billing.usage_events WHERE team = $1", team)
            if row["n"] >= calls:
                return row["cost"]
            await asyncio.sleep(0.1)
        raise AssertionError(f"billing booked {row['n']} of {calls} calls of {team}")
    finally:
        await conn.close()


async def test_a_thousand_concurrent_calls_from_two_callers_at_a_budgets_edge_never_overspend(billing: Billing) -> None:
    callers = await clients(billing.bootstrap, 2)
    rng = random.Random(3)
    made: list[LlmUsage] = []
    refusals: list[str] = []

    async def call(client: BudgetClient, i: int) -> None:
        try:
            reservation = await client.reserve(EDGE, coworker=None, ticket_id=f"{EDGE}-{i}", model=MODEL, prompt_tokens=10, completion_tokens=0)
        except BudgetRefused as exc:
            refusals.append(str(exc))
            return
        await asyncio.sleep(rng.random() / 50)  # the model call
        cost = client.commit(reservation, prompt_tokens=10, completion_tokens=0)
        made.append(usage_of(EDGE, f"{EDGE}-{i}", cost, reservation.lease_ids))

    try:
        await asyncio.gather(*(call(callers[i % 2], i) for i in range(1000)))
        assert len(made) + len(refusals) == 1000
        assert sum(u.data.cost_usd for u in made) <= Decimal("0.05"), "the callers overspent"
        assert len(made) == 5, "the budget was used to its last cent (5 calls of 1 cent)"
        assert all("budget team:" + EDGE in r or "no lease" in r for r in refusals)
        await _produce(billing.bootstrap, LLM_USAGE.name, made)
        assert await booked(billing.database_url, EDGE, 5) == Decimal("0.05"), "billing booked exactly the limit"

        await asyncio.sleep(1.1)  # past the callers' memory of the last refusal: billing is asked again
        with pytest.raises(BudgetRefused) as refused:
            await callers[1].reserve(EDGE, coworker=None, ticket_id="one-more", model=MODEL, prompt_tokens=1, completion_tokens=0)
        assert f"budget team:{EDGE} is spent: 0.0500 of 0.05 USD" in str(refused.value)
    finally:
        await asyncio.gather(*(c.stop() for c in callers))


async def test_the_coworkers_budget_and_its_per_ticket_cap_both_hold(billing: Billing) -> None:
    (caller,) = await clients(billing.bootstrap, 1)
    outcomes: list[str] = []

    async def call(ticket_id: str) -> None:
        try:
            reservation = await caller.reserve(NESTED, coworker=COWORKER, ticket_id=ticket_id, model=MODEL, prompt_tokens=10, completion_tokens=0)
        except BudgetRefused as exc:
            outcomes.append(str(exc).split(" is spent")[0])
            return
        cost = caller.commit(reservation, prompt_tokens=10, completion_tokens=0)
        await _produce(billing.bootstrap, LLM_USAGE.name, [usage_of(NESTED, ticket_id, cost, reservation.lease_ids, coworker=COWORKER)])
        outcomes.append("made")

    try:
        for _ in range(3):
            await call(f"{NESTED}-T1")
        for _ in range(2):
            await call(f"{NESTED}-T2")
        assert outcomes == ["made", "made", f"budget ticket:{NESTED}/{NESTED}-T1", "made", f"budget coworker:{COWORKER}"]
        assert await booked(billing.database_url, NESTED, 3) == Decimal("0.03")
    finally:
        await caller.stop()


async def test_a_skills_budget_holds_inside_a_larger_team_budget(billing: Billing) -> None:
    (caller,) = await clients(billing.bootstrap, 1)
    try:
        results = []
        for i in range(4):
            try:
                reservation = await caller.reserve(SKILLED, coworker=None, skill="password-reset", ticket_id=f"{SKILLED}-{i}", model=MODEL, prompt_tokens=10, completion_tokens=0)
                caller.commit(reservation, prompt_tokens=10, completion_tokens=0)
                results.append("made")
            except BudgetRefused as exc:
                results.append(str(exc).split(" is spent")[0])
        assert results == ["made", "made", f"budget skill:{SKILLED}/password-reset", f"budget skill:{SKILLED}/password-reset"]
        other = await caller.reserve(SKILLED, coworker=None, skill=None, ticket_id=f"{SKILLED}-x", model=MODEL, prompt_tokens=10, completion_tokens=0)
        assert other is not None, "the team's own budget still has room for other work"
    finally:
        await caller.stop()


async def test_what_a_caller_did_not_spend_goes_back_to_the_budget_when_it_returns_its_lease(billing: Billing) -> None:
    first, second = await clients(billing.bootstrap, 2)
    try:
        reservation = await first.reserve(FREED, coworker=None, ticket_id=f"{FREED}-1", model=MODEL, prompt_tokens=10, completion_tokens=0)
        first.commit(reservation, prompt_tokens=10, completion_tokens=0)
        with pytest.raises(BudgetRefused, match=f"budget team:{FREED} is spent: 0.0000 of 0.05 USD in .* \\(0.0500 leased to calls in flight\\)"):
            await second.reserve(FREED, coworker=None, ticket_id=f"{FREED}-2", model=MODEL, prompt_tokens=10, completion_tokens=0)
        await first.stop()  # gives back the lease: 1 cent spent on it, 4 free again
        for _ in range(100):
            await asyncio.sleep(0.2)
            try:
                reservation = await second.reserve(FREED, coworker=None, ticket_id=f"{FREED}-2", model=MODEL, prompt_tokens=10, completion_tokens=0)
                break
            except BudgetRefused:
                continue
        else:
            raise AssertionError("the returned money never came back")
        assert second.leases()[0].grant.amount_usd == Decimal("0.04"), "what the first caller spent stays counted until it is booked"
    finally:
        await second.stop()


async def test_usage_of_a_model_with_no_price_is_dead_lettered_and_spends_no_budget(billing: Billing) -> None:
    # Issue 14: 10M tokens of a model nobody prices, once priced by a high default: $600 of a $200 budget.
    attack = usage_of(UNPRICED, f"{UNPRICED}-1", Decimal(0), [], model="acme/secret-model-9", tokens=0, completion=10_000_000)
    absurd = usage_of(UNPRICED, f"{UNPRICED}-2", Decimal(0), [], tokens=3_000_000)  # a local model, no window known: 2,097,152 at most
    fine = usage_of(UNPRICED, f"{UNPRICED}-3", Decimal("0.01"), [])
    await _produce(billing.bootstrap, LLM_USAGE.name, [attack, absurd, fine])
    letters = await dead_letters(billing.bootstrap, {attack.id, absurd.id})
    assert (letters[attack.id].reason_code, letters[attack.id].service) == ("unknown_model", "billing")
    assert letters[attack.id].reason.startswith("model 'acme/secret-model-9' has no price in billing's price table")
    assert letters[absurd.id].reason_code == "schema" and f"prompt_tokens 3,000,000 is absurd for {MODEL}" in letters[absurd.id].reason
    assert await booked(billing.database_url, UNPRICED, 1) == Decimal("0.01"), "only the priced call is booked"
    conn = await asyncpg.connect(billing.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM billing.usage_events WHERE team = $1", UNPRICED) == 1
    finally:
        await conn.close()


async def test_a_call_to_a_model_with_no_price_is_refused_before_it_is_made(billing: Billing) -> None:
    (caller,) = await clients(billing.bootstrap, 1)
    try:
        with pytest.raises(BudgetRefused, match="model 'acme/secret-model-9' has no price in billing's price table"):
            await caller.reserve(UNPRICED, coworker=None, ticket_id=f"{UNPRICED}-4", model="acme/secret-model-9", prompt_tokens=10, completion_tokens=0)
        await asyncio.sleep(1.1)  # past the caller's memory of that refusal, which holds for its whole scope
        assert await caller.reserve(UNPRICED, coworker=None, ticket_id=f"{UNPRICED}-5", model=MODEL, prompt_tokens=10, completion_tokens=0) is not None
    finally:
        await caller.stop()
