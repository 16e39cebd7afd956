"""Turn a routed ticket into the events that record and act on the decision. Pure; no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contracts.envelope import Actor, Envelope
from contracts.events import (
    Attempt,
    Escalation,
    Handoff,
    LlmUsage,
    SkillRequest,
    SkillRequested,
    TicketCreated,
    TicketEscalated,
    TicketTriaged,
    TokenUsage,
    TriageDecision,
    Turn,
)
from services.triage.routing import Route

METHOD = "embedding-similarity"


@dataclass(frozen=True)
class Policy:
    """What a decision is made with and recorded as."""

    threshold: float
    queue: str
    model: str
    model_version: str
    provider: str
    source: str
    actor: Actor


def triage(event: TicketCreated, route: Route, policy: Policy) -> list[Envelope]:
    """Route the ticket to the best skill's coworker, or escalate it with everything a human needs."""
    ticket, threshold = event.data, policy.threshold
    source, actor = policy.source, policy.actor
    if route.confident(threshold):
        decision = TriageDecision(
            ticket_id=ticket.ticket_id,
            coworker=route.skill.coworker,
            skill=route.skill.name,
            confidence=route.confidence,
            method=METHOD,
            model=policy.model,
            model_version=policy.model_version,
            candidates=route.candidates,
        )
        request = SkillRequest(
            ticket_id=ticket.ticket_id,
            skill=route.skill.name,
            coworker=route.skill.coworker,
            ticket=ticket,
            inputs={"user": ticket.requester.email or ticket.requester.id},
            confidence=route.confidence,
        )
        return [
            event.caused(TicketTriaged, decision, source=source, actor=actor),
            event.caused(SkillRequested, request, source=source, actor=actor),
        ]
    best = route.candidates[0]
    why = (
        f"No skill matches this ticket closely enough to act on it: the closest is {best.skill} "
        f"({best.coworker}) at similarity {best.score:.2f}, below the threshold {threshold:.2f}."
    )
    escalation = Escalation(
        ticket_id=ticket.ticket_id,
        reason_code="low_confidence",
        reason=why[:500],
        queue=policy.queue,
        handoff=Handoff(
            ticket=ticket,
            why=why,
            transcript=[Turn(actor=Actor.human(ticket.requester.id), text=ticket.text[:20_000], at=ticket.opened_at or event.time)],
            tried=[Attempt(what=f"triage by {METHOD} over the skill catalog", outcome="failed", detail=why)],
            candidates=route.candidates,
        ),
    )
    return [event.caused(TicketEscalated, escalation, source=source, actor=actor)]


def usage(event: TicketCreated, policy: Policy, *, tokens: int, cost_usd: Decimal, latency_ms: float) -> LlmUsage:
    """What embedding this ticket cost, attributed to its team and ticket."""
    data = TokenUsage(
        purpose="triage.embed",
        model=policy.model,
        provider=policy.provider,
        prompt_tokens=tokens,
        cost_usd=cost_usd,
        latency_ms=round(latency_ms, 3),
        ticket_id=event.data.ticket_id,
    )
    return event.caused(LlmUsage, data, source=policy.source, actor=policy.actor)
