"""The triage service: ``ticket.created`` in; ``ticket.triaged`` + ``skill.requested`` (or a split,
a question, an escalation) out. ``ticket.answered`` resumes a ticket that asked; ``ticket.rerouted``
and ``ticket.resolved`` teach it.

A batch of tickets is read in one pass of the trained classifier (or, in LLM mode, by the model
through litellm, falling back to the classifier and saying so)."""

from __future__ import annotations

import asyncio
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
from services.triage.batch import triage_batch
from services.triage.decisions import Policy, Triager
from services.triage.embedding import StaticEmbedder
from services.triage.learning import Examples
from services.triage.reading import OfflineReader, Reader
from services.triage.router import SkillRouter, training_data
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
    unknown = sorted(set(model.categories) - {c.name for c in catalog.categories} - set(model.escalate_only))
    if unknown:
        raise RuntimeError(f"model {model.version} knows categories the catalog does not declare: {', '.join(unknown)}; retrain it with this catalog")
    loaded.examples = Examples(model)
    async with database.pool.acquire() as conn:
        await loaded.examples.refresh(conn, force=True)
    router = await asyncio.to_thread(SkillRouter, StaticEmbedder(settings.triage_embedding_model), training_data(catalog))
    service.log.info("skill router fitted", **router.trained)
    offline = OfflineReader(model, loaded.examples, router)
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
    loaded.triager = Triager(catalog, Policy(threshold=threshold, queue=settings.triage_escalation_queue, model="tfidf-logreg" if settings.triage_method == "offline" else f"llm:{settings.triage_llm_model}", model_version=model.version, source=service.source, escalate_only=model.escalate_only, queues=model.queues))
    service.log.info("triage model loaded", version=model.version, threshold=round(threshold, 3), method=settings.triage_method, learned_examples=len(loaded.examples))


async def _triage(events: list[TicketCreated]) -> list:
    """Read and decide a batch of tickets; return what to store of those that now wait for an answer."""
    async with database.pool.acquire() as conn:
        await loaded.examples.refresh(conn)
    waiting = []
    for done in await triage_batch(loaded.reader, loaded.triager, events, coworkers.data):
        for usage in done.spent:
            service.emit(usage)
        for out in done.outcome.events:
            service.emit(out)
            if out.type == "ticket.escalated":  # the person's first view carries memory's recall
                service.emit(handoff_recall(out, source=service.source))
        if done.outcome.question is not None:
            waiting.append((done.event, done.outcome.question))
        service.log.debug("triaged", ticket_id=done.event.data.ticket_id, event_id=done.event.id, outcome=done.outcome.events[-1].type, method=done.reading.method)
    return waiting


@service.consumer(TICKET_CREATED, first_seen=database)
async def on_ticket_created(events: list[TicketCreated]) -> None:
    """Classify each new ticket, prioritise it, and route it to a coworker's skill; split it, ask
    its requester for what is missing, or escalate it to a person."""
    waiting = await _triage(events)
    if waiting:
        async with database.pool.acquire() as conn:
            for event, question in waiting:
                await pending.park(conn, event, question)


@service.consumer(TICKET_ANSWERED, group="answers", max_records=100, first_seen=database)
async def on_ticket_answered(events: list[TicketAnswered]) -> None:
    """A requester answered a question: triage the ticket again with the answer in it."""
    for answer in events:
        try:
            async with database.pool.acquire() as conn:
                resumed = await pending.resume(conn, answer)
        except pending.NotTheRequester as refused:
            service.log.warning("answer refused", ticket_id=answer.data.ticket_id, event_id=answer.id, by=str(answer.actor))
            service.refuse(answer, "not_a_writer", str(refused))
            continue
        if resumed is None:
            service.log.info("answer to no open question", ticket_id=answer.data.ticket_id, event_id=answer.id)
            continue
        waiting = await _triage([resumed])
        async with database.pool.acquire() as conn:
            for event, question in waiting:
                await pending.park(conn, event, question)


@service.consumer(TICKET_REROUTED, TICKET_RESOLVED, group="learning", max_records=500, first_seen=database)
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
