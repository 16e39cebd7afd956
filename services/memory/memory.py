"""What memory does with events, apart from Kafka: each method takes events and returns the events
to emit, so the service wiring (``app.py``) stays thin and the behaviour is testable on its own.

Write path: ``ticket.resolved`` (what resolved a ticket), ``ticket.rerouted`` (a person's
correction of a route: team knowledge, and a later correction supersedes an earlier one),
``ticket.answered`` (a requester's turn in the conversation), and knowledge chunks. Every text is
redacted (secrets, card numbers) before it is embedded or stored.

Read path: ``memory.recall.requested`` is answered on ``memory.recall`` with memories of the
envelope's team only, ranked by similarity, recency and how close their scope is to the request
(same ticket, same requester, same coworker, the team), packed into the request's token budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np

from contracts.envelope import Envelope
from contracts.events import (
    LlmUsage,
    MemoryErasure,
    MemoryErasureRequested,
    MemoryForgotten,
    MemoryKnowledgeIngested,
    MemoryRecallRequested,
    MemoryRecalled,
    MemoryRecord,
    MemoryRecorded,
    RecalledMemory,
    RecallResult,
    Requester,
    SkillFailed,
    TicketAnswered,
    TicketQuestion,
    TicketRerouted,
    TicketResolved,
    TokenUsage,
)
from runtime.embeddings import cost
from runtime.redact import depersonalise, name_forms, redact_text
from services.memory import preferences
from services.memory.embedding_cache import EmbeddingCache
from services.memory.settings import MemorySettings
from services.memory.store import Fact, MemoryStore

#: How much a memory's scope counts towards its rank, by how close it is to the request.
SCOPE_WEIGHT = {"ticket": 1.0, "requester": 0.8, "coworker": 0.6, "team": 0.4}
#: Payload field that identifies a memory as belonging to a scope, for erasure requests.
ERASE_BY = {"requester": "requester_id", "coworker": "coworker", "ticket": "ticket_id", "team": "team"}


def speaker(actor: Any) -> str:
    """How a conversation turn names who spoke: a person by role (names stay in the requester's
    scope), a coworker or service by name."""
    return "requester" if actor.kind == "human" else f"{actor.kind}:{actor.id}"


def _people(requester: Requester) -> set[str]:
    return name_forms(requester.id, requester.name, requester.email)


def _shared(text: str, people: set[str]) -> str:
    """Text for a memory others in the team may recall: no secrets, card numbers, emails or the named people."""
    return depersonalise(redact_text(text), people)


class Embedder(Protocol):
    model: str
    provider: str

    @property
    def dimensions(self) -> int: ...

    async def embed(self, texts: list[str]) -> Any: ...


def count_tokens(text: str) -> int:
    """Tokens as a chat model reading the recalled text would count them (litellm's default tokenizer)."""
    import litellm

    return int(litellm.token_counter(text=text))


class Memory:
    def __init__(self, store: MemoryStore, embedder: Embedder, settings: MemorySettings, *, source: str = "/services/memory", actor: Any = None) -> None:
        from contracts.envelope import Actor

        self.store = store
        self.embedder = embedder
        self.embeddings = EmbeddingCache(embedder, max_entries=settings.embed_cache_entries)
        self.settings = settings
        self.source = source
        self.actor = actor or Actor.system("memory")

    # --- write path -------------------------------------------------------------------------

    @staticmethod
    def resolved_fact(event: TicketResolved) -> Fact:
        """The ticket and what resolved it, for anyone in the team: without names or emails."""
        resolved = event.data
        people = _people(resolved.ticket.requester)
        return Fact(
            team=event.team, scope="ticket", subject=resolved.ticket_id, key="resolution", kind="resolution",
            text=_shared(f"{resolved.ticket.text}\nResolution: {resolved.resolution}", people),
            source_event=event.id, valid_from=event.time, ticket_id=resolved.ticket_id, requester_id=resolved.ticket.requester.id,
            coworker=event.actor.id if event.actor.kind == "coworker" else None, extra={"skill": resolved.skill},
        )

    @classmethod
    def requester_facts(cls, event: TicketResolved) -> list[Fact]:
        """The requester's own history (this ticket, as they wrote it) and what they said about
        themselves in it: only recalled for requests about the same requester."""
        resolved = event.data
        requester = resolved.ticket.requester
        shared = cls.resolved_fact(event)
        history = Fact(
            team=event.team, scope="requester", subject=requester.id, key=f"history:{resolved.ticket_id}", kind="history",
            text=redact_text(f"{resolved.ticket.text}\nResolution: {resolved.resolution}"), embed_text=shared.text,
            source_event=event.id, valid_from=event.time, ticket_id=resolved.ticket_id, requester_id=requester.id, extra={"skill": resolved.skill},
        )
        return [history, *cls.preference_facts(event, requester.id, resolved.ticket.text, ticket_id=resolved.ticket_id)]

    @staticmethod
    def preference_facts(event: Envelope[Any], requester_id: str, text: str, *, ticket_id: str | None) -> list[Fact]:
        """One requester fact per preference stated in ``text``; the same topic later supersedes it."""
        return [
            Fact(team=event.team, scope="requester", subject=requester_id, key=f"pref:{pref.topic}", kind="preference",
                 text=redact_text(f"{requester_id} prefers ({pref.topic}): {pref.value}. They said: \"{pref.sentence}\""),
                 source_event=event.id, valid_from=event.time, ticket_id=ticket_id, requester_id=requester_id, extra={"topic": pref.topic, "value": redact_text(pref.value)})
            for pref in preferences.extract(text)
        ]

    @staticmethod
    def rerouted_fact(event: TicketRerouted) -> Fact:
        reroute = event.data
        where = reroute.category + (f" / {reroute.skill}" if reroute.skill else "")
        why = f" ({reroute.reason})" if reroute.reason else ""
        return Fact(
            team=event.team, scope="team", subject=event.team, key=f"route:{reroute.ticket_id}", kind="correction",
            text=_shared(f"{reroute.ticket.text}\nA person routed this to {where}{why}.", _people(reroute.ticket.requester)),
            source_event=event.id, valid_from=event.time, ticket_id=reroute.ticket_id, requester_id=reroute.ticket.requester.id,
            extra={"category": reroute.category, "skill": reroute.skill, "corrected_by": event.actor.id},
        )

    @classmethod
    def answered_facts(cls, event: TicketAnswered) -> list[Fact]:
        """A requester's turn in the ticket's conversation (names and emails out), and any
        preference they stated in it (in their own scope)."""
        requester = event.actor.id if event.actor.kind == "human" else None
        turn = Fact(
            team=event.team, scope="ticket", subject=event.data.ticket_id, key=f"turn:{event.id}", kind="turn",
            text=f"{speaker(event.actor)}: {_shared(event.data.text, name_forms(requester))}", source_event=event.id, valid_from=event.time, ticket_id=event.data.ticket_id, requester_id=requester,
        )
        return [turn, *(cls.preference_facts(event, requester, event.data.text, ticket_id=event.data.ticket_id) if requester else [])]

    @staticmethod
    def question_fact(event: TicketQuestion) -> Fact:
        """A coworker's question in the ticket's conversation (to the requester, who is not named)."""
        question = event.data
        return Fact(
            team=event.team, scope="ticket", subject=question.ticket_id, key=f"turn:{event.id}", kind="turn",
            text=f"{speaker(event.actor)}: {_shared(question.question, _people(question.to))}", source_event=event.id, valid_from=event.time,
            ticket_id=question.ticket_id, coworker=event.actor.id if event.actor.kind == "coworker" else None, extra={"field": question.field},
        )

    @staticmethod
    def lesson_fact(event: SkillFailed) -> Fact:
        """What a coworker learned the hard way: the skill, the step and why it stopped. The same
        failure again is seen again (not stored twice); a new reason for it supersedes the old."""
        failure = event.data
        where = f"at step {failure.failed_step}" if failure.failed_step else "before its first step"
        undone = f" Undone: {', '.join(failure.compensated)}." if failure.compensated else ""
        return Fact(
            team=event.team, scope="coworker", subject=failure.coworker, key=f"lesson:{failure.skill}:{failure.failed_step or 0}:{failure.error_code}", kind="lesson",
            text=_shared(f"{failure.skill} stopped {where} ({failure.error_code}): {failure.reason}.{undone}", name_forms(failure.requester_id)),
            source_event=event.id, valid_from=event.time, ticket_id=failure.ticket_id, coworker=failure.coworker,
            extra={"skill": failure.skill, "error_code": failure.error_code},
        )

    @staticmethod
    def knowledge_fact(event: MemoryKnowledgeIngested) -> Fact:
        chunk = event.data
        heading = f"{chunk.title}\n" if chunk.title else ""
        return Fact(
            team=event.team, scope="team", subject=f"doc:{chunk.document_id}", key=f"chunk:{chunk.chunk}", kind="knowledge",
            text=redact_text(f"{heading}{chunk.text}"), source_event=event.id, valid_from=event.time,
            extra={"document_id": chunk.document_id, "source": chunk.source, "chunk": chunk.chunk, "chunks": chunk.chunks, "document_sha256": chunk.sha256},
        )

    async def retire_stale_chunks(self, event: MemoryKnowledgeIngested) -> int:
        """A document ingested again with fewer chunks: its chunks past the new end stop being current."""
        chunk = event.data
        stale = [f["id"] for f in await self.store.facts(event.team, subject=f"doc:{chunk.document_id}") if int(f.get("chunk", 0)) >= chunk.chunks]
        await self.store.retire(event.team, stale, event.time)
        return len(stale)

    async def remember(self, pairs: Sequence[tuple[Envelope[Any], Fact]], *, purpose: str = "memory.embed", bill_coworker: bool = True) -> list[Envelope[Any]]:
        """Embed and store the events' facts (reconciled, in one store write); return memory.recorded
        and llm.usage events. Facts that embed the same text share one embedding and one usage
        record. A text the embedding cache holds for another event made no model call now: no usage
        record. One it holds for this very event (a redelivery, a retried batch) gets its usage record
        again, with the same id, so billing counts it once and a record lost with a failed attempt is not."""
        if not pairs:
            return []
        payer: dict[str, str] = {}
        for event, fact in pairs:
            payer.setdefault(fact.embed_text or fact.text, event.id)
        embedded, latency_ms = await self.embeddings.embed(list(payer), owners=payer)
        results = await self.store.remember_many([(fact, embedded[fact.embed_text or fact.text].vector.tolist()) for _, fact in pairs])
        billed: set[str] = set()
        out: list[Envelope[Any]] = []
        for (event, fact), (_, point_id) in zip(pairs, results, strict=True):
            text = fact.embed_text or fact.text
            record = MemoryRecord(memory_id=point_id, scope=fact.scope, ticket_id=fact.ticket_id, collection=self.store.collection, embedding_model=self.embedder.model, dimensions=self.embedder.dimensions)
            out.append(event.caused(MemoryRecorded, record, source=self.source, actor=self.actor, ordinal=f"memory:{fact.key}"))
            if text in billed or (embedded[text].cached and embedded[text].owner != event.id):
                continue
            billed.add(text)
            tokens = embedded[text].tokens
            # Remembering a resolution is part of the work of the coworker who resolved it: its budget pays.
            coworker = fact.coworker if bill_coworker else None
            usage = TokenUsage(purpose=purpose, model=self.embedder.model, provider=self.embedder.provider, prompt_tokens=tokens, cost_usd=cost(tokens, self.settings.embed_usd_per_million_tokens), latency_ms=round(latency_ms, 3), ticket_id=fact.ticket_id, coworker=coworker, skill=fact.extra.get("skill"))
            out.append(event.caused(LlmUsage, usage, source=self.source, actor=self.actor, ordinal=f"usage:{fact.key}"))
        return out

    # --- read path --------------------------------------------------------------------------

    async def recall(self, event: MemoryRecallRequested) -> list[Envelope[Any]]:
        return await self.recall_many([event])

    async def recall_many(self, events: Sequence[MemoryRecallRequested]) -> list[Envelope[Any]]:
        """Answer each request (``memory.recall`` and the embedding's ``llm.usage``); the batch's
        texts are embedded in one call."""
        if not events:
            return []
        started = time.perf_counter()
        embedding = await self.embedder.embed([redact_text(e.data.text) for e in events])
        latency_ms = (time.perf_counter() - started) * 1000 / len(events)
        out: list[Envelope[Any]] = []
        for event, vector, tokens in zip(events, embedding.vectors, embedding.tokens, strict=True):
            request = event.data
            hits = await self.store.search(event.team, np.asarray(vector).tolist(), limit=max(4 * request.limit, 20), requester_id=request.requester_id)
            items, used = self.rank(hits, request.ticket_id, request.requester_id, request.coworker, now=event.time, token_budget=request.token_budget, limit=request.limit)
            result = RecallResult(request_id=request.request_id, ticket_id=request.ticket_id, items=items, tokens=used, token_budget=request.token_budget, embedding_model=self.embedder.model)
            if request.context_budget and request.ticket_id:
                from services.memory.context import working_context  # it builds on this module

                context = await working_context(self, team=event.team, ticket_id=request.ticket_id, question=request.text, budget=request.context_budget, now=event.time, requester_id=request.requester_id)
                result = result.model_copy(update={"context": context.render()[:20_000], "context_tokens": context.tokens, "context_turns": context.folded + len(context.recent)})
            usage = TokenUsage(purpose="memory.recall", model=self.embedder.model, provider=self.embedder.provider, prompt_tokens=tokens, cost_usd=cost(tokens, self.settings.embed_usd_per_million_tokens), latency_ms=round(latency_ms, 3), ticket_id=request.ticket_id, coworker=request.coworker)
            out += [
                event.caused(MemoryRecalled, result, source=self.source, actor=self.actor, ordinal="recall"),
                event.caused(LlmUsage, usage, source=self.source, actor=self.actor, ordinal="recall:usage"),
            ]
        return out

    def rank(self, hits: list[dict[str, Any]], ticket_id: str | None, requester_id: str | None, coworker: str | None, *, now: datetime, token_budget: int, limit: int) -> tuple[list[RecalledMemory], int]:
        """Score each hit (similarity, recency, scope), best first, and keep what fits the budget."""
        s = self.settings
        scored = []
        for hit in hits:
            if hit["score"] < s.recall_min_similarity:
                continue
            if ticket_id and hit.get("ticket_id") == ticket_id:
                relation = "ticket"
            elif hit.get("scope") == "requester" or (requester_id and hit.get("requester_id") == requester_id):
                relation = "requester"
            elif coworker and hit.get("coworker") == coworker:
                relation = "coworker"
            else:
                relation = "team"
            age_days = max(0.0, (now.timestamp() - float(hit.get("last_seen_ts", now.timestamp()))) / 86_400)
            recency = math.pow(0.5, age_days / s.recall_half_life_days)
            score = s.recall_weight_similarity * hit["score"] + s.recall_weight_recency * recency + s.recall_weight_scope * SCOPE_WEIGHT[relation]
            scored.append((score, hit))
        # Ties (a requester's copy of a ticket shares the shared text's vector): their own copy first,
        # whatever order the engine returned equal scores in.
        scored.sort(key=lambda pair: (pair[0], pair[1].get("scope") == "requester"), reverse=True)
        items: list[RecalledMemory] = []
        used = 0
        outcomes: set[str] = set()  # a ticket's resolution and the requester's copy of it: the better one only
        for score, hit in scored:
            if hit.get("kind") in {"resolution", "history"} and hit.get("ticket_id"):
                if hit["ticket_id"] in outcomes:
                    continue
                outcomes.add(hit["ticket_id"])
            tokens = count_tokens(hit["text"])
            if used + tokens > token_budget:
                continue  # a shorter memory further down may still fit
            used += tokens
            items.append(RecalledMemory(
                memory_id=hit["id"], scope=hit.get("scope", "ticket"), kind=str(hit.get("kind", ""))[:40], text=hit["text"], score=round(score, 6), similarity=round(float(hit["score"]), 6),
                tokens=tokens, valid_from=datetime.fromisoformat(hit["valid_from"]) if hit.get("valid_from") else now, ticket_id=hit.get("ticket_id"),
            ))
            if len(items) >= limit:
                break
        return items, used

    # --- erasure and retention --------------------------------------------------------------

    async def erase(self, event: MemoryErasureRequested) -> list[Envelope[Any]]:
        request = event.data
        deleted = await self.store.forget(ERASE_BY[request.scope], request.subject)
        erasure = MemoryErasure(scope=request.scope, subject=request.subject, deleted=deleted, reason=request.reason)
        return [event.caused(MemoryForgotten, erasure, source=self.source, actor=self.actor, subject=request.subject)]

    async def sweep(self, now: datetime | None = None) -> list[MemoryErasure]:
        """Apply retention per scope: memories not seen for longer than their scope keeps them go."""
        now = now or datetime.now(UTC)
        erased = []
        for scope, days in self.settings.retention().items():
            if days <= 0:
                continue
            deleted = await self.store.expire(scope, now - timedelta(days=days))
            if deleted:
                erased.append(MemoryErasure(scope=scope, subject=f"retention-{scope}", deleted=deleted, reason=f"not seen for {days} days: the {scope} retention"))  # type: ignore[arg-type]
        return erased
