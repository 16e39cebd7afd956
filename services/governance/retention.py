"""Retention of the audit trail: per team, with legal holds. Run by an operator as the tables' owner
(``workforce audit retention apply``), never by the service, whose role cannot delete.

Retention removes the oldest records of a team's chain, as a prefix: up to the first record still
inside its team's retention, or held, and never the newest record (the head the next one links to).
Each removal leaves an anchor, the position and hash of the last removed record, and verification
starts there, so the rest of the chain still proves itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.governance.audit import team_lock


async def set_retention(conn: asyncpg.Connection, team: str, keep_days: int, *, by: str) -> None:
    if keep_days < 1:
        raise ValueError(f"keep_days must be 1 or more, got {keep_days}")
    await conn.execute("INSERT INTO audit_retention (team, keep_days, set_by) VALUES ($1, $2, $3)", team, keep_days, by)


async def place_hold(conn: asyncpg.Connection, team: str, *, ticket: str | None, reason: str, by: str) -> int:
    if not reason.strip():
        raise ValueError("a legal hold needs a reason (the matter it is for)")
    return await conn.fetchval("INSERT INTO audit_legal_holds (team, correlation_id, reason, placed_by) VALUES ($1, $2, $3, $4) RETURNING hold_id", team, ticket, reason, by)


async def release_hold(conn: asyncpg.Connection, hold_id: int, *, by: str) -> bool:
    status = await conn.execute("UPDATE audit_legal_holds SET released_by = $2, released_at = clock_timestamp() WHERE hold_id = $1 AND released_at IS NULL", hold_id, by)
    return status.endswith(" 1")


async def policies(conn: asyncpg.Connection, default_days: int) -> dict[str, int]:
    """Each team's retention in days: its newest setting, else the default."""
    teams = [r["team"] for r in await conn.fetch("SELECT DISTINCT team FROM audit_events")]
    set_ = {r["team"]: r["keep_days"] for r in await conn.fetch("SELECT DISTINCT ON (team) team, keep_days FROM audit_retention ORDER BY team, set_at DESC")}
    return {t: set_.get(t, default_days) for t in sorted(set(teams) | set(set_))}


@dataclass(frozen=True)
class Applied:
    team: str
    keep_days: int
    removed: int
    through_seq: int | None
    held_from: int | None  # the first held record that stopped removal, if one did


async def apply(conn: asyncpg.Connection, *, default_days: int, by: str, now: datetime) -> list[Applied]:
    results = []
    for team, keep_days in (await policies(conn, default_days)).items():
        cutoff = now - timedelta(days=keep_days)
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", team_lock(team))
            head = await conn.fetchval("SELECT max(team_seq) FROM audit_events WHERE team = $1", team)
            if head is None:
                continue
            young = await conn.fetchval("SELECT min(team_seq) FROM audit_events WHERE team = $1 AND event_time >= $2", team, cutoff)
            held = await conn.fetchval(
                "SELECT min(a.team_seq) FROM audit_events a WHERE a.team = $1 AND EXISTS ("
                " SELECT 1 FROM audit_legal_holds h WHERE h.released_at IS NULL AND h.team = a.team AND (h.correlation_id IS NULL OR h.correlation_id = a.correlation_id))",
                team,
            )
            through = min(x - 1 for x in (head, young, held) if x is not None)
            start = await conn.fetchval("SELECT coalesce(max(through_seq), 0) FROM audit_retention_anchors WHERE team = $1", team)
            if through <= start:
                results.append(Applied(team, keep_days, 0, None, held))
                continue
            through_hash = await conn.fetchval("SELECT hash FROM audit_events WHERE team = $1 AND team_seq = $2", team, through)
            await conn.execute("SET LOCAL workforce.audit_retention = 'apply'")
            status = await conn.execute("DELETE FROM audit_events WHERE team = $1 AND team_seq <= $2", team, through)
            removed = int(status.split()[-1])
            await conn.execute("INSERT INTO audit_retention_anchors (team, through_seq, through_hash, removed, applied_by) VALUES ($1, $2, $3, $4, $5)", team, through, through_hash, removed, by)
            results.append(Applied(team, keep_days, removed, through, held if held is not None and held - 1 == through else None))
    return results
