"""Write events into the audit trail: one COPY per batch, duplicates (by event id) ignored."""

from __future__ import annotations

from typing import Any

import asyncpg

from contracts import codec
from contracts.envelope import Envelope

COLUMNS = ("ord", "event_id", "type", "source", "subject", "team", "actor", "correlation_id", "causation_id", "schema_version", "event_time", "event")


def row(ord_: int, event: Envelope[Any]) -> tuple[Any, ...]:
    return (
        ord_,
        event.id,
        event.type,
        event.source,
        event.subject,
        event.team,
        str(event.actor),
        event.correlation_id,
        event.causation_id,
        event.schema_version,
        event.time,
        codec.encode(event).decode(),
    )


async def record(conn: asyncpg.Connection, events: list[Envelope[Any]]) -> int:
    """Append ``events`` in order, skipping ids already recorded; return how many were new."""
    async with conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS audit_incoming ("
            " ord int, event_id text, type text, source text, subject text, team text, actor text,"
            " correlation_id text, causation_id text, schema_version int, event_time timestamptz, event jsonb"
            ") ON COMMIT DELETE ROWS"
        )
        await conn.copy_records_to_table("audit_incoming", records=[row(i, e) for i, e in enumerate(events)], columns=COLUMNS)
        status = await conn.execute(
            "INSERT INTO audit_events (event_id, type, source, subject, team, actor, correlation_id, causation_id, schema_version, event_time, event)"
            " SELECT event_id, type, source, subject, team, actor, correlation_id, causation_id, schema_version, event_time, event"
            " FROM audit_incoming ORDER BY ord"
            " ON CONFLICT (event_id) DO NOTHING"
        )
    return int(status.split()[-1])
