"""Book usage events: store each once, and add only the newly stored ones to the daily aggregates.

Both happen in one statement, so the aggregates always equal the sum of the stored events, whatever
is redelivered and whenever a process dies.
"""

from __future__ import annotations

from datetime import UTC

import asyncpg

from contracts.events import LlmUsage

COLUMNS = ("event_id", "team", "coworker", "skill", "ticket_id", "purpose", "model", "provider", "prompt_tokens", "completion_tokens", "cost_usd", "occurred_at")


def row(event: LlmUsage) -> tuple[object, ...]:
    usage = event.data
    coworker = usage.coworker or (event.actor.id if event.actor.kind == "coworker" else "")
    return (
        event.id,
        event.team,
        coworker,
        usage.skill,
        usage.ticket_id,
        usage.purpose,
        usage.model,
        usage.provider,
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.cost_usd,
        event.time.astimezone(UTC),
    )


async def book(conn: asyncpg.Connection, events: list[LlmUsage]) -> int:
    """Book ``events``; return how many were new (the rest had been booked before)."""
    async with conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS usage_incoming (LIKE usage_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        await conn.copy_records_to_table("usage_incoming", records=[row(e) for e in events], columns=COLUMNS)
        return await conn.fetchval(
            """
            WITH booked AS (
                INSERT INTO usage_events (event_id, team, coworker, skill, ticket_id, purpose, model, provider,
                                          prompt_tokens, completion_tokens, cost_usd, occurred_at)
                SELECT DISTINCT ON (event_id) event_id, team, coworker, skill, ticket_id, purpose, model, provider,
                       prompt_tokens, completion_tokens, cost_usd, occurred_at
                FROM usage_incoming ORDER BY event_id
                ON CONFLICT (event_id) DO NOTHING
                RETURNING team, coworker, (occurred_at AT TIME ZONE 'UTC')::date AS day,
                          prompt_tokens, completion_tokens, cost_usd
            ), added AS (
                INSERT INTO spend_daily AS s (team, coworker, day, calls, prompt_tokens, completion_tokens, cost_usd)
                SELECT team, coworker, day, count(*), sum(prompt_tokens), sum(completion_tokens), sum(cost_usd)
                FROM booked GROUP BY team, coworker, day ORDER BY team, coworker, day
                ON CONFLICT (team, coworker, day) DO UPDATE SET
                    calls = s.calls + excluded.calls,
                    prompt_tokens = s.prompt_tokens + excluded.prompt_tokens,
                    completion_tokens = s.completion_tokens + excluded.completion_tokens,
                    cost_usd = s.cost_usd + excluded.cost_usd
                RETURNING 1
            )
            SELECT count(*) FROM booked
            """
        )
