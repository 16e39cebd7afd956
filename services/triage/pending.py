"""Tickets waiting for their requester's answer: parked in PostgreSQL, resumed by ``ticket.answered``."""

from __future__ import annotations

import asyncpg

from contracts.envelope import derived_event_id
from contracts.events import Question, TicketAnswered, TicketCreated


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
    question is open for it. The same answer redelivered resumes it the same way (same ids)."""
    async with conn.transaction():
        row = await conn.fetchrow("SELECT ticket, answer_id FROM pending_questions WHERE ticket_id = $1 FOR UPDATE", answer.data.ticket_id)
        if row is None or (row["answer_id"] is not None and row["answer_id"] != answer.id):
            return None
        await conn.execute("UPDATE pending_questions SET answered_at = coalesce(answered_at, now()), answer_id = $2 WHERE ticket_id = $1", answer.data.ticket_id, answer.id)
    asked = TicketCreated.model_validate_json(row["ticket"])
    ticket = asked.data
    enriched = ticket.model_copy(update={"description": f"{ticket.description}\n\n[answer from {ticket.requester.id}] {answer.data.text}".strip()[:20_000]})
    return asked.model_copy(update={"id": derived_event_id(answer.id, TicketCreated.event_type(), "resumed"), "causation_id": answer.id, "data": enriched})
