"""The first content seen under each event id, so a second, different event under the same id is a
conflict (dead-lettered and so audited), never merged with the first or acted on as if it were it.

Kept by the first consumer of each topic whose ids are chosen outside the services (tickets and
answers from upstream, people's commands and approvals); the services' own events take ids derived
from their cause and are signed, so they cannot collide unnoticed. A redelivery, or a writer that
sends the same event again at another ``time``, is the same content: the digest leaves ``time`` out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, TypeVar

import asyncpg

from contracts.envelope import Envelope

E = TypeVar("E", bound=Envelope[Any])

#: The table each keeping service's schema has (a migration of its own: ``seen_events.sql``).
TABLE = "seen_events"
#: How long an id is remembered: longer than any guarded topic keeps its records (ticket.rerouted,
#: 365 days), so Kafka cannot deliver one again after it is forgotten.
KEEP_DAYS = 400


def digest(event: Envelope[Any]) -> bytes:
    return hashlib.sha256(event.model_dump_json(by_alias=True, exclude={"time"}).encode()).digest()


async def conflicts(pool: asyncpg.Pool, events: Sequence[E]) -> dict[int, str]:
    """The positions in ``events`` of those whose id was first seen with other content, each with
    why (an id used again in the same batch counts: the first use wins); the rest are remembered."""
    digests = [digest(event) for event in events]
    first: dict[str, bytes] = {}
    for event, d in zip(events, digests, strict=True):
        first.setdefault(event.id, d)
    async with pool.acquire() as conn:
        await conn.execute(
            f"INSERT INTO {TABLE} (event_id, digest) SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT (event_id) DO NOTHING",
            list(first),
            list(first.values()),
        )
        stored = {r["event_id"]: r["digest"] for r in await conn.fetch(f"SELECT event_id, digest FROM {TABLE} WHERE event_id = ANY($1::text[])", list(first))}
    return {
        i: f"event id {event.id[:100]!r} was first used with other content: a conflict, not a redelivery; only the first is acted on"
        for i, (event, d) in enumerate(zip(events, digests, strict=True))
        if stored.get(event.id, first[event.id]) != d
    }


async def forget_old(pool: asyncpg.Pool, *, keep_days: int = KEEP_DAYS) -> int:
    """Delete ids first seen more than ``keep_days`` ago; how many."""
    async with pool.acquire() as conn:
        done = await conn.execute(f"DELETE FROM {TABLE} WHERE seen_at < now() - make_interval(days => $1)", keep_days)
    return int(done.split()[-1])
