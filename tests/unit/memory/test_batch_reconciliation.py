"""A batch of facts is reconciled exactly as the same facts one after the other would be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.memory.settings import MemorySettings
from services.memory.store import Fact, MemoryStore
from tests.unit.memory.conftest import DIMS, CountingEmbedder

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)


def route(text: str, event: str, hours: float, *, team: str = "it-support", ticket: str = "T-1") -> Fact:
    return Fact(team=team, scope="team", subject=team, key=f"route:{ticket}", text=text, kind="correction", source_event=event,
                valid_from=T0 + timedelta(hours=hours), ticket_id=ticket)


def vector(n: int) -> list[float]:
    return [1.0 if i == n % DIMS else 0.0 for i in range(DIMS)]


FACTS = [
    route("Software", "e1", 0),
    route("Software", "e1", 0),  # redelivered in the same batch
    route("Software", "e2", 1),  # the same value seen again
    route("Hardware", "e3", 2),  # a correction: supersedes
    route("Network", "e4", 0.5),  # late and older than the current value: history only
    route("Hardware", "e3", 2),  # the correction redelivered
    route("Printing", "e5", 3),  # corrected again, in the same batch
    route("Software", "e6", 0, team="hr"),  # same name, other team: its own fact
]


async def open_store(path: Path) -> MemoryStore:
    store = MemoryStore(MemorySettings(qdrant_path=path, qdrant_url=None))
    await store.open(dimensions=DIMS, model=CountingEmbedder.model)
    return store


async def test_a_batch_has_the_outcomes_and_the_history_of_the_same_facts_stored_one_by_one(tmp_path: Path) -> None:
    one_by_one, batched = await open_store(tmp_path / "seq"), await open_store(tmp_path / "batch")
    try:
        sequential = [await one_by_one.remember(f, vector(n)) for n, f in enumerate(FACTS)]
        together = await batched.remember_many([(f, vector(n)) for n, f in enumerate(FACTS)])
        assert [o for o, _ in together] == ["created", "unchanged", "updated", "superseded", "history", "unchanged", "superseded", "created"]
        assert together == sequential
        for store in (one_by_one, batched):
            history = await store.history("it-support", "team", "it-support", "route:T-1")
            assert [(h["text"], h["current"]) for h in history] == [("Software", False), ("Network", False), ("Hardware", False), ("Printing", True)]
            assert history[0]["seen"] == 2 and history[0]["valid_to"] == history[2]["valid_from"]
            assert history[2]["superseded_by"] == "e5" and history[3]["valid_to"] is None
            assert [h["text"] for h in await store.facts("it-support")] == ["Printing"]
            assert [h["text"] for h in await store.facts("hr")] == ["Software"]
        assert [h["id"] for h in await one_by_one.history("it-support", "team", "it-support", "route:T-1")] == \
               [h["id"] for h in await batched.history("it-support", "team", "it-support", "route:T-1")]
    finally:
        await one_by_one.close()
        await batched.close()


async def test_a_redelivered_batch_finds_its_facts_even_where_they_were_superseded_since(store: MemoryStore) -> None:
    items = [(f, vector(n)) for n, f in enumerate(FACTS)]
    first = await store.remember_many(items)
    again = await store.remember_many(items)
    # e2 only repeated a value (merged into e1's point, valid from e1's time), so nothing is kept under
    # e2's own time: redelivered after the value was superseded, it is written again as history.
    assert [o for o, _ in again] == ["unchanged", "unchanged", "history", "unchanged", "unchanged", "unchanged", "unchanged", "unchanged"]
    assert again[0][1] == again[1][1] != first[0][1], "e1's value is found where it is now kept: its history point"
    assert again[4] == ("unchanged", first[4][1])
    assert [h["text"] for h in await store.facts("it-support")] == ["Printing"]


async def test_the_store_survives_a_restart_with_what_it_held(settings: MemorySettings) -> None:
    store = MemoryStore(settings)
    await store.open(dimensions=DIMS, model=CountingEmbedder.model)
    await store.remember_many([(f, vector(n)) for n, f in enumerate(FACTS)])
    await store.close()
    reopened = MemoryStore(settings)
    await reopened.open(dimensions=DIMS, model=CountingEmbedder.model)
    try:
        assert [h["text"] for h in await reopened.facts("it-support")] == ["Printing"]
        assert await reopened.count("it-support") == 4
    finally:
        await reopened.close()
