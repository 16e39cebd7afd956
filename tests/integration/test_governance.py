"""The audit trail in a real PostgreSQL: every event once, in order, and nothing can be changed."""

from __future__ import annotations

import json

import asyncpg
import pytest

from runtime.db import Database
from services.governance.audit import record
from tests.conftest import ticket
from tests.unit.test_contracts import one_of_each


@pytest.fixture
async def db(service_database) -> Database:  # noqa: ANN001
    return await service_database("governance")


async def test_every_event_is_recorded_once_in_the_order_it_arrived(db: Database) -> None:
    events = one_of_each()
    async with db.pool.acquire() as conn:
        assert await record(conn, events) == len(events)
        assert await record(conn, events) == 0  # redelivered
        assert await record(conn, [events[0], events[0], ticket()]) == 1  # a duplicate inside one batch
    ids = [r["event_id"] for r in await db.pool.fetch("SELECT event_id FROM governance.audit_events ORDER BY seq")]
    assert ids[: len(events)] == [e.id for e in events]
    assert len(ids) == len(set(ids)) == len(events) + 1


async def test_the_audit_row_holds_the_whole_event(db: Database) -> None:
    created = ticket(title="printer broken")
    async with db.pool.acquire() as conn:
        await record(conn, [created])
    row = await db.pool.fetchrow("SELECT type, team, actor, correlation_id, event->'data'->>'title' AS title FROM governance.audit_events")
    assert dict(row) == {"type": "ticket.created", "team": "it-support", "actor": "system:tests", "correlation_id": created.correlation_id, "title": "printer broken"}


@pytest.mark.parametrize("statement", ["UPDATE governance.audit_events SET team = 'x'", "DELETE FROM governance.audit_events", "TRUNCATE governance.audit_events"])
async def test_the_audit_trail_is_append_only(db: Database, statement: str) -> None:
    async with db.pool.acquire() as conn:
        await record(conn, [ticket()])
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute(statement)
    assert await db.pool.fetchval("SELECT count(*) FROM governance.audit_events") == 1


async def test_a_record_taken_as_received_is_stored_byte_for_byte_and_verifies(db: Database, database_url: str) -> None:
    from contracts import codec
    from services.governance.audit import connect_as_governance, verify

    created = ticket(title="Ünïcode \"quoted\" — 漢字 😀")
    # Bytes as a producer other than pydantic might write them: spacing, key order, escapes.
    sent = json.loads(codec.encode(created))
    value = json.dumps({"data": sent.pop("data"), **sent}, indent=1).encode()  # escaped, spaced, data first
    assert value != codec.encode(created) and b"\\u00dc" in value
    received = codec.decode_envelope(value, type(created))
    pool = await connect_as_governance(database_url, "governance", max_size=2)
    try:
        async with pool.acquire() as conn:
            assert await record(conn, [received]) == 1
            assert await record(conn, [received]) == 0  # redelivered
            row = await conn.fetchrow("SELECT received, event->'data'->>'title' AS title, event_id FROM audit_events")
            assert row["received"].encode() == value, "stored exactly as received"
            assert (row["title"], row["event_id"]) == (created.data.title, created.id), "and queryable as the event"
            result = await verify(conn)
    finally:
        await pool.close()
    assert result.ok and result.records == 1, result.first_break
