"""Memory's behaviour on Qdrant local mode with the real offline embedder: scopes and team isolation,
reconciliation (repeat, correction, history), redaction, retention, erasure on request, recall
ranked within a token budget, and the collection's embedding-model marker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.envelope import Actor
from contracts.events import (
    Answer,
    ErasureRequest,
    LlmUsage,
    MemoryErasureRequested,
    MemoryForgotten,
    MemoryRecallRequested,
    MemoryRecalled,
    MemoryRecorded,
    RecallRequest,
    Reroute,
    Resolution,
    TicketAnswered,
    TicketRerouted,
    TicketResolved,
)
from runtime.embeddings import LocalEmbedder
from services.memory.memory import Memory, count_tokens
from services.memory.settings import MemorySettings
from services.memory.store import MemoryStore
from tests.conftest import ticket

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    model = LocalEmbedder()
    model.load()
    return model


@pytest.fixture
def settings(tmp_path: Path) -> MemorySettings:
    return MemorySettings(qdrant_path=tmp_path / "qdrant", qdrant_url=None, retention_days_ticket=30, retention_days_team=0)


@pytest.fixture
async def memory(settings: MemorySettings, embedder: LocalEmbedder) -> AsyncIterator[Memory]:
    store = MemoryStore(settings)
    await store.open(dimensions=embedder.dimensions, model=embedder.model)
    yield Memory(store, embedder, settings)
    await store.close()


def resolved(team: str, title: str, resolution: str, *, requester: str = "ana.silva", ticket_id: str | None = None, at: datetime | None = None) -> TicketResolved:
    created = ticket(ticket_id, team=team, title=title, requester=requester)
    event = created.caused(TicketResolved, Resolution(ticket_id=created.data.ticket_id, ticket=created.data, resolution=resolution, skill="password-reset"), source="/services/skills", actor=Actor.coworker("jordan"))
    return event.model_copy(update={"time": at}) if at else event


def rerouted(team: str, ticket_id: str, category: str, *, at: datetime, reason: str = "") -> TicketRerouted:
    created = ticket(ticket_id, team=team, title="laptop fan is loud and the screen flickers")
    event = created.caused(TicketRerouted, Reroute(ticket_id=ticket_id, ticket=created.data, category=category, reason=reason), source="/upstream/tests", actor=Actor.human("priya.raman"), ordinal=category)
    return event.model_copy(update={"time": at})


def answered(team: str, ticket_id: str, text: str, *, requester: str = "ana.silva") -> TicketAnswered:
    created = ticket(ticket_id, team=team, requester=requester)
    return created.caused(TicketAnswered, Answer(ticket_id=ticket_id, text=text), source="/upstream/tests", actor=Actor.human(requester), ordinal=text[:20])


def recall_request(team: str, text: str, **fields: object) -> MemoryRecallRequested:
    created = ticket(str(fields.get("ticket_id") or "T-recall"), team=team)
    return created.caused(MemoryRecallRequested, RecallRequest(request_id=f"r-{team}", text=text, **fields), source="/services/tests")  # type: ignore[arg-type]


async def test_one_team_never_reads_another_teams_memories_through_any_query(memory: Memory) -> None:
    it = resolved("it-support", "vpn keeps disconnecting", "Reinstalled the VPN client profile.", ticket_id="T-same")
    hr = resolved("hr", "vpn keeps disconnecting", "Told them to ask IT.", ticket_id="T-same")  # same ticket id, same fact name
    await memory.remember([(it, memory.resolved_fact(it)), (hr, memory.resolved_fact(hr))])
    store = memory.store
    assert await store.count("it-support") == 1 and await store.count("hr") == 1, "same name in two teams: two facts, not one"
    vector = (await memory.embedder.embed(["my vpn drops every few minutes"])).vectors[0].tolist()
    assert {h["team"] for h in await store.search("it-support", vector, limit=50)} == {"it-support"}
    assert [h["text"].splitlines()[-1] for h in await store.search("hr", vector, limit=50)] == ["Resolution: Told them to ask IT."]
    assert await store.search("finance", vector) == []
    assert [h["team"] for h in await store.history("hr", "ticket", "T-same", "resolution")] == ["hr"]
    assert [h["team"] for h in await store.facts("it-support", ticket_id="T-same")] == ["it-support"]
    recalled = (await memory.recall(recall_request("finance", "vpn disconnecting")))[0]
    assert isinstance(recalled, MemoryRecalled) and recalled.data.items == []
    it_recall = (await memory.recall(recall_request("it-support", "vpn disconnecting")))[0]
    assert [i.text.splitlines()[-1] for i in it_recall.data.items] == ["Resolution: Reinstalled the VPN client profile."]
    with pytest.raises(ValueError, match="names its team"):
        await store.search("", vector)


async def test_against_a_server_the_collection_gets_a_team_tenant_index_and_the_model_marker(settings: MemorySettings, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Qdrant server runs here: a recording stand-in for the client shows what ``open`` asks a server for."""
    from qdrant_client import models

    calls: list[tuple[str, dict]] = []

    class Recording:
        def __init__(self, **kwargs: object) -> None:
            calls.append(("connect", kwargs))

        async def collection_exists(self, name: str) -> bool:
            return False

        async def create_collection(self, name: str, **kwargs: object) -> None:
            calls.append(("create_collection", kwargs))

        async def create_payload_index(self, name: str, **kwargs: object) -> None:
            calls.append(("create_payload_index", kwargs))

    monkeypatch.setattr("services.memory.engines.AsyncQdrantClient", Recording)
    store = MemoryStore(settings.model_copy(update={"qdrant_url": "http://qdrant.invalid:6333"}))
    await store.open(dimensions=384, model="all-MiniLM-L6-v2")
    created = [kw for name, kw in calls if name == "create_collection"]
    assert len(created) == 1 and created[0]["metadata"] == {"embedding_model": "all-MiniLM-L6-v2", "dimensions": 384}
    indexes = {kw["field_name"]: kw["field_schema"] for name, kw in calls if name == "create_payload_index"}
    assert indexes["team"] == models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
    assert {"scope", "requester_id", "current", "last_seen_ts"} <= set(indexes)


