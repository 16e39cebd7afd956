"""Tickets waiting for their requester's answer: parked in PostgreSQL, resumed by ``ticket.answered``."""

from __future__ import annotations

import asyncpg

from contracts.envelope import ActorKind, derived_event_id
from contracts.events import Question, Requester, TicketAnswered, TicketCreated


class NotTheRequester(Exception):
    """An answer to a question asked of the requester, written by someone else: not applied."""


def not_the_requester(answer: TicketAnswered, requester: Requester) -> str | None:
    """Why ``answer`` does not count for a question asked of ``requester`` (the upstream system's
    authenticated author is its actor), or None when it is theirs."""
    names = {requester.id.lower(), (requester.email or "").lower()} - {""}
    if answer.actor.kind is ActorKind.human and answer.actor.id.lower() in names:
        return None
    return f"the answer came from {answer.actor}, not from the requester human:{requester.id} the question was asked of; it was not applied and the ticket keeps waiting"


async def park(conn: asyncpg.Connection, event: TicketCreated, question: Question) -> None:
    await conn.execute(
        "INSERT INTO pending_questions (ticket_id, ticket, skill, field) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (ticket_id) DO UPDATE SET ticket = excluded.ticket, skill = excluded.skill, field = excluded.field,"
        " asked_at = now(), answered_at = NULL, answer_id = NULL",
        question.ticket_id,
        event.model_dump_json(by_alias=True),
        question.skill,
        question.field,
    )


async def resume(conn: asyncpg.Connection, answer: TicketAnswered) -> TicketCreated | None:
    """The waiting ticket with the answer added to it, as a ticket to triage again; None when no
    question is open for it. The same answer redelivered resumes it the same way (same ids). An
    answer from anyone but the requester raises ``NotTheRequester`` and leaves the question open."""
    async with conn.transaction():
        row = await conn.fetchrow("SELECT ticket, answer_id FROM pending_questions WHERE ticket_id = $1 FOR UPDATE", answer.data.ticket_id)
        if row is None or (row["answer_id"] is not None and row["answer_id"] != answer.id):
            return None
        asked = TicketCreated.model_validate_json(row["ticket"])
        if (why := not_the_requester(answer, asked.data.requester)) is not None:
            raise NotTheRequester(why)
        await conn.execute("UPDATE pending_questions SET answered_at = coalesce(answered_at, now()), answer_id = $2 WHERE ticket_id = $1", answer.data.ticket_id, answer.id)
    ticket = asked.data
    enriched = ticket.model_copy(update={"description": f"{ticket.description}\n\n[answer from {ticket.requester.id}] {answer.data.text}".strip()[:20_000]})
    return asked.model_copy(update={"id": derived_event_id(answer.id, TicketCreated.event_type(), "resumed"), "causation_id": answer.id, "data": enriched})
