"""The recall a ticket's handoff carries: whoever escalates a ticket asks memory for it in the same
batch as the escalation, as ``memory.recall.requested`` with request id ``handoff:<escalation id>``;
memory's ``memory.recall`` answer is then part of the ticket's events, so the person taking over
sees it without asking. A desk assembling the package finds the answer by that request id."""

from __future__ import annotations

from typing import Any

from contracts.envelope import Actor, Envelope
from contracts.events import Handoff, MemoryRecallRequested, RecallRequest

#: Tokens of recalled memories a handoff carries: a page a person reads before picking the ticket up.
HANDOFF_RECALL_TOKENS = 800


def handoff_request_id(escalated: Envelope[Any]) -> str:
    return f"handoff:{escalated.id}"


def handoff_recall(escalated: Envelope[Any], *, source: str, actor: Actor | None = None, token_budget: int = HANDOFF_RECALL_TOKENS) -> MemoryRecallRequested:
    """What memory should recall for an escalated ticket: its text, its requester and coworker, in its team."""
    handoff: Handoff = escalated.data.handoff
    coworker = escalated.actor.id if escalated.actor.kind == "coworker" else None
    request = RecallRequest(request_id=handoff_request_id(escalated), text=handoff.ticket.text[:20_000], ticket_id=escalated.data.ticket_id,
                            requester_id=handoff.ticket.requester.id, coworker=coworker, token_budget=token_budget)
    return escalated.caused(MemoryRecallRequested, request, source=source, actor=actor or escalated.actor, ordinal="handoff")
