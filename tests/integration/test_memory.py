"""The memory store on Qdrant (local mode on disk): idempotent writes, and one team never sees another's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from qdrant_client import models

from contracts.envelope import derived_event_id
from contracts.events import Resolution, TicketResolved
from runtime.embeddings import LocalEmbedder
from services.memory.settings import MemorySettings
from services.memory.store import MemoryStore
from tests.conftest import ticket


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    model = LocalEmbedder()
    model.load()
    return model


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[MemoryStore]:
    memory = MemoryStore(MemorySettings(qdrant_path=tmp_path / "qdrant", qdrant_url=None))
    await memory.open(dimensions=384)
    yield memory
    await memory.close()


def resolved(team: str, title: str, resolution: str) -> TicketResolved:
    created = ticket(team=team, title=title)
    return created.caused(TicketResolved, Resolution(ticket_id=created.data.ticket_id, ticket=created.data, resolution=resolution), source="/services/skills")


def point(event: TicketResolved, vector: list[float]) -> models.PointStruct:
    return models.PointStruct(id=derived_event_id(event.id, "memory", 0), vector=vector, payload={"team": event.team, "ticket_id": event.data.ticket_id, "resolution": event.data.resolution})


async def test_a_team_recalls_its_own_resolutions_and_never_another_teams(store: MemoryStore, embedder: LocalEmbedder) -> None:
    it = resolved("it-support", "vpn keeps disconnecting", "Reinstalled the VPN client profile.")
    hr = resolved("hr", "vpn keeps disconnecting", "Told them to ask IT.")
    vectors = embedder.embed_sync([it.data.ticket.text, hr.data.ticket.text]).vectors
    await store.upsert([point(it, vectors[0].tolist()), point(hr, vectors[1].tolist())])
    query = embedder.embed_sync(["my vpn drops every few minutes"]).vectors[0].tolist()
    found = await store.search("it-support", query)
    assert [f["ticket_id"] for f in found] == [it.data.ticket_id]
    assert found[0]["score"] > 0.5
    assert [f["ticket_id"] for f in await store.search("hr", query)] == [hr.data.ticket_id]
    assert await store.search("finance", query) == []


async def test_a_redelivered_resolution_overwrites_its_own_memory_instead_of_adding_one(store: MemoryStore, embedder: LocalEmbedder) -> None:
    event = resolved("it-support", "printer jam", "Cleared the tray.")
    vector = embedder.embed_sync([event.data.ticket.text]).vectors[0].tolist()
    await store.upsert([point(event, vector)])
    await store.upsert([point(event, vector)])
    assert await store.count("it-support") == 1


async def test_a_collection_made_by_another_model_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    settings = MemorySettings(qdrant_path=tmp_path / "qdrant", qdrant_url=None)
    first = MemoryStore(settings)
    await first.open(dimensions=384)
    await first.close()
    second = MemoryStore(settings)
    with pytest.raises(RuntimeError, match="holds 384-dimensional vectors; the configured embedding model makes 768"):
        await second.open(dimensions=768)
    await second.close()


async def test_forgetting_a_coworker_deletes_what_it_learned_and_nothing_else(store: MemoryStore, embedder: LocalEmbedder) -> None:
    mine, theirs = resolved("it-support", "vpn down", "Restarted the VPN."), resolved("it-support", "printer jam", "Cleared the tray.")
    vectors = embedder.embed_sync([mine.data.ticket.text, theirs.data.ticket.text]).vectors
    await store.upsert([
        point(mine, vectors[0].tolist()).model_copy(update={"payload": {"team": "it-support", "coworker": "jordan"}}),
        point(theirs, vectors[1].tolist()).model_copy(update={"payload": {"team": "it-support", "coworker": "atom"}}),
    ])
    assert await store.forget("coworker", "jordan") == 1
    assert await store.forget("coworker", "jordan") == 0
    assert await store.count("it-support") == 1
