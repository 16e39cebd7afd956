"""The desk's register of upstream tickets: which of our ticket ids is which ticket in which system,
and whether a question of ours waits on it. Filled by the intake (a ticket taken in) and by the
write-back (a split's parts, created upstream as linked tickets)."""

from __future__ import annotations

import dataclasses
import json

import asyncpg
from pydantic import BaseModel, ConfigDict

from contracts.events import TicketAnswered
from services.desk.writeback.plan import UpstreamTicket

Db = asyncpg.Pool | asyncpg.Connection


class Registered(BaseModel):
    """One of our tickets, and where it lives upstream."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    ticket_id: str
    team: str
    ticket: UpstreamTicket
    parent_id: str | None = None


def in_flow(answer: TicketAnswered, registered: Registered) -> TicketAnswered:
    """An answer in the flow and team of the ticket it was written on, whatever the comment's payload
    would match now; on a split's part (a linked ticket we made), that part's, in its parent's flow."""
    return answer.model_copy(update={
        "team": registered.team,
        "correlation_id": registered.parent_id or registered.ticket_id,
        "subject": registered.ticket_id,
        "data": answer.data.model_copy(update={"ticket_id": registered.ticket_id}),
    })


async def remember(db: Db, registered: Registered) -> None:
    """Record a ticket (again: the first record of a ticket id stands)."""
    t = registered.ticket
    details = {k: v for k, v in dataclasses.asdict(t).items() if k not in ("system", "native_id", "key")}
    await db.execute(
        "INSERT INTO tickets (ticket_id, upstream, system, native_id, key, team, parent_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT DO NOTHING",
        registered.ticket_id, t.ref, t.system, t.native_id, t.key, registered.team, registered.parent_id, json.dumps(details),
    )


def _registered(row: asyncpg.Record | None) -> Registered | None:
    if row is None:
        return None
    ticket = UpstreamTicket(system=row["system"], native_id=row["native_id"], key=row["key"], **json.loads(row["details"]))
    return Registered(ticket_id=row["ticket_id"], team=row["team"], parent_id=row["parent_id"], ticket=ticket)


async def by_id(db: Db, ticket_id: str) -> Registered | None:
    return _registered(await db.fetchrow("SELECT * FROM tickets WHERE ticket_id = $1", ticket_id))


async def by_upstream(db: Db, system: str, native_id: str) -> Registered | None:
    return _registered(await db.fetchrow("SELECT * FROM tickets WHERE system = $1 AND native_id = $2", system, native_id))


async def asked(db: Db, ticket_id: str, question_id: str) -> None:
    """A question of ours now waits on the ticket: the requester's next comment is its answer."""
    await db.execute("UPDATE tickets SET asked_at = coalesce(asked_at, now()), question_id = $2 WHERE ticket_id = $1", ticket_id, question_id)


async def settled(db: Db, ticket_id: str) -> None:
    """Resolved, or with a person: no question of ours waits on it any more."""
    await db.execute("UPDATE tickets SET asked_at = NULL, question_id = NULL WHERE ticket_id = $1", ticket_id)


async def is_asked(db: Db, system: str, native_id: str) -> bool:
    """Whether a question of ours waits on that upstream ticket."""
    return bool(await db.fetchval("SELECT EXISTS (SELECT 1 FROM tickets WHERE asked_at IS NOT NULL AND system = $1 AND native_id = $2)", system, native_id))
