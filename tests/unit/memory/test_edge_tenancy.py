"""On the embedded engine (Qdrant Edge) every read and delete stays inside the team it names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.memory.store import Fact, MemoryStore
from tests.unit.memory.conftest import DIMS

NOW = datetime(2026, 11, 1, tzinfo=UTC)
SAME = [1.0] + [0.0] * (DIMS - 1)


def fact(team: str, ticket: str, *, scope: str = "ticket", requester: str | None = None, coworker: str | None = None) -> Fact:
    subject = requester if scope == "requester" else ticket
    return Fact(team=team, scope=scope, subject=subject or ticket, key="resolution", text=f"{team} fixed {ticket}", kind="resolution",  # type: ignore[arg-type]
                source_event=f"{team}-{ticket}-{scope}", valid_from=NOW, ticket_id=ticket, requester_id=requester, coworker=coworker)


@pytest.fixture
async def two_teams(store: MemoryStore) -> MemoryStore:
    await store.remember_many([(fact("it-support", "T-1", coworker="jordan"), SAME), (fact("hr", "T-1", coworker="jordan"), SAME), (fact("hr", "T-2"), SAME),
                               (fact("hr", "T-3", scope="requester", requester="ana.silva"), SAME)])
    return store


async def test_search_count_facts_and_history_see_only_the_named_team(two_teams: MemoryStore) -> None:
    store = two_teams
    assert {h["team"] for h in await store.search("it-support", SAME, limit=50)} == {"it-support"}
    assert sorted(h["ticket_id"] for h in await store.search("hr", SAME, limit=50)) == ["T-1", "T-2"], "a requester's memory needs the requester"
    assert sorted(h["ticket_id"] for h in await store.search("hr", SAME, limit=50, requester_id="ana.silva")) == ["T-1", "T-2", "T-3"]
    assert await store.search("finance", SAME) == []
    assert (await store.count("it-support"), await store.count("hr"), await store.count("finance")) == (1, 3, 0)
    assert [f["team"] for f in await store.facts("it-support", ticket_id="T-1")] == ["it-support"]
    assert [h["team"] for h in await store.history("hr", "ticket", "T-1", "resolution")] == ["hr"]
    assert all("_state" not in h for h in await store.search("hr", SAME, limit=50)), "the engine's own bookkeeping stays inside it"
    with pytest.raises(ValueError, match="names its team"):
        await store.search("", SAME)


async def test_deleting_or_retiring_by_id_touches_only_the_named_teams_points(two_teams: MemoryStore) -> None:
    store = two_teams
    it_id = fact("it-support", "T-1").point_id
    hr_id = fact("hr", "T-1").point_id
    await store.delete_ids("hr", [it_id])
    await store.retire("hr", [it_id], NOW)
    assert await store.count("it-support", current_only=True) == 1, "another team's id does nothing"
    await store.retire("hr", [hr_id], NOW)
    assert [h["ticket_id"] for h in await store.search("hr", SAME, limit=50)] == ["T-2"], "a retired fact is not searched"
    assert await store.count("hr") == 3 and await store.count("hr", current_only=True) == 2


async def test_forgetting_a_coworker_deletes_its_memories_in_every_team(two_teams: MemoryStore) -> None:
    assert await two_teams.forget("coworker", "jordan") == 2
    assert (await two_teams.count("it-support"), await two_teams.count("hr")) == (0, 2)


async def test_the_embedded_engine_indexes_the_fields_memory_filters_by_with_team_as_tenant(store: MemoryStore) -> None:
    schema = store.engine.shard.info().payload_schema  # type: ignore[attr-defined]
    assert {"team", "scope", "subject", "requester_id", "coworker", "ticket_id", "last_seen_ts", "_state"} <= set(schema)
    assert schema["team"].params.is_tenant is True