async def test_local_mode_records_the_model_marker_on_the_collection(settings: MemorySettings) -> None:
    store = MemoryStore(settings)
    await store.open(dimensions=384, model="all-MiniLM-L6-v2")
    assert await store.marker() == {"embedding_model": "all-MiniLM-L6-v2", "dimensions": 384}
    await store.close()


async def test_a_repeated_fact_is_updated_not_duplicated_and_a_redelivery_changes_nothing(memory: Memory) -> None:
    first = resolved("it-support", "printer jam on floor 3", "Cleared the tray.", ticket_id="T-print", at=NOW - timedelta(hours=2))
    again = resolved("it-support", "printer jam on floor 3", "Cleared the tray.", ticket_id="T-print", at=NOW - timedelta(hours=1))
    out = await memory.remember([(first, memory.resolved_fact(first))])
    out += await memory.remember([(first, memory.resolved_fact(first))])  # redelivered
    out += await memory.remember([(again, memory.resolved_fact(again))])  # the same fact from another event
    assert await memory.store.count("it-support") == 1
    (fact,) = await memory.store.facts("it-support", ticket_id="T-print")
    assert fact["seen"] == 2 and fact["last_seen_ts"] == pytest.approx((NOW - timedelta(hours=1)).timestamp())
    recorded = [e for e in out if isinstance(e, MemoryRecorded)]
    assert len({e.id for e in recorded[:2]}) == 1, "a redelivery emits the same memory.recorded (same id) again"
    assert {e.data.memory_id for e in recorded} == {fact["id"]}
    usage = [e for e in out if isinstance(e, LlmUsage)]
    assert usage and all(u.data.coworker == "jordan" and u.data.purpose == "memory.embed" for u in usage)


async def test_a_corrected_fact_supersedes_the_old_one_which_stays_queryable_as_history(memory: Memory) -> None:
    t0 = NOW - timedelta(days=2)
    wrong = rerouted("it-support", "T-laptop", "Software", at=t0)
    right = rerouted("it-support", "T-laptop", "Hardware", at=t0 + timedelta(hours=3), reason="the fan is hardware")
    await memory.remember([(wrong, memory.rerouted_fact(wrong))])
    await memory.remember([(right, memory.rerouted_fact(right))])
    await memory.remember([(right, memory.rerouted_fact(right))])  # redelivered correction
    history = await memory.store.history("it-support", "team", "it-support", "route:T-laptop")
    assert [("Hardware" in h["text"], h["current"]) for h in history] == [(False, False), (True, True)]
    assert history[0]["valid_to"] == history[1]["valid_from"] == right.time.astimezone(UTC).isoformat()
    assert history[1]["valid_to"] is None and history[0]["superseded_by"] == right.id
    vector = (await memory.embedder.embed(["laptop fan loud screen flickers"])).vectors[0].tolist()
    found = await memory.store.search("it-support", vector, limit=10)
    assert [h["category"] for h in found] == ["Hardware"], "search returns the current fact only"
    # a late-arriving older correction does not overwrite the newer one: it becomes history
    late = rerouted("it-support", "T-laptop", "Network", at=t0 - timedelta(hours=1))
    await memory.remember([(late, memory.rerouted_fact(late))])
    history = await memory.store.history("it-support", "team", "it-support", "route:T-laptop")
    assert [h["category"] for h in history] == ["Network", "Software", "Hardware"]
    assert [h["category"] for h in await memory.store.search("it-support", vector, limit=10)] == ["Hardware"]


