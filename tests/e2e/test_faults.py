"""Killing services mid-stream loses nothing and applies nothing twice; instances share the work."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from deploy import report

from tests.conftest import ticket
from tests.e2e.conftest import (
    assert_audited_exactly_once,
    assert_spend_is_the_sum_of_usage,
    duplicates,
    PASSWORD_TEXTS,
    mixed_tickets,
    resettable_people,
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


@pytest.mark.parametrize("when", ["before", "after"])
async def test_skills_killed_during_a_call_to_okta_resets_the_password_exactly_once(kafka, db, stack, when: str) -> None:
    """kill -9 of the skills service while its reset is in flight at Okta (``before``: Okta holds the
    request unanswered; ``after``: Okta has reset and holds the answer): after a restart the password
    is reset once, and the step has one outcome."""
    assert stack.simulator is not None, "the stack runs the simulated systems"
    admin = httpx.AsyncClient(base_url=f"{stack.simulator.url}/_sandbox", headers={"Authorization": f"Bearer {stack.simulator.admin_token}"}, timeout=90)
    people = resettable_people()
    team = unique_team(f"hold-{when}")
    title, description = PASSWORD_TEXTS[0]
    asked = ticket(f"{team}-0001", team=team, title=title, description=description, requester=people[7 if when == "before" else 11])
    async with admin:
        hold = (await admin.post("/holds", json={"system": "okta", "method": "POST", "path": "/lifecycle/reset_password", "when": when})).json()
        kafka.publish_tickets([asked])
        for _ in range(4):  # the first ticket of a fresh stack may take a while
            if (state := (await admin.get(f"/holds/{hold['id']}", params={"wait": 60})).json()["state"]) == "holding":
                break
        else:
            seen = [r["type"] for r in await db.fetch("SELECT type FROM governance.audit_events WHERE correlation_id = $1 ORDER BY seq", asked.data.ticket_id)]
            raise AssertionError(f"the reset never reached Okta (hold {state}); the ticket's story so far: {seen}")
        stack.kill("skills")  # SIGKILL mid-call: no outcome recorded, the intent stays
        (await admin.post(f"/holds/{hold['id']}/release")).raise_for_status()
    stack.start_service("skills")
    stories = await wait_until_done(db, [asked], timeout_s=180)
    story = stories[asked.data.ticket_id]
    assert story.of("ticket.resolved"), f"the ticket was resolved after the restart: {[e['type'] for e in story.events]}"
    resets = await db.fetchval("SELECT count(*) FROM sandbox.okta_password_resets WHERE ticket_id = $1", asked.data.ticket_id)
    assert resets == 1, f"the password was reset {resets} times"
    key = f"{asked.data.ticket_id}:password-reset:2"
    assert await db.fetchval("SELECT count(*) FROM skills.step_runs WHERE idempotency_key = $1", key) == 1
    assert await db.fetchval("SELECT count(*) FROM skills.step_intents WHERE idempotency_key = $1", key) == 0
    steps = {e.id for e in await kafka.events("skill.step", {asked.data.ticket_id}) if e.data.step == 2}
    assert len(steps) == 1, "one outcome event for the reset step"
