"""The handoff package a person sees when a ticket reaches them, assembled from the ticket's events:
the escalation's handoff (why, what was tried, facts, suggested next action), the conversation
(the ticket, triage's questions, the requester's answers, in order) and memory's recall for it.

The recall is asked when a person takes the ticket over (:func:`complete`: ``memory.recall.requested``
with request id ``handoff:<escalation id>``), not by the automated flow, so an escalation adds no
work and no events to the pipeline; memory then answers from what it knows at that moment."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from contracts.envelope import Actor, Envelope
from contracts.events import Handoff, MemoryRecallRequested, RecallRequest, Turn


def package(events: Iterable[Envelope[Any]]) -> Handoff:
    """The full handoff of the ticket's (latest) escalation; ``ValueError`` if it was never escalated."""
    ordered = sorted(events, key=lambda e: e.time)
    escalations = [e for e in ordered if e.type == "ticket.escalated"]
    if not escalations:
        raise ValueError("the ticket was not escalated: there is no handoff")
    escalated = escalations[-1]
    handoff: Handoff = escalated.data.handoff
    transcript = list(handoff.transcript)
    said = {(t.actor.id, t.text) for t in transcript}
    for event in ordered:
        if event.type == "ticket.question":
            turn = Turn(actor=event.actor, text=event.data.question, at=event.time)
        elif event.type == "ticket.answered":
            turn = Turn(actor=event.actor if event.actor.kind == "human" else Actor.human(handoff.ticket.requester.id), text=event.data.text, at=event.time)
        else:
            continue
        if (turn.actor.id, turn.text) not in said:
            transcript.append(turn)
    transcript.sort(key=lambda t: t.at)
    recalled = [e for e in ordered if e.type == "memory.recall" and e.data.request_id == f"handoff:{escalated.id}"]
    recall = list(handoff.recall) or (list(recalled[-1].data.items) if recalled else [])
    facts = list(handoff.facts) + [f"asked {e.data.field}: {e.data.question}"[:500] for e in ordered if e.type == "ticket.question" and f"asked {e.data.field}: {e.data.question}"[:500] not in handoff.facts]
    return handoff.model_copy(update={"transcript": transcript[:500], "recall": recall[:20], "facts": facts[:50]})


def recall_request(escalated: Envelope[Any], *, token_budget: int = 800, actor: Actor | None = None) -> MemoryRecallRequested:
    """The recall a person's desk asks for an escalated ticket: its text, its requester, its team."""
    handoff: Handoff = escalated.data.handoff
    request = RecallRequest(request_id=f"handoff:{escalated.id}", text=handoff.ticket.text[:20_000], ticket_id=escalated.data.ticket_id,
                            requester_id=handoff.ticket.requester.id, token_budget=token_budget)
    return escalated.caused(MemoryRecallRequested, request, source="/cli/workforce", actor=actor or Actor.system("handoff"), ordinal="handoff")


async def complete(desk: Any, events: list[Envelope[Any]], *, timeout_s: float = 60) -> Handoff:
    """Ask memory for the handoff recall of the ticket's latest escalation (``desk``: a
    ``deploy.memory.MemoryDesk``) and return the full package."""
    escalated = [e for e in sorted(events, key=lambda e: e.time) if e.type == "ticket.escalated"]
    if not escalated:
        raise ValueError("the ticket was not escalated: there is no handoff")
    reply = await desk.ask(recall_request(escalated[-1], actor=desk.actor), timeout_s=timeout_s)
    return package([*events, reply])