async def test_secrets_and_card_numbers_are_redacted_before_anything_is_stored(memory: Memory) -> None:
    event = resolved("it-support", "card 4111 1111 1111 1111 declined, my password is Hunter2!", "Reset; api_key=sk-abcdefghijklmnopqrstuvwx given. Order 1234 5678 9012 3456.", ticket_id="T-pii")
    await memory.remember([(event, memory.resolved_fact(event))])
    (fact,) = await memory.store.facts("it-support", ticket_id="T-pii")
    stored = str(fact)
    assert "4111" not in stored and "Hunter2" not in stored and "sk-abc" not in stored
    assert "[CARD]" in fact["text"] and fact["text"].count("[REDACTED]") == 2
    assert "1234 5678 9012 3456" in fact["text"], "a number that fails Luhn is not a card: it stays"
    turn = answered("it-support", "T-pii", "the token=abc123def and my SSN 123-45-6789")
    await memory.remember([*((turn, f) for f in memory.answered_facts(turn))])
    texts = [f["text"] for f in await memory.store.facts("it-support", ticket_id="T-pii")]
    assert "requester: the token=[REDACTED] and my SSN [REDACTED]" in texts


async def test_retention_deletes_per_scope_what_was_not_seen_for_longer_than_its_scope_keeps(memory: Memory) -> None:
    old = resolved("it-support", "old vpn issue", "Fixed.", ticket_id="T-old", at=NOW - timedelta(days=40))
    fresh = resolved("it-support", "new vpn issue", "Fixed.", ticket_id="T-new", at=NOW - timedelta(days=1))
    correction = rerouted("it-support", "T-route", "Hardware", at=NOW - timedelta(days=400))  # team scope: kept forever (0)
    await memory.remember([(old, memory.resolved_fact(old)), (fresh, memory.resolved_fact(fresh)), (correction, memory.rerouted_fact(correction))])
    erased = await memory.sweep(NOW)
    assert [(e.scope, e.deleted) for e in erased] == [("ticket", 1)]
    assert sorted(f["ticket_id"] for f in await memory.store.facts("it-support")) == ["T-new", "T-route"]
    assert await memory.sweep(NOW) == []


async def test_forgetting_a_requester_on_request_deletes_all_their_memories_history_included_and_says_how_many(memory: Memory) -> None:
    mine = resolved("it-support", "vpn down", "Restarted the VPN.", requester="ana.silva", ticket_id="T-a", at=NOW - timedelta(hours=3))
    mine_again = resolved("it-support", "vpn down", "Reissued the VPN certificate.", requester="ana.silva", ticket_id="T-a", at=NOW - timedelta(hours=1))
    theirs = resolved("it-support", "printer jam", "Cleared the tray.", requester="bo.chen", ticket_id="T-b")
    turn = answered("it-support", "T-a", "It is the Cisco client", requester="ana.silva")
    await memory.remember([(mine, memory.resolved_fact(mine)), (theirs, memory.resolved_fact(theirs))])
    await memory.remember([(mine_again, memory.resolved_fact(mine_again)), *((turn, f) for f in memory.answered_facts(turn))])
    assert await memory.store.count("it-support") == 4  # ana's resolution, its history, her answer, bo's resolution
    request = ticket("T-a").caused(MemoryErasureRequested, ErasureRequest(scope="requester", subject="ana.silva", reason="GDPR art. 17 request"), source="/cli", actor=Actor.human("dpo"))
    (forgotten,) = await memory.erase(request)
    assert isinstance(forgotten, MemoryForgotten) and (forgotten.data.deleted, forgotten.subject) == (3, "ana.silva")
    assert [f["requester_id"] for f in await memory.store.facts("it-support")] == ["bo.chen"]
    assert (await memory.erase(request))[0].data.deleted == 0


