"""The triage service: ``ticket.created`` in; ``ticket.triaged`` + ``skill.requested``, or ``ticket.escalated``, out.

Each batch of tickets is embedded in one model call; every ticket's share of that call is billed
to its team as an ``llm.usage`` event.
"""

from __future__ import annotations

import time

from contracts.catalog import load_catalog
from contracts.events import TicketCreated
from contracts.topics import COWORKER_STATE, LLM_USAGE, SKILL_REQUESTED, TICKET_CREATED, TICKET_ESCALATED, TICKET_TRIAGED
from runtime.embeddings import LocalEmbedder, cost
from runtime.service import Service
from services.triage.decisions import Policy, triage, triage_actor, usage
from services.triage.routing import SkillIndex, index_texts
from services.triage.settings import TriageSettings

settings = TriageSettings()
service = Service("triage", settings, description="Classifies each new ticket and routes it to a coworker's skill, or escalates it to a human with the whole context.")
service.publishes(TICKET_TRIAGED, TICKET_ESCALATED, SKILL_REQUESTED, LLM_USAGE)
embedder = LocalEmbedder(max_seq_length=settings.embed_max_seq_length, threads=settings.embed_threads)
coworkers = service.table(COWORKER_STATE)


class _Loaded:
    index: SkillIndex
    policy: Policy


loaded = _Loaded()


@service.on_startup
async def load_model() -> None:
    """Load the model and embed the catalog before the first ticket, so the first one is not slow."""
    catalog = load_catalog(settings.skills_catalog)
    embedder.load()
    loaded.index = SkillIndex(catalog, (await embedder.embed(index_texts(catalog))).vectors)
    loaded.policy = Policy(
        threshold=settings.triage_confidence_threshold,
        queue=settings.triage_escalation_queue,
        model=embedder.model,
        model_version=embedder.version,
        provider=embedder.provider,
        source=service.source,
    )
    service.log.info("skill catalog loaded", skills=len(catalog.skills), threshold=settings.triage_confidence_threshold)


@service.consumer(TICKET_CREATED)
async def on_ticket_created(events: list[TicketCreated]) -> None:
    """Classify each new ticket by embedding similarity to the skills; route it, or escalate it."""
    started = time.perf_counter()
    embedding = await embedder.embed([event.data.text for event in events])
    latency_ms = (time.perf_counter() - started) * 1000 / len(events)
    routes = loaded.index.route(embedding.vectors)
    table = coworkers.data
    actor = triage_actor(table)
    for event, route, tokens in zip(events, routes, embedding.tokens, strict=True):
        price = cost(tokens, settings.embed_usd_per_million_tokens)
        service.emit(usage(event, loaded.policy, actor, tokens=tokens, cost_usd=price, latency_ms=latency_ms))
        for decided in triage(event, route, table, loaded.policy):
            service.emit(decided)
        service.log.debug("triaged", ticket_id=event.data.ticket_id, event_id=event.id, skill=route.skill.name, confidence=route.confidence)
