"""Turn a routed ticket into the events that record and act on the decision. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from contracts.envelope import Actor, Envelope
from contracts.events import (
    Attempt,
    CoworkerState,
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
from services.triage.roster import assignee
from services.triage.routing import Route

METHOD = "embedding-similarity"
#: Triage is itself a coworker when the workforce has one by this name; else the service acts.
TRIAGE_COWORKER = "triage-manager"


@dataclass(frozen=True)
class Policy:
    """What a decision is made with and recorded as."""

    threshold: float
    queue: str
    model: str
    model_version: str
    provider: str
    source: str


def triage_actor(table: Mapping[str, CoworkerState]) -> Actor:
    me = table.get(TRIAGE_COWORKER)
    return Actor.coworker(TRIAGE_COWORKER) if me is not None and me.state == "active" else Actor.system("triage")


def triage(event: TicketCreated, route: Route, table: Mapping[str, CoworkerState], policy: Policy) -> list[Envelope]:
    """Route the ticket to the active coworker that takes the best skill's work, or escalate it
    with everything a human needs: when no skill is close enough, or nobody active takes it."""
    ticket, team = event.data, event.team
    actor = triage_actor(table)
    candidates = [c.model_copy(update={"coworker": (a.coworker if (a := assignee(c.skill, team, table)) else None)}) for c in route.candidates]
    best = candidates[0]
    who = assignee(route.skill.name, team, table)
    if route.confident(policy.threshold) and who is not None:
        decision = TriageDecision(
            ticket_id=ticket.ticket_id,
            coworker=who.coworker,
            coworker_version=who.version,
            skill=route.skill.name,
            confidence=route.confidence,
            method=METHOD,
            model=policy.model,
            model_version=policy.model_version,
            candidates=candidates,
        )
        request = SkillRequest(
            ticket_id=ticket.ticket_id,
            skill=route.skill.name,
            coworker=who.coworker,
            coworker_version=who.version,
            ticket=ticket,
            # The requester is who the work is for. Ticket text never names another target.
            inputs={"user": ticket.requester.email or ticket.requester.id},
            confidence=route.confidence,
        )
        return [
            event.caused(TicketTriaged, decision, source=policy.source, actor=actor),
            event.caused(SkillRequested, request, source=policy.source, actor=actor),
        ]
    if not route.confident(policy.threshold):
        code = "low_confidence"
        why = (
            f"No skill matches this ticket closely enough to act on it: the closest is {best.skill} "
            f"at similarity {best.score:.2f}, below the threshold {policy.threshold:.2f}."
        )
    else:
        code = "out_of_scope"
        why = f"The ticket needs {route.skill.name} (similarity {best.score:.2f}), but no active coworker takes that work."
    escalation = Escalation(
        ticket_id=ticket.ticket_id,
        reason_code=code,
        reason=why[:500],
        queue=policy.queue,
        handoff=Handoff(
            ticket=ticket,
            why=why,
            transcript=[Turn(actor=Actor.human(ticket.requester.id), text=ticket.text[:20_000], at=ticket.opened_at or event.time)],
            tried=[Attempt(what=f"triage by {METHOD} over the skill catalog", outcome="failed", detail=why)],
            candidates=candidates,
        ),
    )
    return [event.caused(TicketEscalated, escalation, source=policy.source, actor=actor)]


def usage(event: TicketCreated, policy: Policy, actor: Actor, *, tokens: int, cost_usd: Decimal, latency_ms: float) -> LlmUsage:
    """What embedding this ticket cost, attributed to its team, its ticket and the triage coworker."""
    data = TokenUsage(
        purpose="triage.embed",
        model=policy.model,
        provider=policy.provider,
        prompt_tokens=tokens,
        cost_usd=cost_usd,
        latency_ms=round(latency_ms, 3),
        ticket_id=event.data.ticket_id,
        coworker=actor.id if actor.kind == "coworker" else None,
    )
    return event.caused(LlmUsage, data, source=policy.source, actor=actor)