async def test_recall_ranks_by_similarity_recency_and_scope_and_fits_the_token_budget(memory: Memory) -> None:
    texts = [
        ("T-1", "bo.chen", "vpn disconnects every few minutes on wifi", "Reinstalled the VPN client profile.", 3),
        ("T-2", "ana.silva", "vpn disconnects after the laptop sleeps", "Turned off the network adapter power saving.", 20),
        ("T-3", "cy.diaz", "outlook will not open", "Repaired the Office install.", 1),
        ("T-4", "dee.e", "vpn client fails to connect at all", "Renewed the expired VPN certificate. " * 20, 1),
    ]
    events = [resolved("it-support", title, fix, requester=who, ticket_id=tid, at=NOW - timedelta(days=age)) for tid, who, title, fix, age in texts]
    await memory.remember([(e, memory.resolved_fact(e)) for e in events])
    out = await memory.recall(recall_request("it-support", "my vpn keeps dropping", requester_id="ana.silva", token_budget=60, limit=3))
    reply, usage = out
    assert isinstance(reply, MemoryRecalled) and isinstance(usage, LlmUsage) and usage.data.purpose == "memory.recall"
    items = reply.data.items
    assert reply.data.tokens == sum(i.tokens for i in items) <= 60
    assert all(i.tokens == count_tokens(i.text) for i in items)
    assert "T-4" not in [i.ticket_id for i in items], "the long memory does not fit the budget"
    assert [i.score for i in items] == sorted((i.score for i in items), reverse=True)
    assert items[0].ticket_id == "T-2", "the requester's own (older) memory wins over a stranger's similar one"
    assert "T-1" in [i.ticket_id for i in items]
    assert "T-3" not in [i.ticket_id for i in items], "a fresh but unrelated memory is not recalled"
    big = (await memory.recall(recall_request("it-support", "my vpn keeps dropping", token_budget=2000, limit=3)))[0]
    assert [i.ticket_id for i in big.data.items][:1] == ["T-1"], "without the requester, the fresher close match leads"
    assert "T-4" in [i.ticket_id for i in big.data.items]


async def test_a_collection_built_by_another_embedding_model_is_refused_and_an_unmarked_one_is_adopted(tmp_path: Path) -> None:
    settings = MemorySettings(qdrant_path=tmp_path / "qdrant", qdrant_url=None)
    first = MemoryStore(settings)
    await first.open(dimensions=384, model="all-MiniLM-L6-v2")
    await first.close()
    other = MemoryStore(settings)
    with pytest.raises(RuntimeError, match="was built with embedding model 'all-MiniLM-L6-v2'; the configured model is 'openai/e5-small'"):
        await other.open(dimensions=384, model="openai/e5-small")
    await other.close()
    # a collection from before the marker: adopted by the model that opens it with the right dimension
    legacy = MemorySettings(qdrant_path=tmp_path / "legacy", qdrant_url=None)
    from qdrant_client import AsyncQdrantClient, models

    client = AsyncQdrantClient(path=str(legacy.qdrant_path))
    await client.create_collection("memories", vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE))
    await client.close()
    store = MemoryStore(legacy)
    await store.open(dimensions=384, model="all-MiniLM-L6-v2")
    assert await store.marker() == {"embedding_model": "all-MiniLM-L6-v2", "dimensions": 384}
    await store.close()


