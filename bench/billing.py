"""Billing's costs, measured: what budget enforcement adds to each model call, and how many usage
events per second billing aggregates.

1. Hot path: reserve + commit against a lease in hand (what every call pays), p50/p99 over 100,000
   calls, against a baseline measured in the same run: reading the compacted ``budget.state`` table
   (the check triage made before leases). Goal: < 0.5 ms p50.
2. Cold path: the first call of a kind waits for a lease from billing, one round trip through Kafka
   (the real billing service, broker and PostgreSQL).
3. Aggregation: usage events/s booked by ``ledger.book`` in 5,000-event batches straight into
   PostgreSQL, and end to end through the billing service (produce N events, wait until booked).
4. Price cross-check: of every model in the price table, the share whose cost equals litellm's own.

Writes bench/results/billing.json and billing.md. Uses ``DATABASE_URL`` (a server the bench may
create databases on) or the embedded PostgreSQL; starts its own broker and billing service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts import codec  # noqa: E402
from contracts.envelope import Actor  # noqa: E402
from contracts.events import BudgetState, BudgetStatus, LeaseGrant, LlmUsage, Price, TokenUsage  # noqa: E402
from contracts.topics import BUDGET_STATE, LLM_USAGE  # noqa: E402
from runtime.budget import BudgetClient, Lease, _Slot  # noqa: E402
from runtime.table import TopicTable  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def hot_path(n: int) -> dict[str, float]:
    client = BudgetClient("unused:9092", service="bench", call_timeout_s=10)
    price = Price(usd_per_input_token=Decimal("0.00000015"), usd_per_output_token=Decimal("0.0000006"))
    grant = LeaseGrant(lease_id="l", holder=client.holder, kind="scope", budgets=["team:t"], amount_usd=Decimal(10**6), expires_at=datetime.now(UTC), ticket_cap_usd=Decimal("0.5"), prices={"m": price})
    ticket_grant = grant.model_copy(update={"lease_id": "t", "kind": "ticket", "ticket_cap_usd": None})
    client._slots[("scope", "t", "c", None, None)] = _Slot([Lease(grant, "t", 10**12)])  # noqa: SLF001
    client._slots[("ticket", "t", "c", None, "T-1")] = _Slot([Lease(ticket_grant, "t", 10**12)])  # noqa: SLF001
    leased = []
    for _ in range(n):
        started = time.perf_counter()
        r = client.try_reserve("t", coworker="c", skill=None, ticket_id="T-1", model="m", prompt_tokens=1200, completion_tokens=200)
        client.commit(r, prompt_tokens=300, completion_tokens=40)
        leased.append((time.perf_counter() - started) * 1e6)
    # Baseline: the budget.state lookup triage did before (a dict read and a comparison).
    table = TopicTable("unused:9092", BUDGET_STATE, keyring=None)
    status = BudgetStatus(budget="coworker:c", period=datetime.now(UTC).strftime("%Y-%m"), spent_usd=Decimal(1), limit_usd=Decimal(100))
    table.rows["coworker:c"] = BudgetState.create(status, source="/b", team="t", actor=Actor.system("b"), correlation_id="b", subject="coworker:c")
    base = []
    for _ in range(n):
        started = time.perf_counter()
        row = table.get("coworker:c")
        _ = row is not None and row.data.period == datetime.now(UTC).strftime("%Y-%m") and row.data.spent_usd >= row.data.limit_usd
        base.append((time.perf_counter() - started) * 1e6)
    return {
        "calls": n,
        "reserve_commit_p50_us": round(statistics.median(leased), 2),
        "reserve_commit_p99_us": round(pct(leased, 0.99), 2),
        "baseline_state_check_p50_us": round(statistics.median(base), 2),
        "ratio_p50_vs_baseline": round(statistics.median(leased) / statistics.median(base), 2),
        "goal_p50_us": 500.0,
        "met": statistics.median(leased) < 500.0,
    }


def price_agreement() -> dict[str, object]:
    from services.billing.prices import PriceTable

    table = PriceTable.load()
    agree = disagree = unknown = 0
    worst: list[tuple[str, str, str]] = []
    for model in table.prices:
        priced = table.price(model, 12_345, 678, 1_000)
        if priced.litellm_cost_usd is None:
            unknown += 1
        elif "price_mismatch" in priced.flags:
            disagree += 1
            if len(worst) < 10:
                worst.append((model, str(priced.cost_usd), str(priced.litellm_cost_usd)))
        else:
            agree += 1
    return {"models": len(table.prices), "agree_with_litellm": agree, "disagree": disagree, "litellm_cannot_price": unknown, "examples_of_disagreement": worst, "price_version": table.version}


async def book_rate(database_url: str, events: int) -> float:
    from services.billing.prices import PriceTable
    from tests.conftest import ticket

    from runtime.db import Database
    from services.billing.ledger import book

    db = Database(database_url, "billing", Path(__file__).resolve().parents[1] / "services" / "billing" / "migrations", pool_size=2)
    await db.open()
    prices = PriceTable.load()
    batch = [_usage(ticket(team="bench"), i) for i in range(events)]
    started = time.perf_counter()
    async with db.pool.acquire() as conn:
        for i in range(0, events, 5000):
            await book(conn, batch[i : i + 5000], prices)
    elapsed = time.perf_counter() - started
    await db.close()
    return events / elapsed


def _usage(created, i: int) -> LlmUsage:  # noqa: ANN001
    data = TokenUsage(purpose="bench", model=("gpt-4o-mini", "text-embedding-3-small", "claude-haiku-4-5")[i % 3], provider="bench", prompt_tokens=100 + i % 900, completion_tokens=i % 200, cost_usd=Decimal(0), ticket_id=created.data.ticket_id, coworker=("ava", "ben", "cy")[i % 3], skill=("password-reset", None)[i % 2])
    return created.caused(LlmUsage, data, source="/bench", actor=Actor.system("bench"), ordinal=i)


async def service_numbers(stack, events: int, leases: int) -> dict[str, float]:  # noqa: ANN001
    import asyncpg
    from aiokafka import AIOKafkaProducer

    from tests.conftest import ticket

    team = f"bench-{uuid.uuid4().hex[:6]}"
    client = BudgetClient(stack.broker.bootstrap, service="triage", call_timeout_s=10)
    await client.start()
    for _ in range(12):  # billing's consumer groups join the broker first (seconds, once): not a lease's cost
        try:
            client.release(await client.reserve(team, coworker="warm-up", model="gpt-4o-mini", prompt_tokens=10, completion_tokens=0))
            break
        except Exception:
            continue
    round_trips = []
    for i in range(leases):  # a new scope each time: every reserve waits for a grant
        started = time.perf_counter()
        r = await client.reserve(team, coworker=f"c{i}", model="gpt-4o-mini", prompt_tokens=1000, completion_tokens=100)
        round_trips.append((time.perf_counter() - started) * 1000)
        client.release(r)
    await client.stop()
    producer = AIOKafkaProducer(bootstrap_servers=stack.broker.bootstrap, acks="all", linger_ms=5, max_batch_size=512 * 1024)
    await producer.start()
    batch = [_usage(ticket(team=team), i) for i in range(events)]
    started = time.perf_counter()
    for i in range(0, events, 2000):  # the producer's buffer holds a few thousand at a time
        futures = [await producer.send(LLM_USAGE.name, codec.encode(e), key=team.encode()) for e in batch[i : i + 2000]]
        await asyncio.gather(*futures)
    await producer.stop()
    conn = await asyncpg.connect(stack.database_url)
    while await conn.fetchval("SELECT count(*) FROM billing.usage_events WHERE team = $1", team) < events:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    await conn.close()
    return {"lease_round_trip_p50_ms": round(statistics.median(round_trips), 2), "lease_round_trip_p99_ms": round(pct(round_trips, 0.99), 2), "lease_requests": leases,
            "service_events": events, "service_events_per_s": round(events / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--leases", type=int, default=200)
    args = parser.parse_args()

    import os

    from deploy.stack import ROOT, Broker, Postgres, Stack, free_port
    from tests.conftest import _create_database, _drop_database

    import logging

    logging.getLogger("LiteLLM").setLevel(logging.CRITICAL)  # the price cross-check of every model is noisy
    results: dict[str, object] = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}"}
    results["hot_path"] = hot_path(args.calls)
    print("hot path", results["hot_path"])  # noqa: T201
    results["prices"] = price_agreement()
    print("prices", {k: v for k, v in results["prices"].items() if k != "examples_of_disagreement"})  # noqa: T201

    var = ROOT / ".var" / "bench-billing"
    var.mkdir(parents=True, exist_ok=True)
    server = Postgres.resolve(var) if not os.environ.get("DATABASE_URL") else Postgres(url=os.environ["DATABASE_URL"])
    database_url = asyncio.run(_create_database(server.url))
    results["book_events_per_s"] = round(asyncio.run(book_rate(database_url, args.events)))
    print("ledger.book events/s", results["book_events_per_s"])  # noqa: T201
    asyncio.run(_drop_database(server.url, database_url))

    stack = Stack(var=var, services=("billing",), extra_env={"LOG_LEVEL": "WARNING"})
    stack.broker = Broker.start(port=free_port(), log=var / "broker.log")
    stack.database_url = asyncio.run(_create_database(server.url))
    try:
        from runtime.topics import ensure_topics

        asyncio.run(ensure_topics(stack.broker.bootstrap))
        stack.start_service("billing")
        results["service"] = asyncio.run(service_numbers(stack, args.events, args.leases))
        print("service", results["service"])  # noqa: T201
    finally:
        for procs in stack.running.values():
            for proc in procs:
                proc.stop()
        stack.broker.stop()
        asyncio.run(_drop_database(server.url, stack.database_url))
        server.stop()

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "billing.json").write_text(json.dumps(results, indent=2) + "\n")
    hp, svc, pr = results["hot_path"], results["service"], results["prices"]
    (RESULTS / "billing.md").write_text(
        "# Billing benchmark\n\n"
        f"{results['machine']}, {results['when']}. `python bench/billing.py` (see its docstring for what is measured).\n\n"
        "| measure | result |\n| --- | --- |\n"
        f"| added latency per call, reserve + commit with leases in hand (scope + ticket), p50 / p99 | {hp['reserve_commit_p50_us']} / {hp['reserve_commit_p99_us']} µs (goal < 500 µs p50: {'met' if hp['met'] else 'NOT met'}) |\n"
        f"| baseline in the same run: the budget.state table check, p50 | {hp['baseline_state_check_p50_us']} µs (ratio {hp['ratio_p50_vs_baseline']}x) |\n"
        f"| first call of a kind: lease round trip through Kafka and billing, p50 / p99 | {svc['lease_round_trip_p50_ms']} / {svc['lease_round_trip_p99_ms']} ms ({svc['lease_requests']} requests) |\n"
        f"| usage events/s booked by `ledger.book` (5,000 a batch) | {results['book_events_per_s']:,} |\n"
        f"| usage events/s through the billing service (produce → booked) | {svc['service_events_per_s']:,} ({svc['service_events']:,} events) |\n"
        f"| models in the price table whose cost equals litellm's own | {pr['agree_with_litellm']:,} of {pr['models']:,} ({pr['disagree']} disagree, {pr['litellm_cannot_price']} litellm cannot price) |\n"
    )
    print(f"wrote {RESULTS / 'billing.md'}")  # noqa: T201


if __name__ == "__main__":
    main()
