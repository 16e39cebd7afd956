"""The memory service: facts in from events (``ticket.resolved``, ``ticket.rerouted``,
``ticket.answered``, ``ticket.question``, ``skill.failed``, ``memory.knowledge``), redacted, embedded and reconciled in
Qdrant per team, in four scopes (ticket, requester, coworker, team); ``memory.recorded`` (and
``llm.usage`` for the embedding call) out. Recall over Kafka request/reply
(``memory.recall.requested`` -> ``memory.recall``); erasure on request (``memory.erasure.requested``),
on offboarding and by retention, each said on ``memory.forgotten``. The behaviour is in
``memory.py``; this module wires it to topics."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from contracts.coworkers import LifecycleState
from contracts.events import (
    CoworkerStated,
    MemoryErasure,
    MemoryErasureRequested,
    MemoryForgotten,
    MemoryKnowledgeIngested,
    MemoryRecallRequested,
    SkillFailed,
    TicketAnswered,
    TicketQuestion,
    TicketRerouted,
    TicketResolved,
)
from contracts.topics import (
    COWORKER_STATE,
    LLM_USAGE,
    MEMORY_ERASURE_REQUESTED,
    MEMORY_FORGOTTEN,
    MEMORY_KNOWLEDGE,
    MEMORY_RECALL_REQUESTED,
    MEMORY_RECALLED,
    MEMORY_RECORDED,
    SKILL_FAILED,
    TICKET_ANSWERED,
    TICKET_QUESTION,
    TICKET_REROUTED,
    TICKET_RESOLVED,
)
from runtime.service import Service
from services.memory.embedders import make_embedder
from services.memory.memory import Memory
from services.memory.settings import MemorySettings
from services.memory.store import MemoryStore

settings = MemorySettings()
service = Service("memory", settings, description="Remembers resolutions, corrections and conversations per team in Qdrant, and answers recall requests.")
service.publishes(MEMORY_RECORDED, MEMORY_FORGOTTEN, MEMORY_RECALLED, LLM_USAGE)
embedder = make_embedder(settings)
store = MemoryStore(settings)
memory = Memory(store, embedder, settings, source=service.source, actor=service.actor)
_sweeper: list[asyncio.Task[None]] = []


@service.on_startup
async def open_store() -> None:
    await asyncio.to_thread(embedder.load)  # a remote model's first call must not block the loop
    await store.open(dimensions=embedder.dimensions, model=embedder.model)


@service.after_startup
async def start_retention() -> None:
    _sweeper.append(asyncio.create_task(_retention_loop()))


@service.on_shutdown
async def close_store() -> None:
    for task in _sweeper:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await store.close()


@service.ready_check
async def qdrant() -> bool:
    return await store.ready()


def _emit(events: list) -> None:  # noqa: ANN001
    for event in events:
        service.emit(event)


@service.consumer(TICKET_RESOLVED)
async def on_ticket_resolved(events: list[TicketResolved]) -> None:
    """Remember each resolved ticket with what resolved it; a redelivered event changes nothing."""
    _emit(await memory.remember([(e, fact) for e in events for fact in (memory.resolved_fact(e), *memory.requester_facts(e))]))


@service.consumer(TICKET_REROUTED, group="corrections", max_records=100)
async def on_ticket_rerouted(events: list[TicketRerouted]) -> None:
    """Remember a person's correction of a route as team knowledge; a later one supersedes it."""
    _emit(await memory.remember([(e, memory.rerouted_fact(e)) for e in events], purpose="memory.embed", bill_coworker=False))


@service.consumer(TICKET_ANSWERED, group="turns", max_records=100)
async def on_ticket_answered(events: list[TicketAnswered]) -> None:
    """Remember what a requester said in a ticket's conversation, and what they said about themselves."""
    _emit(await memory.remember([(e, fact) for e in events for fact in memory.answered_facts(e)], bill_coworker=False))


@service.consumer(TICKET_QUESTION, group="questions", max_records=100)
async def on_ticket_question(events: list[TicketQuestion]) -> None:
    """Remember a coworker's question as a turn of the ticket's conversation."""
    _emit(await memory.remember([(e, memory.question_fact(e)) for e in events], bill_coworker=False))


@service.consumer(SKILL_FAILED, group="lessons", max_records=100)
async def on_skill_failed(events: list[SkillFailed]) -> None:
    """Remember why a coworker's skill stopped, as the coworker's own lesson for the next time."""
    _emit(await memory.remember([(e, memory.lesson_fact(e)) for e in events], purpose="memory.embed"))


@service.consumer(MEMORY_KNOWLEDGE, group="knowledge", max_records=64)
async def on_knowledge(events: list[MemoryKnowledgeIngested]) -> None:
    """Keep each chunk of an ingested document as team knowledge; a changed chunk supersedes the old one."""
    _emit(await memory.remember([(e, memory.knowledge_fact(e)) for e in events], purpose="memory.ingest", bill_coworker=False))
    for event in events:
        if event.data.chunk == event.data.chunks - 1:
            await memory.retire_stale_chunks(event)


@service.consumer(MEMORY_RECALL_REQUESTED, group="recall", max_records=50)
async def on_recall_requested(events: list[MemoryRecallRequested]) -> None:
    """Answer each recall request with the team's best memories within its token budget."""
    _emit(await memory.recall_many(events))


@service.consumer(MEMORY_ERASURE_REQUESTED, group="erasure", max_records=50)
async def on_erasure_requested(events: list[MemoryErasureRequested]) -> None:
    """Forget a requester (or coworker, ticket, team) on request, and say how many memories went."""
    for event in events:
        answers = await memory.erase(event)
        _emit(answers)
        service.log.info("memories forgotten on request", scope=event.data.scope, deleted=answers[0].data.deleted, request=event.id)


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


async def _retention_loop() -> None:
    """Every ``retention_sweep_s``, delete what each scope's retention no longer keeps, and say so."""
    while True:
        try:
            now = datetime.now(UTC)
            for erasure in await memory.sweep(now):
                event = MemoryForgotten(source=service.source, team="workforce", actor=service.actor, correlation_id=f"retention:{now:%Y%m%dT%H%M%S}", subject=erasure.subject, data=erasure)
                await service.publish(event)
                service.log.info("memories expired", scope=erasure.scope, deleted=erasure.deleted)
        except Exception as exc:  # a failed sweep is tried again at the next one
            service.log.warning("retention sweep failed", error=repr(exc))
        await asyncio.sleep(settings.retention_sweep_s)