async def test_ingested_knowledge_is_recalled_and_a_shorter_new_version_retires_its_stale_chunks(memory: Memory, tmp_path: Path) -> None:
    from deploy.memory import knowledge_events, read_document

    doc = tmp_path / "vpn.md"
    doc.write_text("# VPN runbook\n\n" + "\n\n".join(f"Step {i}: " + "check the VPN certificate and the client profile. " * 12 for i in range(6)))
    first = list(knowledge_events(read_document(doc), team="it-support", actor=Actor.human("priya.raman")))
    assert len(first) >= 3
    await memory.remember([(e, memory.knowledge_fact(e)) for e in first])
    await memory.retire_stale_chunks(first[-1])
    reply = (await memory.recall(recall_request("it-support", "how do I fix the vpn certificate", token_budget=4000, limit=10)))[0]
    assert {i.scope for i in reply.data.items} == {"team"} and len(reply.data.items) == len(first)
    assert (await memory.recall(recall_request("hr", "how do I fix the vpn certificate")))[0].data.items == []
    doc.write_text("# VPN runbook\n\nUse the new always-on VPN: no certificate to check.")
    second = [e.model_copy(update={"time": e.time}) for e in knowledge_events(read_document(doc), team="it-support", actor=Actor.human("priya.raman"))]
    assert len(second) == 1
    await memory.remember([(e, memory.knowledge_fact(e)) for e in second])
    await memory.retire_stale_chunks(second[-1])
    current = await memory.store.facts("it-support", kind="knowledge")
    assert [f["text"] for f in current] == ["VPN runbook\n# VPN runbook\n\nUse the new always-on VPN: no certificate to check."]
    history = await memory.store.history("it-support", "team", current[0]["subject"], "chunk:0")
    assert [h["current"] for h in history] == [False, True], "the old chunk 0 stays as history"


async def test_an_escalated_tickets_handoff_carries_transcript_facts_tries_recall_why_and_next_action(memory: Memory, workforce, skill_router) -> None:  # noqa: ANN001
    """The real events of one ticket: a question and its answer, then triage (the real decider, with a
    strict threshold) escalates; memory answers the handoff recall for the person taking over."""
    from contracts.events import Question, TicketQuestion
    from deploy.handoff import package
    from contracts.handoff import handoff_recall
    from services.triage.decisions import Policy, Triager
    from services.triage.train import read_csv, train
    from tests.conftest import FIXTURES, coworker_row, table_of
    from tests.unit.test_triage import CATALOG, decide

    model = train(read_csv(FIXTURES / "it_tickets_sample.csv"), CATALOG, source="fixture", say=lambda _: None)
    table = table_of(*(coworker_row(m) for m in workforce.values())).data
    team = "it-support"
    earlier = resolved(team, "Outlook keeps asking for my password", "Removed the stale Outlook credentials from the keychain.", requester="bo.chen", at=NOW - timedelta(days=3))
    await memory.remember([(earlier, memory.resolved_fact(earlier))])
    strict = Triager(CATALOG, Policy(threshold=0.999, queue="service-desk", model="m", model_version=model.version, source="/services/triage"))
    created = ticket(team=team, title="Outlook asks for my password again and again", requester="ana.silva")
    question = created.caused(TicketQuestion, Question(ticket_id=created.data.ticket_id, category="Access", skill="app-access", field="app", question="Which application?", to=created.data.requester), source="/services/triage", actor=Actor.coworker("triage-manager"))
    answer = created.caused(TicketAnswered, Answer(ticket_id=created.data.ticket_id, text="Outlook on my Mac"), source="/upstream/tests", actor=Actor.human("ana.silva"))
    question = question.model_copy(update={"time": created.time + timedelta(seconds=1)})
    answer = answer.model_copy(update={"time": created.time + timedelta(seconds=2)})
    (escalated,) = decide(strict, model, table, created, router=skill_router, unsure=True).events  # neither model sure
    escalated = escalated.model_copy(update={"time": created.time + timedelta(seconds=3)})
    out = await memory.recall(handoff_recall(escalated, source="/services/triage"))
    recalled = next(e for e in out if isinstance(e, MemoryRecalled))
    assert recalled.data.request_id == f"handoff:{escalated.id}" and recalled.correlation_id == created.data.ticket_id
    handoff = package([created, question, answer, escalated, *out])
    assert handoff.why and handoff.next_action.startswith("Confirm whether this is")
    assert [t.text for t in handoff.transcript] == [created.data.text, "Which application?", "Outlook on my Mac"]
    assert handoff.tried and handoff.tried[0].outcome == "failed"
    assert handoff.candidates, "the best-matching skills, for the person to pick"
    assert any(f.startswith("priority: ") for f in handoff.facts) and any(f.startswith("most likely category: ") for f in handoff.facts)
    assert "asked app: Which application?" in handoff.facts
    assert handoff.recall and "stale Outlook credentials" in handoff.recall[0].text
    assert all(getattr(handoff, name) for name in type(handoff).model_fields), "every field of the handoff is filled"


