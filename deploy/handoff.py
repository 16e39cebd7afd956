"""The handoff package a person sees when a ticket reaches them, assembled from the ticket's events:
the escalation's handoff (why, what was tried, facts, suggested next action), the conversation
(the ticket, triage's questions, the requester's answers, in order) and memory's recall for it.

Whoever escalates asks memory in the same batch (``contracts.handoff``: request id
``handoff:<escalation id>``), so memory's answer is among the ticket's events by the time a person
opens it; :func:`complete` asks again only when that answer is missing (memory was down)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from contracts.envelope import Actor, Envelope
from contracts.events import Handoff, Turn
from contracts.handoff import handoff_recall, handoff_request_id


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
    recalled = [e for e in ordered if e.type == "memory.recall" and e.data.request_id == handoff_request_id(escalated)]
    recall = list(handoff.recall) or (list(recalled[-1].data.items) if recalled else [])
    facts = list(handoff.facts) + [f"asked {e.data.field}: {e.data.question}"[:500] for e in ordered if e.type == "ticket.question" and f"asked {e.data.field}: {e.data.question}"[:500] not in handoff.facts]
    return handoff.model_copy(update={"transcript": transcript[:500], "recall": recall[:20], "facts": facts[:50]})


async def complete(desk: Any, events: list[Envelope[Any]], *, timeout_s: float = 60) -> Handoff:
    """Ask memory for the handoff recall of the ticket's latest escalation (``desk``: a
    ``deploy.memory.MemoryDesk``) and return the full package."""
    escalated = [e for e in sorted(events, key=lambda e: e.time) if e.type == "ticket.escalated"]
    if not escalated:
        raise ValueError("the ticket was not escalated: there is no handoff")
    if any(e.type == "memory.recall" and e.data.request_id == handoff_request_id(escalated[-1]) for e in events):
        return package(events)
    reply = await desk.ask(handoff_recall(escalated[-1], source="/cli/workforce", actor=desk.actor), timeout_s=timeout_s)
    return package([*events, reply])
