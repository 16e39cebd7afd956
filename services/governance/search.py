"""Search the audit trail by coworker, team, system, action type, outcome and time; export what is
found as JSON Lines or Parquet for auditors and analysts (with each record's chain position and
hash, so an export can be matched against the chain later)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

#: What happened, per type of record: a step done or failed, a decision allowed or denied, ...
OUTCOME_SQL = """CASE type
    WHEN 'skill.step' THEN event->'data'->>'status'
    WHEN 'policy.allowed' THEN 'allowed' WHEN 'policy.denied' THEN 'denied'
    WHEN 'approval.granted' THEN 'granted' WHEN 'approval.rejected' THEN 'rejected'
    WHEN 'skill.completed' THEN 'completed' WHEN 'skill.failed' THEN 'failed'
    WHEN 'ticket.escalated' THEN 'escalated' WHEN 'ticket.resolved' THEN 'resolved'
    WHEN 'coworker.changed' THEN 'changed' WHEN 'coworker.rejected' THEN 'rejected'
    WHEN 'deadletter' THEN 'dead-lettered'
    END"""

OUTCOMES = ("done", "failed", "allowed", "denied", "granted", "rejected", "completed", "escalated", "resolved", "changed", "dead-lettered")


@dataclass(frozen=True)
class Query:
    coworker: str | None = None
    team: str | None = None
    system: str | None = None
    type: str | None = None  # an event type, or a prefix ending in '.' or '*' (``policy.*``)
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    ticket: str | None = None
    limit: int | None = None

    def sql(self) -> tuple[str, list[Any]]:
        where, args = [], []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if self.coworker:
            where.append(f"(event->'data'->>'coworker' = {arg(self.coworker)} OR actor = 'coworker:' || ${len(args)})")
        if self.team:
            where.append(f"team = {arg(self.team)}")
        if self.system:
            where.append(f"event->'data'->>'system' = {arg(self.system)}")
        if self.type:
            if self.type.endswith(("*", ".")):
                where.append(f"type LIKE {arg(self.type.rstrip('*') + '%')}")
            else:
                where.append(f"type = {arg(self.type)}")
        if self.outcome:
            if self.outcome not in OUTCOMES:
                raise ValueError(f"outcome {self.outcome!r} is not one of: {', '.join(OUTCOMES)}")
            where.append(f"({OUTCOME_SQL}) = {arg(self.outcome)}")
        if self.since:
            where.append(f"event_time >= {arg(self.since)}")
        if self.until:
            where.append(f"event_time < {arg(self.until)}")
        if self.ticket:
            where.append(f"correlation_id = {arg(self.ticket)}")
        sql = (
            f"SELECT seq, team, team_seq, encode(hash, 'hex') AS hash, encode(prev_hash, 'hex') AS prev_hash, event_id, type, event_time, recorded_at,"
            f" actor, correlation_id AS ticket_id, event->'data'->>'coworker' AS coworker, event->'data'->>'system' AS system, {OUTCOME_SQL} AS outcome, event"
            f" FROM audit_events {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY event_time, seq"
        )
        if self.limit:
            sql += f" LIMIT {int(self.limit)}"
        return sql, args


async def rows(conn: asyncpg.Connection, query: Query, *, prefetch: int = 2000) -> AsyncIterator[dict[str, Any]]:
    sql, args = query.sql()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for r in conn.cursor(sql, *args, prefetch=prefetch):
            row = dict(r)
            row["event"] = json.loads(row["event"])
            yield row


async def search(conn: asyncpg.Connection, query: Query) -> list[dict[str, Any]]:
    return [r async for r in rows(conn, query)]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


async def export_jsonl(conn: asyncpg.Connection, query: Query, path: Path) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as out:
        async for row in rows(conn, query):
            out.write(json.dumps(_jsonable(row), ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
    return n


async def export_parquet(conn: asyncpg.Connection, query: Query, path: Path, *, row_group: int = 50_000) -> int:
    """One flat table: the record's columns, and the whole event as JSON text in ``event``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("seq", pa.int64()), ("team", pa.string()), ("team_seq", pa.int64()), ("hash", pa.string()), ("prev_hash", pa.string()),
            ("event_id", pa.string()), ("type", pa.string()), ("event_time", pa.timestamp("us", tz="UTC")), ("recorded_at", pa.timestamp("us", tz="UTC")),
            ("actor", pa.string()), ("ticket_id", pa.string()), ("coworker", pa.string()), ("system", pa.string()), ("outcome", pa.string()), ("event", pa.string()),
        ]
    )  # fmt: skip
    n = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        page: list[dict[str, Any]] = []
        async for row in rows(conn, query):
            row["event"] = json.dumps(row["event"], ensure_ascii=False, separators=(",", ":"))
            page.append(row)
            if len(page) >= row_group:
                writer.write_table(pa.Table.from_pylist(page, schema=schema))
                n, page = n + len(page), []
        if page or n == 0:
            writer.write_table(pa.Table.from_pylist(page, schema=schema))
            n += len(page)
    return n
