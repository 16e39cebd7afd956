"""Triage's decision logic with the real offline model, without a broker."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from contracts.catalog import load_catalog
from contracts.envelope import Actor
from contracts.events import SkillRequested, TicketEscalated, TicketTriaged
from runtime.embeddings import LocalEmbedder
from services.triage.decisions import Policy, triage, usage
from services.triage.routing import SkillIndex, index_texts
from services.triage.settings import DEFAULT_CATALOG
from tests.conftest import coworker_row, table_of, ticket

POLICY = Policy(threshold=0.5, queue="service-desk", model="all-MiniLM-L6-v2", model_version="v", provider="local", source="/services/triage")


@pytest.fixture(scope="module")
def table(workforce) -> dict:  # noqa: ANN001
    return table_of(*(coworker_row(m) for m in workforce.values())).data


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    model = LocalEmbedder()
    model.load()
    return model


@pytest.fixture(scope="module")
def index(embedder: LocalEmbedder) -> SkillIndex:
    catalog = load_catalog(DEFAULT_CATALOG)
    return SkillIndex(catalog, embedder.embed_sync(index_texts(catalog)).vectors)


@pytest.mark.parametrize(
    ("text", "skill"),
    [
        ("i forgot my okta password and cannot log in", "password-reset"),
        ("my account got locked after too many attempts", "password-reset"),
        ("my laptop has been really slow all week and the fan is loud", "laptop-troubleshoot"),
        ("outlook crashes every time i try to open it", "app-crash"),
        ("please grant me access to the marketing sharepoint site", "app-access"),
        ("how many days of annual leave do i still have", "leave-balance"),
        ("we need to buy three new monitors for the design team", "purchase-request"),
        ("new hire starts monday and needs a laptop and accounts", "onboarding"),
    ],
)
def test_a_clear_ticket_goes_to_the_skill_that_handles_it(index: SkillIndex, embedder: LocalEmbedder, text: str, skill: str) -> None:
    (route,) = index.route(embedder.embed_sync([text]).vectors)
    assert route.skill.name == skill
    assert route.confident(POLICY.threshold)


def test_a_ticket_no_skill_covers_is_escalated_with_the_whole_context(index: SkillIndex, embedder: LocalEmbedder, table: dict) -> None:
    created = ticket(title="The coffee machine on the third floor is leaking", description="water everywhere")
    (route,) = index.route(embedder.embed_sync([created.data.text]).vectors)
    (escalated,) = triage(created, route, table, POLICY)
    assert isinstance(escalated, TicketEscalated)
    assert escalated.data.reason_code == "low_confidence"
    handoff = escalated.data.handoff
    assert handoff.ticket == created.data
    assert handoff.transcript[0].text == created.data.text
    assert handoff.candidates and handoff.candidates[0].score < POLICY.threshold
    assert "below the threshold 0.50" in handoff.why


def test_a_routed_ticket_is_recorded_and_sent_to_the_coworker(index: SkillIndex, embedder: LocalEmbedder, table: dict) -> None:
    created = ticket(title="Forgot my password", requester="priya.sharma")
    (route,) = index.route(embedder.embed_sync([created.data.text]).vectors)
    triaged, requested = triage(created, route, table, POLICY)
    assert isinstance(triaged, TicketTriaged) and isinstance(requested, SkillRequested)
    assert triaged.data.coworker == requested.data.coworker == "jordan"
    assert triaged.data.coworker_version == requested.data.coworker_version == 1
    assert triaged.actor == Actor.coworker("triage-manager")
    assert triaged.data.confidence == route.confidence >= 0.5
    assert [c.score for c in triaged.data.candidates] == sorted((c.score for c in triaged.data.candidates), reverse=True)
    assert requested.data.inputs == {"user": "priya.sharma@acme.example"}
    assert requested.causation_id == created.id and requested.correlation_id == created.correlation_id


def test_the_same_ticket_triaged_twice_yields_the_same_event_ids(index: SkillIndex, embedder: LocalEmbedder, table: dict) -> None:
    created = ticket(title="password expired")
    (route,) = index.route(embedder.embed_sync([created.data.text]).vectors)
    assert [e.id for e in triage(created, route, table, POLICY)] == [e.id for e in triage(created, route, table, POLICY)]


def test_work_goes_to_the_top_of_the_org_and_never_to_a_suspended_coworker(index: SkillIndex, embedder: LocalEmbedder, workforce) -> None:  # noqa: ANN001
    created = ticket(title="My laptop is very slow and freezes all the time")
    (route,) = index.route(embedder.embed_sync([created.data.text]).vectors)
    everyone = {name: coworker_row(m) for name, m in workforce.items()}
    triaged, _ = triage(created, route, table_of(*everyone.values()).data, POLICY)
    assert (route.skill.name, triaged.data.coworker) == ("laptop-troubleshoot", "it-support-workspace-manager")
    everyone["it-support-workspace-manager"] = coworker_row(workforce["it-support-workspace-manager"], state="suspended")
    triaged, _ = triage(created, route, table_of(*everyone.values()).data, POLICY)
    assert triaged.data.coworker == "hardware-support-specialist", "with its parent suspended, the holder takes the work directly"
    everyone["hardware-support-specialist"] = coworker_row(workforce["hardware-support-specialist"], state="suspended")
    (escalated,) = triage(created, route, table_of(*everyone.values()).data, POLICY)
    assert escalated.data.reason_code == "out_of_scope"
    assert "no active coworker takes that work" in escalated.data.reason


def test_token_counts_are_the_models_own_and_unpadded(embedder: LocalEmbedder) -> None:
    assert embedder.count_tokens("reset my password") == 5  # [CLS] reset my password [SEP]
    assert embedder.count_tokens("word " * 1000) == embedder.max_seq_length  # truncated like the model reads it
    result = embedder.embed_sync(["reset my password", "hello"])
    assert result.tokens == [5, 3]
    assert np.allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)


def test_usage_is_attributed_to_the_tickets_team_and_the_triage_coworker_at_the_configured_price(embedder: LocalEmbedder) -> None:
    created = ticket(team="hr", title="vacation days")
    event = usage(created, POLICY, Actor.coworker("triage-manager"), tokens=40, cost_usd=Decimal("0.0000040"), latency_ms=3.2)
    assert event.data.coworker == "triage-manager"
    assert event.team == "hr" and event.data.ticket_id == created.data.ticket_id
    assert event.data.prompt_tokens == 40 and event.data.cost_usd == Decimal("0.000004")
    assert event.data.provider == "local"
