"""The memory service: ``ticket.resolved`` in; the ticket and its resolution embedded and stored in
Qdrant, then ``memory.recorded`` (and ``llm.usage`` for the embedding call) out."""

from __future__ import annotations

import time

from qdrant_client import models

from contracts.coworkers import LifecycleState
from contracts.envelope import derived_event_id
from contracts.events import CoworkerStated, LlmUsage, MemoryErasure, MemoryForgotten, MemoryRecord, MemoryRecorded, TicketResolved, TokenUsage
from contracts.topics import COWORKER_STATE, LLM_USAGE, MEMORY_FORGOTTEN, MEMORY_RECORDED, TICKET_RESOLVED
from runtime.embeddings import LocalEmbedder, cost
from runtime.service import Service
from services.memory.settings import MemorySettings
from services.memory.store import MemoryStore

settings = MemorySettings()
service = Service("memory", settings, description="Stores resolved tickets and their resolutions as vectors in Qdrant, per team.")
service.publishes(MEMORY_RECORDED, MEMORY_FORGOTTEN, LLM_USAGE)
embedder = LocalEmbedder(max_seq_length=settings.embed_max_seq_length, threads=settings.embed_threads)
store = MemoryStore(settings)


@service.on_startup
async def open_store() -> None:
    embedder.load()
    await store.open(dimensions=embedder.dimensions)


@service.on_shutdown
async def close_store() -> None:
    await store.close()


@service.ready_check
async def qdrant() -> bool:
    return await store.client.collection_exists(store.collection)


def memory_text(event: TicketResolved) -> str:
    return f"{event.data.ticket.text}\nResolution: {event.data.resolution}"


@service.consumer(TICKET_RESOLVED)
async def on_ticket_resolved(events: list[TicketResolved]) -> None:
    """Remember each resolved ticket with what resolved it; a redelivered event overwrites its own point."""
    started = time.perf_counter()
    embedding = await embedder.embed([memory_text(e) for e in events])
    latency_ms = (time.perf_counter() - started) * 1000 / len(events)
    points = []
    for event, vector in zip(events, embedding.vectors, strict=True):
        resolved = event.data
        points.append(
            models.PointStruct(
                id=derived_event_id(event.id, "memory", 0),
                vector=vector.tolist(),
                payload={
                    "team": event.team,
                    "scope": "ticket",
                    "ticket_id": resolved.ticket_id,
                    "requester_id": resolved.ticket.requester.id,
                    "text": resolved.ticket.text,
                    "resolution": resolved.resolution,
                    "skill": resolved.skill,
                    "coworker": event.actor.id if event.actor.kind == "coworker" else None,
                    "source_event": event.id,
                    "valid_from": event.time.isoformat(),
                    "embedding_model": embedder.model,
                },
            )
        )
    await store.upsert(points)
    for event, point, tokens in zip(events, points, embedding.tokens, strict=True):
        record = MemoryRecord(memory_id=str(point.id), scope="ticket", ticket_id=event.data.ticket_id, collection=store.collection, embedding_model=embedder.model, dimensions=embedder.dimensions)
        service.emit(event.caused(MemoryRecorded, record, source=service.source, actor=service.actor))
        # Remembering a resolution is part of the work of the coworker who resolved it: its budget pays.
        coworker = event.actor.id if event.actor.kind == "coworker" else None
        usage = TokenUsage(purpose="memory.embed", model=embedder.model, provider=embedder.provider, prompt_tokens=tokens, cost_usd=cost(tokens, settings.embed_usd_per_million_tokens), latency_ms=round(latency_ms, 3), ticket_id=event.data.ticket_id, coworker=coworker, skill=event.data.skill)
        service.emit(event.caused(LlmUsage, usage, source=service.source, actor=service.actor))


@service.consumer(COWORKER_STATE, group="offboarding", max_records=100)
async def on_coworker_state(events: list[CoworkerStated]) -> None:
    """Apply an offboarded coworker's memory policy: with ``on_offboard: delete``, what it learned goes."""
    for event in events:
        state = event.data
        manifest = state.active or state.draft
        if state.state is not LifecycleState.offboarded or manifest is None or manifest.memory.on_offboard != "delete":
            continue
        deleted = await store.forget("coworker", state.coworker)
        erasure = MemoryErasure(scope="coworker", subject=state.coworker, deleted=deleted, reason=f"{state.coworker} was offboarded; its memory policy says delete")
        service.emit(event.caused(MemoryForgotten, erasure, source=service.source, actor=service.actor, subject=state.coworker))
        service.log.info("memories forgotten", coworker=state.coworker, deleted=deleted)
