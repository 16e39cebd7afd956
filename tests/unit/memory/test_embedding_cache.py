"""A text memory has embedded before is not embedded again, and costs no tokens the second time."""

from __future__ import annotations

from contracts.envelope import Actor
from contracts.events import LlmUsage, MemoryRecorded, Resolution, TicketResolved
from services.memory.embedding_cache import EmbeddingCache
from services.memory.memory import Memory
from services.memory.settings import MemorySettings
from services.memory.store import MemoryStore
from tests.conftest import ticket
from tests.unit.memory.conftest import CountingEmbedder


def resolved(ticket_id: str, title: str, resolution: str) -> TicketResolved:
    created = ticket(ticket_id, team="it-support", title=title, requester="ana.silva")
    return created.caused(TicketResolved, Resolution(ticket_id=ticket_id, ticket=created.data, resolution=resolution, skill="printer"), source="/services/skills", actor=Actor.coworker("jordan"))


async def test_the_same_text_is_embedded_once_and_billed_once(store: MemoryStore, embedder: CountingEmbedder, settings: MemorySettings) -> None:
    memory = Memory(store, embedder, settings)
    first = resolved("T-1", "printer jam on floor 3", "Cleared the tray.")
    out = await memory.remember([(first, memory.resolved_fact(first)), *((first, f) for f in memory.requester_facts(first))])
    assert len(embedder.embedded) == 1, "the requester's copy embeds the shared text: one text, one embedding"
    usage = [e for e in out if isinstance(e, LlmUsage)]
    assert [u.data.prompt_tokens for u in usage] == [len(embedder.embedded[0].split())] and usage[0].data.coworker == "jordan"

    redelivered = await memory.remember([(first, memory.resolved_fact(first))])
    assert len(embedder.embedded) == 1, "served from the cache"
    assert [e.id for e in redelivered if isinstance(e, LlmUsage)] == [usage[0].id], \
        "a redelivery emits its usage record again, same id: billing counts it once, and a record lost with a failed attempt is not lost"

    same_text = resolved("T-1", "printer jam on floor 3", "Cleared the tray.")  # another event, the same fact again
    assert same_text.id != first.id
    out = await memory.remember([(same_text, memory.resolved_fact(same_text))])
    assert len(embedder.embedded) == 1
    assert [type(e) for e in out] == [MemoryRecorded], "no model call for another event's text: nothing to bill"

    other = resolved("T-2", "printer jam on floor 4", "Cleared the tray.")
    out = await memory.remember([(other, memory.resolved_fact(other))])
    assert len(embedder.embedded) == 2 and any(isinstance(e, LlmUsage) for e in out), "a new text is embedded and billed"


async def test_the_cache_is_bounded_and_forgets_the_least_recently_used_text() -> None:
    embedder = CountingEmbedder()
    cache = EmbeddingCache(embedder, max_entries=2)
    await cache.embed(["a", "b"])
    await cache.embed(["a"])  # a is used again: b is now the oldest
    found, _ = await cache.embed(["c", "a"])
    assert found["a"].cached and not found["c"].cached
    found, _ = await cache.embed(["b"])
    assert not found["b"].cached, "b went first when c came in"
    assert embedder.embedded == ["a", "b", "c", "b"]


async def test_vectors_of_one_model_are_never_served_for_another() -> None:
    one, other = CountingEmbedder(), CountingEmbedder()
    other.model = "hash-16-other"
    cache = EmbeddingCache(one)
    await cache.embed(["vpn"])
    cache.embedder = other
    found, _ = await cache.embed(["vpn"])
    assert not found["vpn"].cached and other.embedded == ["vpn"]
