"""Explaining, searching, exporting and reporting on the audit trail, and retention with legal holds,
in a real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from contracts.coworkers import LifecycleState
from contracts.envelope import Actor
from contracts.events import (
    ApprovalDecision,
    ApprovalGranted,
    LlmUsage,
    PolicyAllowed,
    PolicyDecision,
    PolicyDenied,
    SkillRequest,
    SkillRequested,
    SkillStep,
    StepRecord,
    TicketTriaged,
    TokenUsage,
    TriageDecision,
)
from runtime.db import Database
from services.governance import audit, coworkers, explain, retention, search
from services.governance.lifecycle import Coworker
from services.governance.reports import audit_report
from tests.conftest import ticket
from tests.unit.test_contracts import JORDAN

SKILLS = "/services/skills"


@pytest.fixture
async def writer(service_database, database_url: str) -> AsyncIterator[asyncpg.Pool]:  # noqa: ANN001
    db: Database = await service_database("governance")
    async with db.pool.acquire() as conn, conn.transaction():
        await coworkers.save(conn, Coworker("jordan", LifecycleState.active, {1: JORDAN}, active_version=1), by="human:priya.raman", new_version=1)
    pool = await audit.connect_as_governance(database_url, "governance", max_size=2)
    yield pool
    await pool.close()


def flow(*, approved: bool = True, policy_for_step_1: bool = True, days_ago: float = 0) -> list:
    """A password reset as the services record it: triage, request, decisions, two steps, a model call."""
    created = ticket(team="it-support")
    if days_ago:
        created = created.model_copy(update={"time": datetime.now(UTC) - timedelta(days=days_ago)})
    tid = created.data.ticket_id
    at = created.time

    def caused(cls, data, n=0, actor=None):  # noqa: ANN001, ANN202
        return created.caused(cls, data, source=SKILLS, ordinal=n, actor=actor or Actor.system("skills")).model_copy(update={"time": at + timedelta(seconds=n + 1)})

    policy = lambda step, scope, rule="holds-scope": PolicyDecision(  # noqa: E731
        decision_id=f"{tid}-d{step}", ticket_id=tid, coworker="jordan", coworker_version=1, skill="password-reset", step=step, system="okta", scope=scope, allowed=True, rule=rule, reason=f"jordan holds okta:{scope}"
    )
    step = lambda n, op: StepRecord(ticket_id=tid, skill="password-reset", coworker="jordan", step=n, name=f"s{n}", system="okta", operation=op, idempotency_key=f"{tid}/{n}", status="done", inputs={"user": "j***@acme.example"})  # noqa: E731
    events = [
        created,
        caused(TicketTriaged, TriageDecision(ticket_id=tid, category="Access", coworker="jordan", coworker_version=1, skill="password-reset", confidence=0.97, priority="P3", priority_reason="one person", method="classifier", model="tfidf-svc", model_version="2026-11-20"), 1),
        caused(SkillRequested, SkillRequest(ticket_id=tid, skill="password-reset", coworker="jordan", coworker_version=1, ticket=created.data, confidence=0.97), 2),
        caused(LlmUsage, TokenUsage(purpose="triage.embed", model="all-MiniLM-L6-v2", provider="local", prompt_tokens=64, cost_usd=Decimal("0.0000032"), ticket_id=tid), 3),
    ]
    if policy_for_step_1:
        events.append(caused(PolicyAllowed, policy(1, "users.read"), 4, Actor.system("policy")))
    events.append(caused(SkillStep, step(1, "users.read"), 5, Actor.coworker("jordan")))
    events.append(caused(PolicyAllowed, policy(2, "users.reset_password", "approved"), 6, Actor.system("policy")))
    if approved:
        events.append(caused(ApprovalGranted, ApprovalDecision(approval_id=f"{tid}-a", ticket_id=tid, coworker="jordan", skill="password-reset", step=2), 7, Actor.human("priya.raman")))
    events.append(caused(SkillStep, step(2, "users.reset_password"), 8, Actor.coworker("jordan")))
    return events


async def test_one_query_explains_an_action_who_what_why_and_cost(writer: asyncpg.Pool) -> None:
    events = flow()
    reset = events[-1]
    async with writer.acquire() as conn:
        await audit.record(conn, events)
        action = await explain.explain(conn, reset.id)
        entries = await explain.timeline(conn, reset.correlation_id)
    assert action is not None and action.complete, action.missing if action else None
    assert (action["coworker"], action["coworker_version"], action["manager"]["email"]) == ("jordan", 1, JORDAN.manager.email)
    assert (action["system"], action["operation"], action["inputs"]) == ("okta", "users.reset_password", {"user": "j***@acme.example"})
    assert action["triage"]["confidence"] == 0.97 and action["triage"]["model_version"] == "2026-11-20"
    assert action["policy"]["decision_id"].endswith("-d2") and action["policy"]["rule"] == "approved"
    assert action["approval"]["by"] == "human:priya.raman" and action["approval"]["granted"]
    assert action["tokens"] == 64
    assert [e.type for e in entries][:3] == ["ticket.created", "ticket.triaged", "skill.requested"]
    assert "okta users.reset_password by jordan: done" in entries[-1].summary


async def test_an_action_without_its_approval_or_policy_decision_fails_the_audit(writer: asyncpg.Pool) -> None:
    async with writer.acquire() as conn:
        await audit.record(conn, flow())  # 2 complete actions
        await audit.record(conn, flow(approved=False, policy_for_step_1=False))  # 2 incomplete
        rate = await explain.pass_rate(conn, since=datetime.now(UTC) - timedelta(days=1))
    assert (rate.actions, rate.complete, rate.rate) == (4, 2, 0.5)
    assert rate.gaps == {"why: policy decision": 1, "why: the approval": 1}


async def test_search_by_coworker_system_type_outcome_and_time_and_export_to_jsonl_and_parquet(writer: asyncpg.Pool, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    async with writer.acquire() as conn:
        await audit.record(conn, flow() + flow(days_ago=3) + [ticket(team="hr")])
        steps = await search.search(conn, search.Query(coworker="jordan", system="okta", type="skill.step", outcome="done"))
        recent = await search.search(conn, search.Query(type="policy.*", since=datetime.now(UTC) - timedelta(days=1)))
        hr = await search.search(conn, search.Query(team="hr"))
        n_json = await search.export_jsonl(conn, search.Query(team="it-support"), tmp_path / "a.jsonl")
        n_parquet = await search.export_parquet(conn, search.Query(team="it-support"), tmp_path / "a.parquet")
    assert len(steps) == 4 and {r["outcome"] for r in steps} == {"done"}
    assert len(recent) == 2 and {r["type"] for r in recent} == {"policy.allowed"}
    assert len(hr) == 1
    lines = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert n_json == n_parquet == len(lines) == 18
    assert [r["team_seq"] for r in sorted(lines, key=lambda r: r["team_seq"])] == list(range(1, 19))
    table = pq.read_table(tmp_path / "a.parquet")
    assert table.num_rows == 18 and set(table.column("event_id").to_pylist()) == {r["event_id"] for r in lines}
    with pytest.raises(ValueError, match="outcome 'nope' is not one of"):
        search.Query(outcome="nope").sql()


async def test_reports_count_actions_denials_approvals_and_the_pass_rate(writer: asyncpg.Pool) -> None:
    denied = flow()[0].caused(
        PolicyDenied,
        PolicyDecision(decision_id="dd", ticket_id="T-x", coworker="jordan", skill="app-access", allowed=False, rule="holds-skill", reason="jordan does not hold skill 'app-access'"),
        source=SKILLS,
    )
    async with writer.acquire() as conn:
        await audit.record(conn, flow() + [denied])
        found = await audit_report(conn, since=datetime.now(UTC) - timedelta(days=1), unused_days=30)
    assert found["actions"] == [{"coworker": "jordan", "system": "okta", "done": 2, "failed": 0}]
    assert found["denials"] == [{"coworker": "jordan", "rule": "holds-skill", "reason": "jordan does not hold skill 'app-access'", "n": 1}]
    assert found["approvals"] == [{"decided_by": "human:priya.raman", "coworker": "jordan", "skill": "password-reset", "granted": 1, "rejected": 0}]
    assert found["pass_rate"]["rate"] == 1.0
    (jordan,) = found["unused_permissions"]
    assert "okta:users.read" not in jordan["unused"] and jordan["granted"] > len(jordan["unused"])


async def test_retention_removes_old_records_up_to_a_legal_hold_and_the_chain_still_verifies(writer: asyncpg.Pool, database_url: str) -> None:
    old, held, recent = flow(days_ago=40), flow(days_ago=35), flow()
    async with writer.acquire() as conn:
        for batch in (old, held, recent):
            await audit.record(conn, batch)
    owner = await asyncpg.connect(database_url, server_settings={"search_path": "governance"})
    try:
        await retention.set_retention(owner, "it-support", 30, by="human:dana")
        hold = await retention.place_hold(owner, "it-support", ticket=held[0].correlation_id, reason="matter 42", by="human:legal")
        (first,) = await retention.apply(owner, default_days=365, by="human:dana", now=datetime.now(UTC))
        assert (first.removed, first.through_seq, first.held_from) == (len(old), len(old), len(old) + 1), "stops at the held ticket"
        assert await retention.release_hold(owner, hold, by="human:legal")
        (second,) = await retention.apply(owner, default_days=365, by="human:dana", now=datetime.now(UTC))
        assert second.removed == len(held)
        async with writer.acquire() as conn:
            result = await audit.verify(conn)
            assert result.ok and result.teams[0].start.seq == len(old) + len(held) and result.teams[0].checked == len(recent)
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("DELETE FROM audit_events")  # the service itself still cannot
        # Deleting without saying it is retention is refused even to the owner.
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await owner.execute("DELETE FROM audit_events")
    finally:
        await owner.close()
