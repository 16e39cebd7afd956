"""Coworkers in governance's PostgreSQL: load and save lifecycle records, remember processed commands."""

from __future__ import annotations

import json

import asyncpg

from contracts import codec
from contracts.coworkers import CoworkerManifest, LifecycleState
from contracts.envelope import Envelope
from services.governance.lifecycle import Coworker


async def load(conn: asyncpg.Connection, name: str) -> Coworker | None:
    """The coworker, locked for this transaction (also when it does not exist yet)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('coworker:' || $1, 0))", name)
    row = await conn.fetchrow("SELECT * FROM coworkers WHERE name = $1", name)
    if row is None:
        return None
    versions = await conn.fetch("SELECT version, manifest FROM coworker_versions WHERE name = $1", name)
    return _coworker(row, {v["version"]: CoworkerManifest.model_validate_json(v["manifest"]) for v in versions})


async def load_all(conn: asyncpg.Connection) -> dict[str, Coworker]:
    rows = await conn.fetch("SELECT * FROM coworkers ORDER BY name")
    versions: dict[str, dict[int, CoworkerManifest]] = {}
    for v in await conn.fetch("SELECT name, version, manifest FROM coworker_versions"):
        versions.setdefault(v["name"], {})[v["version"]] = CoworkerManifest.model_validate_json(v["manifest"])
    return {r["name"]: _coworker(r, versions.get(r["name"], {})) for r in rows}


def _coworker(row: asyncpg.Record, versions: dict[int, CoworkerManifest]) -> Coworker:
    return Coworker(row["name"], LifecycleState(row["state"]), versions, row["active_version"], row["draft_version"], row["revision"], row["changed_at"])


async def save(conn: asyncpg.Connection, coworker: Coworker, *, by: str, new_version: int | None) -> None:
    await conn.execute(
        "INSERT INTO coworkers (name, state, active_version, draft_version, revision, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()))"
        " ON CONFLICT (name) DO UPDATE SET state = excluded.state, active_version = excluded.active_version,"
        " draft_version = excluded.draft_version, revision = excluded.revision, changed_at = excluded.changed_at, changed_by = excluded.changed_by",
        coworker.name,
        coworker.state.value,
        coworker.active_version,
        coworker.draft_version,
        coworker.revision,
        by,
        coworker.changed_at,
    )
    if new_version is not None:
        await conn.execute(
            "INSERT INTO coworker_versions (name, version, manifest, applied_by) VALUES ($1, $2, $3, $4)",
            coworker.name,
            new_version,
            coworker.versions[new_version].model_dump_json(),
            by,
        )


async def replay(conn: asyncpg.Connection, command_id: str) -> list[Envelope] | None:
    stored = await conn.fetchval("SELECT events FROM coworker_commands WHERE command_id = $1", command_id)
    return None if stored is None else [codec.decode(e.encode()) for e in json.loads(stored)]


async def remember(conn: asyncpg.Connection, command_id: str, events: list[Envelope]) -> None:
    await conn.execute(
        "INSERT INTO coworker_commands (command_id, events) VALUES ($1, $2)",
        command_id,
        json.dumps([codec.encode(e).decode() for e in events]),
    )
