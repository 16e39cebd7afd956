"""Killing services mid-stream loses nothing and applies nothing twice; instances share the work."""

from __future__ import annotations

import asyncio
import time

from deploy import report

from tests.e2e.conftest import (
    assert_audited_exactly_once,
    assert_spend_is_the_sum_of_usage,
    duplicates,
    mixed_tickets,
    triage_decisions,
    unique_team,
    wait_until_done,
)


async def finished(db, ids: set[str]) -> int:
    """Tickets whose flow is over (escalated, or resolved and remembered), per the audit trail."""
    return await db.fetchval(
        "SELECT count(DISTINCT correlation_id) FROM governance.audit_events WHERE correlation_id = ANY($1::text[]) AND type = ANY($2::text[])",
        list(ids),
        list(report.TERMINAL),
    )


async def test_services_killed_mid_stream_lose_nothing_and_apply_nothing_twice(kafka, db, stack) -> None:
    teams = [unique_team("kill")]
    tickets = mixed_tickets(400, teams)
    ids = {t.data.ticket_id for t in tickets}
    kafka.publish_tickets(tickets)

    deadline = time.monotonic() + 120
    while await finished(db, ids) < 40:  # well under way, far from done
        assert time.monotonic() < deadline, "the stream never got going"
        await asyncio.sleep(0.05)
    victims = ("skills", "governance", "billing", "triage")
    for name in victims:
        stack.kill(name)  # SIGKILL: no shutdown, no commit
    progress_at_kill = await finished(db, ids)
    assert progress_at_kill < len(ids), "the kill came too late to test anything"
    for name in victims:
        stack.start_service(name, wait=False)
    for name in victims:
        stack.running[name][-1].wait_ready()

    stories = await wait_until_done(db, tickets, timeout_s=400)

    await assert_audited_exactly_once(kafka, db, ids)
    await assert_spend_is_the_sum_of_usage(kafka, db, teams)
    resolved = {t for t, s in stories.items() if any(r["data"]["skill"] == "password-reset" for r in s.of("ticket.resolved"))}
    resets = await db.fetch("SELECT ticket_id, count(*) AS n FROM sandbox.okta_password_resets WHERE ticket_id = ANY($1::text[]) GROUP BY ticket_id", list(ids))
    assert {r["ticket_id"] for r in resets} == resolved, "every resolved password ticket's reset happened, and no other"
    assert max(r["n"] for r in resets) == 1, "no password was reset twice"
    # Every step that ran (or was undone) has its event; a step that was never run (not authorised) has none.
    steps = await db.fetchval("SELECT count(*) FROM skills.step_runs WHERE ticket_id = ANY($1::text[]) AND coalesce((decision->>'allowed')::boolean, true) AND error_code IS DISTINCT FROM 'time_budget_exceeded'", list(ids))
    step_events = {e.id for e in await kafka.events("skill.step", ids)}
    assert steps == len(step_events), "one recorded outcome per step event"


async def test_two_triage_instances_share_the_partitions_and_no_ticket_is_triaged_twice(kafka, db, stack) -> None:
    second = stack.start_service("triage")
    try:
        instances = stack.running["triage"]
        assert len(instances) == 2
        deadline = time.monotonic() + 90
        while True:
            members = [set((p.status() or {}).get("assigned", {}).get("ticket.created", [])) for p in instances]
            if all(members) and sum(len(m) for m in members) == 6:
                break
            assert time.monotonic() < deadline, f"the group never spread over two members: {members}"
            await asyncio.sleep(1)
        assert members[0].isdisjoint(members[1]) and members[0] | members[1] == set(range(6))

        teams = [unique_team("scale")]
        tickets = mixed_tickets(120, teams)
        ids = {t.data.ticket_id for t in tickets}
        kafka.publish_tickets(tickets)
        await wait_until_done(db, tickets)

        triage_out = await triage_decisions(kafka, ids)
        assert {e.data.ticket_id for e in triage_out} == ids
        assert not duplicates(triage_out), "a ticket was triaged twice"
        created = await kafka.events("ticket.created", ids)
        partitions = {r.partition for r in await kafka.read("ticket.created") if r.key and r.key.decode() in ids}
        assert partitions & members[0] and partitions & members[1], "both instances had tickets to triage"
        assert len(created) == len(ids)
    finally:
        stack.running["triage"].remove(second)
        assert second.stop() == 0, "SIGTERM ends a service gracefully, with exit code 0"