async def test_names_and_emails_stay_in_the_requesters_scope_and_only_their_own_recall_sees_it(memory: Memory) -> None:
    event = resolved("it-support", "Ana Silva here: my VPN drops every hour, write to ana.silva@acme.example", "Reissued the VPN certificate for ana.silva.", requester="ana.silva", ticket_id="T-vpn")
    await memory.remember([(event, fact) for fact in (memory.resolved_fact(event), *memory.requester_facts(event))])
    (shared,) = await memory.store.facts("it-support", scope="ticket")
    assert "Ana" not in shared["text"] and "acme.example" not in shared["text"] and "ana.silva" not in shared["text"]
    assert shared["text"].startswith("[PERSON] here: my VPN drops every hour, write to [EMAIL]")
    (own,) = await memory.store.facts("it-support", scope="requester")
    assert (own["subject"], own["kind"]) == ("ana.silva", "history") and "ana.silva@acme.example" in own["text"]
    for who in (None, "bo.chen"):
        items = (await memory.recall(recall_request("it-support", "vpn keeps dropping", requester_id=who)))[0].data.items
        assert [i.scope for i in items] == ["ticket"] and "Ana" not in items[0].text, f"{who or 'nobody'} sees the ticket, not Ana's copy"
    items = (await memory.recall(recall_request("it-support", "vpn keeps dropping", requester_id="ana.silva")))[0].data.items
    assert [i.scope for i in items] == ["requester"], "Ana's own recall: her copy, once (not also the shared one)"
    (forgotten,) = await memory.erase(ticket("T-x").caused(MemoryErasureRequested, ErasureRequest(scope="requester", subject="ana.silva", reason="erasure"), source="/cli", actor=Actor.human("dpo")))
    assert forgotten.data.deleted == 2 and await memory.store.count("it-support") == 0


async def test_a_requesters_stated_preference_is_kept_in_their_scope_and_a_later_one_supersedes_it(memory: Memory) -> None:
    first = answered("it-support", "T-p1", "It is the Cisco client. Please call me on Teams, I am in the Berlin office.")
    await memory.remember([(first, f) for f in memory.answered_facts(first)])
    later = answered("it-support", "T-p2", "Email me instead, I am travelling.")
    later = later.model_copy(update={"time": first.time + timedelta(hours=1)})
    await memory.remember([(later, f) for f in memory.answered_facts(later)])
    prefs = {f["topic"]: f["value"] for f in await memory.store.facts("it-support", scope="requester")}
    assert prefs == {"contact": "Email", "location": "in the Berlin office"}
    history = await memory.store.history("it-support", "requester", "ana.silva", "pref:contact")
    assert [(h["value"], h["current"]) for h in history] == [("Teams", False), ("Email", True)], "the old preference stays as history"
    items = (await memory.recall(recall_request("it-support", "how does she want to be contacted, email or Teams?", requester_id="ana.silva", limit=3)))[0].data.items
    assert items[0].scope == "requester" and "Email" in items[0].text
    assert not [i for i in (await memory.recall(recall_request("it-support", "how does she want to be contacted?", requester_id="bo.chen")))[0].data.items if i.scope == "requester"]


async def test_a_coworkers_failed_skill_becomes_its_lesson_seen_again_not_duplicated_and_without_the_requester(memory: Memory) -> None:
    from contracts.events import SkillFailed, SkillFailure

    def failed(ticket_id: str, requester: str, at: datetime) -> SkillFailed:
        reason = f"Okta has no user '{requester}@acme.example' (E0000007)"
        failure = SkillFailure(ticket_id=ticket_id, skill="password-reset", coworker="jordan", failed_step=1, error_code="user_not_found", reason=reason, requester_id=requester)
        return ticket(ticket_id).caused(SkillFailed, failure, source="/services/skills", actor=Actor.coworker("jordan")).model_copy(update={"time": at})

    await memory.remember([(e, memory.lesson_fact(e)) for e in (failed("T-l1", "ana.silva", NOW - timedelta(hours=2)), failed("T-l2", "bo.chen", NOW - timedelta(hours=1)))])
    (lesson,) = await memory.store.facts("it-support", scope="coworker")
    assert (lesson["subject"], lesson["seen"]) == ("jordan", 2), "the same failure twice is one lesson seen twice"
    assert lesson["text"] == "password-reset stopped at step 1 (user_not_found): Okta has no user '[EMAIL]' (E0000007)."
    items = (await memory.recall(recall_request("it-support", "password reset: okta user not found", coworker="jordan")))[0].data.items
    assert items and items[0].text == lesson["text"]
