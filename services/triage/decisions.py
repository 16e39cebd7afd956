"""What triage decides for one ticket, as events. Pure; no I/O.

Category first (calibrated; below the threshold a person decides), then the skill within it that
fits the words, then whether the request is really several (split into linked children), whether
the skill needs something the ticket does not say (ask the requester), and who takes it (the
coworker table). Every outcome carries a priority and its reason; nothing is silently misrouted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


from contracts.catalog import Catalog
from contracts.envelope import Actor, Envelope
from contracts.events import (
    Attempt,
    Candidate,
    CategoryScore,
    Child,
    CoworkerState,
    Escalation,
    Handoff,
    LlmUsage,
    Question,
    SkillRequest,
    SkillRequested,
    Split,
    Ticket,
    TicketCreated,
    TicketEscalated,
    TicketQuestion,
    TicketSplit,
    TicketTriaged,
    TokenUsage,
    TriageDecision,
    Turn,
)
from services.triage.classifier import Prediction
from services.triage.learning import Label
from services.triage.router import Route
from services.triage.priority import Urgency, prioritise
from services.triage.questions import extract
from services.triage.roster import assignee
from services.triage.split import Part, expansion

#: Triage is itself a coworker when the workforce has one by this name; else the service acts.
TRIAGE_COWORKER = "triage-manager"


@dataclass(frozen=True)
class Policy:
    """What decisions are made with and recorded as."""

    threshold: float
    queue: str  # where tickets go when nobody else's queue fits
    model: str
    model_version: str
    source: str
    #: Labels of the organisation's history that are never routed to a coworker (too few tickets to
    #: learn, or not a category of the catalog), with why; and each label's human queue.
    escalate_only: Mapping[str, str] = field(default_factory=dict)
    queues: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reading:
    """What triage read in one ticket (or one segment of it)."""

    prediction: Prediction | None  # None: no words the model can read
    route: Route | None = None  # which skill the words ask for, and whether it is a ticket at all
    learned: Label | None = None
    method: str = "classifier"
    fallback: str | None = None


#: The first thing the person taking over should do, by why triage handed the ticket over.
NEXT_ACTION = {
    "low_confidence": "Confirm whether this is {category}; if not, reroute it (ticket.rerouted) so triage learns the right route.",
    "out_of_scope": "Handle it in {queue}: no coworker skill fits {category}; consider whether a skill should cover requests like it.",
    "unreadable": "Read the ticket and ask the requester to restate it if it is not a request: triage found no words it could read.",
    "not_a_ticket": "Check whether this is a workplace request at all; if it is, reroute it (ticket.rerouted) so triage learns that such text is a ticket.",
    "skill_failed": "Check what the skill tried (below) and finish the request by hand.",
    "policy_denied": "Decide whether the action should be allowed; grant it by hand or change the coworker's permissions.",
    "budget_exhausted": "Handle it by hand or raise the budget: the coworker's budget is spent.",
    "needs_human": "Take it over: it needs a person's judgement.",
}


@dataclass(frozen=True)
class Outcome:
    events: list[Envelope]
    question: Question | None = None  # the ticket now waits for this answer
    detail: dict[str, Any] = field(default_factory=dict)


def triage_actor(table: Mapping[str, CoworkerState]) -> Actor:
    me = table.get(TRIAGE_COWORKER)
    return Actor.coworker(TRIAGE_COWORKER) if me is not None and me.state == "active" else Actor.system("triage")


class Triager:
    def __init__(self, catalog: Catalog, policy: Policy) -> None:
        self.catalog, self.policy = catalog, policy
        self._table: Mapping[str, CoworkerState] | None = None
        self._assignees: dict[tuple[str, str], Any] = {}

    def _assignee(self, skill: str, team: str, table: Mapping[str, CoworkerState]) -> Any:
        """Who takes ``skill`` for ``team``, worked out once per coworker table (a batch's tickets
        share one; the next batch's table is a new object)."""
        if table is not self._table:
            self._table, self._assignees = table, {}
        key = (skill, team)
        if key not in self._assignees:
            self._assignees[key] = assignee(skill, team, table)
        return self._assignees[key]

    def decide(self, cause: Envelope, ticket: Ticket, reading: Reading, table: Mapping[str, CoworkerState], *, parts: Sequence[tuple[str, Reading]] = ()) -> Outcome:
        """The events for ``ticket`` (read as ``reading``), each caused by ``cause``. ``parts`` are
        the ticket's segments, read one by one, when it may hold several requests."""
        urgency = prioritise(ticket)
        actor = triage_actor(table)
        if reading.prediction is None:
            why = "The ticket has no words triage can read (empty, another alphabet, or not text); a person should look."
            return self._escalate(cause, ticket, "unreadable", why, self.policy.queue, urgency, actor, reading)
        route = reading.route
        if reading.learned is None and route is not None and route.rejected:
            why = f"This does not read as a workplace request (not a ticket at {route.not_ticket:.2f}): no coworker acts on it; a person should look."
            return self._escalate(cause, ticket, "not_a_ticket", why, self.policy.queue, urgency, actor, reading)
        category, confidence = self._category(reading)
        skill = self._skill(reading)
        if skill is not None and reading.learned is None:
            spec = self.catalog.get(skill)
            assert spec is not None and route is not None
            category, confidence = spec.category, round(route.confidence, 4)
        queue = self._queue(category)
        if skill is None and category in self.policy.escalate_only:
            why = f"The ticket is most likely {category} ({confidence:.2f}), which its people take: {self.policy.escalate_only[category]}."
            return self._escalate(cause, ticket, "out_of_scope", why, queue, urgency, actor, reading, category=category, candidates=self._candidates(category, reading, cause.team, table))
        if skill is None and confidence < self.policy.threshold:
            why = (
                f"Triage is not sure enough: no skill fits the words with confidence, and the most likely category is {category} at {confidence:.2f}, "
                f"below the threshold {self.policy.threshold:.2f} that keeps routed tickets right 96% of the time."
            )
            candidates = self._candidates(category, reading, cause.team, table)  # the person may pick one of them
            return self._escalate(cause, ticket, "low_confidence", why, queue, urgency, actor, reading, category=category, candidates=candidates)
        split = self._split_parts(parts, table, ticket) if reading.learned is None else []  # people said where it goes
        if split:
            return self._split(cause, ticket, split, urgency, actor, reading, category, confidence, table, reason="the ticket asks for several things")
        candidates = self._candidates(category, reading, cause.team, table)
        if skill is None:
            own = self.catalog.skills_in(category)
            best = f"best: {candidates[0].skill} at {candidates[0].score:.2f}" if candidates else "no skill read"
            why = f"The ticket is most likely {category} ({confidence:.2f}), " + (
                f"but none of the skills for {category} fits it with confidence ({best})." if own else f"and no coworker has skills for {category}: its people take it."
            )
            return self._escalate(cause, ticket, "out_of_scope", why, queue, urgency, actor, reading, category=category, candidates=candidates)
        spec = self.catalog.get(skill)
        assert spec is not None
        expanded = expansion(self.catalog, skill, ticket)
        if expanded:
            return self._split(cause, ticket, expanded, urgency, actor, reading, category, confidence, table, reason=f"{skill} is made of {', '.join(p.skill for p in expanded)}")
        who = self._assignee(skill, cause.team, table)
        if who is None:
            why = f"The ticket needs {skill} ({category}, {confidence:.2f}), but no active coworker takes that work."
            return self._escalate(cause, ticket, "out_of_scope", why, queue, urgency, actor, reading, category=category, candidates=candidates)
        inputs, missing = extract(spec, ticket.text)
        if missing is not None:
            question = Question(ticket_id=ticket.ticket_id, category=category, skill=skill, field=missing.name, question=missing.question, to=ticket.requester)
            return Outcome([cause.caused(TicketQuestion, question, source=self.policy.source, actor=actor, ordinal="question")], question=question)
        return Outcome(self._route(cause, ticket, category, confidence, skill, who, urgency, actor, reading, candidates, inputs))

    # --- the pieces -----------------------------------------------------------------------

    def _category(self, reading: Reading) -> tuple[str, float]:
        if reading.learned is not None:
            return reading.learned.category, round(reading.learned.similarity, 4)
        assert reading.prediction is not None
        return reading.prediction.category, round(reading.prediction.confidence, 4)

    def _skill(self, reading: Reading) -> str | None:
        """The skill people said (a learned label), else the one the router is sure of. In LLM mode
        the model names the category, and only a skill of that category is taken."""
        if reading.learned is not None:
            return reading.learned.skill if reading.learned.skill and self.catalog.get(reading.learned.skill) else None
        route = reading.route
        if route is None or not route.confident or route.skill is None:
            return None
        spec = self.catalog.get(route.skill)
        if spec is None or (reading.method == "llm" and reading.prediction is not None and spec.category != reading.prediction.category):
            return None
        return spec.name

    def _queue(self, category: str | None) -> str:
        spec = self.catalog.category(category) if category else None
        if spec is not None:
            return spec.queue
        return self.policy.queues.get(category or "", self.policy.queue)

    def _candidates(self, category: str, reading: Reading, team: str, table: Mapping[str, CoworkerState]) -> list[Candidate]:
        """The skills a person may pick from: the router's likeliest, those of the category first."""
        if reading.route is None:
            return []
        ranked = [(s, p) for s, p in reading.route.ranked if self.catalog.get(s) is not None]
        ranked.sort(key=lambda sp: (self.catalog.get(sp[0]).category != category, -sp[1]))  # type: ignore[union-attr]
        scores = ranked[:5]
        return [Candidate(skill=s, coworker=(a.coworker if (a := self._assignee(s, team, table)) else None), score=round(max(0.0, min(1.0, v)), 4)) for s, v in scores]

    def _split_parts(self, parts: Sequence[tuple[str, Reading]], table: Mapping[str, CoworkerState], ticket: Ticket) -> list[Part]:
        """The segments that are confidently separate requests for different skills (two or more)."""
        found: list[Part] = []
        for text, reading in parts:
            skill = self._skill(reading)
            if skill is None or reading.route is None or reading.route.rejected:
                return []
            found.append(Part(title=text[:200], skill=skill))
        return found if len({p.skill for p in found}) >= 2 else []

    def _route(self, cause: Envelope, ticket: Ticket, category: str, confidence: float, skill: str, who: Any, urgency: Urgency, actor: Actor, reading: Reading, candidates: list[Candidate], inputs: dict[str, str], *, ordinal: str = "") -> list[Envelope]:
        decision = TriageDecision(
            ticket_id=ticket.ticket_id,
            category=category,
            coworker=who.coworker,
            coworker_version=who.version,
            skill=skill,
            confidence=min(1.0, max(0.0, confidence)),
            priority=urgency.priority,
            priority_reason=urgency.reason[:500],
            method="learned-example" if reading.learned is not None else ("router" if reading.method == "classifier" else reading.method),
            fallback=reading.fallback,
            model=self.policy.model,
            model_version=self.policy.model_version,
            categories=self._categories(reading),
            candidates=candidates,
            inputs=dict(inputs),
        )
        request = SkillRequest(
            ticket_id=ticket.ticket_id,
            skill=skill,
            coworker=who.coworker,
            coworker_version=who.version,
            ticket=ticket,
            # The requester is who the work is for. Ticket text never names another target.
            inputs={**inputs, "user": ticket.requester.email or ticket.requester.id},
            confidence=min(1.0, max(0.0, confidence)),
        )
        return [
            self._for(ticket, cause.caused(TicketTriaged, decision, source=self.policy.source, actor=actor, ordinal=f"triaged{ordinal}")),
            self._for(ticket, cause.caused(SkillRequested, request, source=self.policy.source, actor=actor, ordinal=f"requested{ordinal}")),
        ]

    def _split(self, cause: Envelope, ticket: Ticket, parts: list[Part], urgency: Urgency, actor: Actor, reading: Reading, category: str, confidence: float, table: Mapping[str, CoworkerState], *, reason: str) -> Outcome:
        children = [Child(ticket_id=f"{ticket.ticket_id}-{n}", title=part.title[:500], skill=part.skill) for n, part in enumerate(parts, start=1)]
        events: list[Envelope] = [cause.caused(TicketSplit, Split(ticket_id=ticket.ticket_id, category=category, children=children, reason=reason[:500]), source=self.policy.source, actor=actor)]
        for child, part in zip(children, parts, strict=True):
            child_ticket = ticket.model_copy(update={"ticket_id": child.ticket_id, "title": child.title, "parent_id": ticket.ticket_id})
            spec = self.catalog.get(part.skill)
            assert spec is not None
            who = self._assignee(part.skill, cause.team, table)
            if who is None:
                why = f"Part of {ticket.ticket_id}: it needs {part.skill}, but no active coworker takes that work."
                outcome = self._escalate(cause, child_ticket, "out_of_scope", why, self._queue(spec.category), urgency, actor, reading, category=spec.category, ordinal=f":{child.ticket_id}")
                events += outcome.events
                continue
            inputs, _ = extract(spec, child_ticket.text)
            events += self._route(cause, child_ticket, spec.category, confidence, part.skill, who, urgency, actor, reading, [], inputs, ordinal=f":{child.ticket_id}")
        return Outcome(events, detail={"children": [c.ticket_id for c in children]})

    def _escalate(self, cause: Envelope, ticket: Ticket, code: str, why: str, queue: str, urgency: Urgency, actor: Actor, reading: Reading, *, category: str | None = None, candidates: list[Candidate] | None = None, ordinal: str = "") -> Outcome:
        escalation = Escalation(
            ticket_id=ticket.ticket_id,
            reason_code=code,  # type: ignore[arg-type]
            reason=why[:500],
            queue=queue,
            category=category,
            priority=urgency.priority,
            handoff=Handoff(
                ticket=ticket,
                why=f"{why} Priority {urgency.priority}: {urgency.reason}.",
                transcript=[Turn(actor=Actor.human(ticket.requester.id), text=ticket.text[:20_000], at=ticket.opened_at or cause.time)],
                tried=[Attempt(what=f"triage ({reading.method}, model {self.policy.model_version})", outcome="failed", detail=why)],
                candidates=candidates or [],
                facts=self._facts(ticket, reading, urgency, category),
                next_action=NEXT_ACTION[code].format(category=category or "the right category", queue=queue)[:500],
            ),
        )
        return Outcome([self._for(ticket, cause.caused(TicketEscalated, escalation, source=self.policy.source, actor=actor, ordinal=f"escalated{ordinal}"))])

    def _facts(self, ticket: Ticket, reading: Reading, urgency: Urgency, category: str | None) -> list[str]:
        """What triage established before it handed over, one short line each."""
        facts = [f"requester: {ticket.requester.id}" + (" (VIP)" if ticket.requester.vip else ""), f"priority: {urgency.priority} ({urgency.reason})"[:500]]
        if category:
            facts.append(f"most likely category: {category}")
        facts += [f"category {c.category}: {c.probability:.2f}" for c in self._categories(reading)]
        if reading.fallback:
            facts.append(f"fallback: {reading.fallback}"[:500])
        return facts

    def _categories(self, reading: Reading) -> list[CategoryScore]:
        if reading.prediction is None:
            return []
        return [CategoryScore(category=c, probability=round(min(1.0, max(0.0, p)), 4)) for c, p in reading.prediction.ranked[:3]]

    @staticmethod
    def _for(ticket: Ticket, event: Envelope) -> Envelope:
        """Events about a child ticket belong to the child's flow."""
        if event.correlation_id == ticket.ticket_id:
            return event
        return event.model_copy(update={"correlation_id": ticket.ticket_id, "subject": ticket.ticket_id})


def usage(event: TicketCreated, policy: Policy, actor: Actor, *, model: str, provider: str, prompt_tokens: int, completion_tokens: int, cost_usd: Decimal, latency_ms: float) -> LlmUsage:
    """What a model call made for this ticket cost, attributed to its team, its ticket and the triage coworker."""
    data = TokenUsage(
        purpose="triage.classify",
        model=model,
        provider=provider,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost_usd,
        latency_ms=round(latency_ms, 3),
        ticket_id=event.data.ticket_id,
        coworker=actor.id if actor.kind == "coworker" else None,
    )
    return event.caused(LlmUsage, data, source=policy.source, actor=actor)
