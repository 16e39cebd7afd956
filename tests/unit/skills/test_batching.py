"""How the skills service works a consumed batch: tickets at once, one ticket's events in order,
and a failure raised only once every ticket is done."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import asyncpg
import pytest

from services.skills.batching import by_ticket, first_failure, run_per_ticket, ticket_of


def event(ticket: str | None, n: int, correlation: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(id=f"e{n}", data=SimpleNamespace(ticket_id=ticket), correlation_id=correlation)


def test_a_batch_is_split_per_ticket_in_consumed_order() -> None:
    batch = [event("T1", 1), event("T2", 2), event("T1", 3), event("T3", 4), event("T2", 5)]
    assert [[e.id for e in g] for g in by_ticket(batch)] == [["e1", "e3"], ["e2", "e5"], ["e4"]]


def test_an_event_without_a_ticket_id_goes_by_its_correlation_id_else_alone() -> None:
    batch = [event(None, 1, "T9"), event("T9", 2), event(None, 3), event(None, 4)]
    assert [[e.id for e in g] for g in by_ticket(batch)] == [["e1", "e2"], ["e3"], ["e4"]]
    assert ticket_of(event(None, 3)) != ticket_of(event(None, 4))


def test_an_infrastructure_fault_is_raised_before_a_bad_event() -> None:
    bad, down = ValueError("bad input"), asyncpg.PostgresConnectionError("down")
    assert first_failure([None, bad, down]) is down, "the batch is retried as is, not taken apart as poison"
    assert first_failure([None, bad, None]) is bad
    assert first_failure([None, None]) is None


async def test_tickets_overlap_while_one_tickets_events_stay_in_order() -> None:
    log: list[str] = []
    running = {"now": 0, "most": 0}

    async def handle(e: SimpleNamespace) -> None:
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        log.append(f"start {e.id}")
        await asyncio.sleep(0.01)
        log.append(f"end {e.id}")
        running["now"] -= 1

    batch = [event("T1", 1), event("T2", 2), event("T1", 3), event("T3", 4)]
    await run_per_ticket(batch, handle, limit=8)
    assert running["most"] == 3, "the three tickets ran at once"
    assert log.index("end e1") < log.index("start e3"), "T1's second event waited for its first"


async def test_no_more_tickets_than_the_limit_run_at_once() -> None:
    running = {"now": 0, "most": 0}

    async def handle(e: SimpleNamespace) -> None:
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        await asyncio.sleep(0.005)
        running["now"] -= 1

    await run_per_ticket([event(f"T{i}", i) for i in range(10)], handle, limit=3)
    assert running["most"] == 3


async def test_a_failing_ticket_lets_the_others_finish_then_the_batch_fails() -> None:
    done: list[str] = []

    async def handle(e: SimpleNamespace) -> None:
        if e.id == "e1":
            raise RuntimeError("T1 broke")
        await asyncio.sleep(0.01)  # still running when T1 fails: must not be cancelled
        done.append(e.id)

    batch = [event("T1", 1), event("T2", 2), event("T1", 3), event("T3", 4)]
    with pytest.raises(RuntimeError, match="T1 broke"):
        await run_per_ticket(batch, handle, limit=8)
    assert sorted(done) == ["e2", "e4"], "the other tickets finished; T1's later event did not run after its failure"
