"""The triage service: ``ticket.created`` in; ``ticket.triaged`` + ``skill.requested`` (or a split,
a question, an escalation) out. ``ticket.answered`` resumes a ticket that asked; ``ticket.rerouted``
and ``ticket.resolved`` teach it.

A batch of tickets is read in one pass of the trained classifier (or, in LLM mode, by the model
through litellm, falling back to the classifier and saying so)."""

from __future__ import annotations

from pathlib import Path

from contracts.catalog import load_catalog
from contracts.handoff import handoff_recall
from contracts.events import TicketAnswered, TicketCreated, TicketRerouted, TicketResolved
from contracts.topics import (
    BUDGET_LEASE_REQUESTED,
    BUDGET_LEASE_RETURNED,
    BUDGET_STATE,
    COWORKER_STATE,
    LLM_USAGE,
    MEMORY_RECALL_REQUESTED,
    SKILL_REQUESTED,
    TICKET_ANSWERED,
    TICKET_CREATED,
    TICKET_ESCALATED,
    TICKET_QUESTION,
    TICKET_REROUTED,
    TICKET_RESOLVED,
    TICKET_SPLIT,
    TICKET_TRIAGED,
)
from runtime.service import Service
from services.triage import learning, pending
from services.triage.classifier import CategoryModel
from services.triage.decisions import Policy, Triager, triage_actor
from services.triage.learning import Examples
from services.triage.matching import SkillMatcher
from services.triage.reading import OfflineReader, Reader, ticket_segments
from services.triage.settings import TriageSettings

SCHEMA = "triage"

settings = TriageSettings()
service = Service("triage", settings, description="Classifies each new ticket and routes it to a coworker's skill, splits, asks, or escalates it to a human with the whole context.")
service.publishes(TICKET_TRIAGED, TICKET_ESCALATED, TICKET_SPLIT, TICKET_QUESTION, SKILL_REQUESTED, LLM_USAGE, BUDGET_LEASE_REQUESTED, BUDGET_LEASE_RETURNED, MEMORY_RECALL_REQUESTED)
database = service.database(SCHEMA, Path(__file__).parent / "migrations", pool_size=settings.db_pool_size)
coworkers = service.table(COWORKER_STATE)
budgets = service.table(BUDGET_STATE)
catalog = load_catalog(settings.skills_catalog)


class _Loaded:
    reader: Reader
    triager: Triager
    examples: Examples


loaded = _Loaded()


@service.on_startup
async def load_model() -> None:
    """Load the trained model before the first ticket; a missing model is a clear start-up error."""
    model = CategoryModel.load(settings.triage_model)
    unknown = sorted(set(model.categories) - {c.name for c in catalog.categories})
    if unknown:
        raise RuntimeError(f"model {model.version} knows categories the catalog does not declare: {', '.join(unknown)}")
    matcher = SkillMatcher(model, catalog)
    loaded.examples = Examples(matcher)
    async with database.pool.acquire() as conn:
        await loaded.examples.refresh(conn, force=True)
    offline = OfflineReader(model, loaded.examples, matcher)
    if settings.triage_method == "llm":
        from services.triage.llm import LlmReader

        budget = None
        if settings.triage_llm_budget_leases:
            from runtime.budget import BudgetClient

            budget = BudgetClient(settings.kafka_bootstrap_servers, service="triage", call_timeout_s=settings.triage_llm_timeout_s)
            await budget.start()
            service.on_shutdown(budget.stop)
        loaded.reader = LlmReader(settings, catalog, offline, budgets, service.log, budget=budget)
    else:
        loaded.reader = offline
    threshold = settings.triage_confidence_threshold if settings.triage_confidence_threshold is not None else model.threshold
    loaded.triager = Triager(catalog, matcher, Policy(threshold=threshold, queue=settings.triage_escalation_queue, model="tfidf-logreg" if settings.triage_method == "offline" else f"llm:{settings.triage_llm_model}", model_version=model.version, source=service.source))
    service.log.info("triage model loaded", version=model.version, threshold=round(threshold, 3), method=settings.triage_method, learned_examples=len(loaded.examples))


async def _triage(events: list[TicketCreated]) -> list:
    """Read and decide a batch of tickets; return what to store of those that now wait for an answer."""
    async with database.pool.acquire() as conn:
        await loaded.examples.refresh(conn)
    table = coworkers.data
    actor = triage_actor(table)
    readings = await loaded.reader.read([e.data for e in events], [e.team for e in events], actor, events)
    segmented = [(i, ticket_segments(e.data)) for i, e in enumerate(events)]
    segmented = [(i, parts) for i, parts in segmented if parts]
    part_readings = await loaded.reader.read_texts([p for _, parts in segmented for p in parts]) if segmented else []
    parts_of: dict[int, list] = {}
    cursor = 0
    for i, parts in segmented:
        parts_of[i] = list(zip(parts, part_readings[cursor : cursor + len(parts)], strict=True))
        cursor += len(parts)
    waiting = []
    for i, (event, (reading, spent)) in enumerate(zip(events, readings, strict=True)):
        for usage in spent:
            service.emit(usage)
        outcome = loaded.triager.decide(event, event.data, reading, table, parts=parts_of.get(i, []))
        for out in outcome.events:
            service.emit(out)
            if out.type == "ticket.escalated":  # the person's first view carries memory's recall
                service.emit(handoff_recall(out, source=service.source))
        if outcome.question is not None:
            waiting.append((event, outcome.question))
        service.log.debug("triaged", ticket_id=event.data.ticket_id, event_id=event.id, outcome=outcome.events[-1].type, method=reading.method)
    return waiting


@service.consumer(TICKET_CREATED)
async def on_ticket_created(events: list[TicketCreated]) -> None:
    """Classify each new ticket, prioritise it, and route it to a coworker's skill; split it, ask
    its requester for what is missing, or escalate it to a person."""
    waiting = await _triage(events)
    if waiting:
        async with database.pool.acquire() as conn:
            for event, question in waiting:
                await pending.park(conn, event, question)


@service.consumer(TICKET_ANSWERED, group="answers", max_records=100)
async def on_ticket_answered(events: list[TicketAnswered]) -> None:
    """A requester answered a question: triage the ticket again with the answer in it."""
    for answer in events:
        async with database.pool.acquire() as conn:
            resumed = await pending.resume(conn, answer)
        if resumed is None:
            service.log.info("answer to no open question", ticket_id=answer.data.ticket_id, event_id=answer.id)
            continue
        waiting = await _triage([resumed])
        async with database.pool.acquire() as conn:
            for event, question in waiting:
                await pending.park(conn, event, question)


@service.consumer(TICKET_REROUTED, TICKET_RESOLVED, group="learning", max_records=500)
async def on_outcome(events: list[TicketRerouted | TicketResolved]) -> None:
    """A person's re-route, or a resolution, becomes a labelled example for the next similar ticket."""
    async with database.pool.acquire() as conn:
        for event in events:
            if isinstance(event, TicketRerouted):
                label = (event.data.category, event.data.skill, "rerouted")
            else:
                spec = catalog.get(event.data.skill) if event.data.skill else None
                if spec is None:
                    continue
                label = (spec.category, spec.name, "resolved")
            category, skill, source = label
            if await learning.learn(conn, event_id=event.id, ticket_id=event.data.ticket_id, text=event.data.ticket.text, category=category, skill=skill, source=source):
                service.log.info("learned", ticket_id=event.data.ticket_id, category=category, skill=skill, source=source)
