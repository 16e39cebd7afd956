"""The audit trail of the running stack: governance killed mid-batch loses and doubles nothing and its
chain stays whole; a real ticket's actions are explained; `workforce audit verify` says so."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from decimal import Decimal

from contracts import codec, topics
from contracts.envelope import Actor
from contracts.events import BudgetAlert, BudgetThreshold
from deploy.stack import ROOT
from services.governance import explain
from tests.e2e.conftest import mixed_tickets, unique_team, wait_until_done


def alerts(team: str, n: int) -> list[BudgetAlert]:
    """Events only governance reads (``budget.alert``), so the test measures governance alone."""
    return [
        BudgetAlert.create(
            BudgetThreshold(budget=f"team:{team}", period="2026-11", threshold_pct=80, spent_usd=Decimal(i), limit_usd=Decimal(100_000)),
            source="/services/billing", team=team, actor=Actor.system("billing"), correlation_id=f"{team}-{i}",
        )
        for i in range(n)
    ]  # fmt: skip


async def test_governance_killed_mid_batch_loses_nothing_doubles_nothing_and_keeps_its_chain(kafka, db, stack) -> None:  # noqa: ANN001
    team = unique_team("audit-kill")
    events = alerts(team, 30_000)
    kafka.produce_with_librdkafka([(e.correlation_id.encode(), codec.encode(e)) for e in events], topic=topics.BUDGET_ALERT.name)
    deadline = time.monotonic() + 120
    while (n := await db.fetchval("SELECT count(*) FROM governance.audit_events WHERE team = $1", team)) < 2_000:
        assert time.monotonic() < deadline, "governance never started on the events"
        await asyncio.sleep(0.01)
    stack.kill("governance")  # SIGKILL, mid-stream: a batch is in flight
    at_kill = await db.fetchval("SELECT count(*) FROM governance.audit_events WHERE team = $1", team)
    assert at_kill < len(events), "the kill came too late to test anything"
    stack.start_service("governance")
    deadline = time.monotonic() + 180
    while (n := await db.fetchval("SELECT count(*) FROM governance.audit_events WHERE team = $1", team)) < len(events):
        assert time.monotonic() < deadline, f"only {n} of {len(events)} recorded after the restart"
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)  # anything doubled would arrive by now
    counts = await db.fetchrow("SELECT count(*) AS n, count(DISTINCT event_id) AS ids, max(team_seq) AS top FROM governance.audit_events WHERE team = $1", team)
    assert dict(counts) == {"n": len(events), "ids": len(events), "top": len(events)}
    assert set(await db.fetchval("SELECT array_agg(event_id) FROM governance.audit_events WHERE team = $1", team)) == {e.id for e in events}
    verified = _cli("verify", "--team", team, stack=stack)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"ok     {team}: {len(events)} records" in verified.stdout


async def test_a_resolved_ticket_s_actions_are_explained_and_every_chain_verifies(kafka, db, stack) -> None:  # noqa: ANN001
    team = unique_team("audit-explain")
    tickets = mixed_tickets(12, [team])
    kafka.publish_tickets(tickets)
    stories = await wait_until_done(db, tickets, timeout_s=300)
    resolved = [t for t, s in stories.items() if s.of("ticket.resolved")]
    assert resolved, "some password resets were resolved"
    await conn_settle(db, resolved)
    await db.execute("SET search_path TO governance")
    try:
        actions = [a for t in resolved for a in await explain.actions(db, ticket_id=t)]
    finally:
        await db.execute("RESET search_path")
    assert actions and all(a["coworker"] and a["policy"] for a in actions)
    rate = sum(a.complete for a in actions) / len(actions)
    assert rate == 1.0, [a.missing for a in actions if not a.complete]
    shown = _cli("explain", actions[-1]["action_id"], stack=stack)
    assert shown.returncode == 0 and "policy: allowed by rule" in shown.stdout and "audit  complete" in shown.stdout, shown.stdout + shown.stderr
    timeline = _cli("ticket", resolved[0], stack=stack)
    assert timeline.returncode == 0 and "ticket.created" in timeline.stdout and "skill.step" in timeline.stdout
    verified = _cli("verify", stack=stack)
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def conn_settle(db, tickets: list[str]) -> None:  # noqa: ANN001
    """Wait until the policy decisions of these tickets' steps are recorded too (other topics, other partitions)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        steps = await db.fetchval("SELECT count(*) FROM governance.audit_events WHERE type = 'skill.step' AND correlation_id = ANY($1::text[])", tickets)
        allowed = await db.fetchval("SELECT count(*) FROM governance.audit_events WHERE type = 'policy.allowed' AND correlation_id = ANY($1::text[]) AND event->'data'->>'step' IS NOT NULL", tickets)
        if allowed >= steps:
            return
        await asyncio.sleep(0.2)


def _cli(*args: str, stack) -> subprocess.CompletedProcess[str]:  # noqa: ANN001
    env = {**os.environ, "DATABASE_URL": stack.database_url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "deploy.cli", "audit", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
