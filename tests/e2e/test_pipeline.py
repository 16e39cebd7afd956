"""A ticket flows through all five services, on the real broker and the real PostgreSQL."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.e2e.conftest import (
    assert_audited_exactly_once,
    assert_spend_is_the_sum_of_usage,
    duplicates,
    mixed_tickets,
    triage_decisions,
    unique_team,
    wait_until_done,
)


async def test_two_hundred_tickets_from_an_upstream_client_each_end_triaged_or_escalated_audited_and_billed(kafka, db) -> None:
    teams = [unique_team("it"), unique_team("hr")]
    tickets = mixed_tickets(200, teams)
    ids = {t.data.ticket_id for t in tickets}
    kafka.publish_tickets(tickets)  # librdkafka, a producer that is not ours

    stories = await wait_until_done(db, tickets)

    triage_out = await triage_decisions(kafka, ids)
    decided = {e.data.ticket_id for e in triage_out}
    assert decided == ids, "every ticket is triaged, split, asked about or escalated"
    assert not duplicates(triage_out)
    resolved = [s for s in stories.values() if s.of("ticket.resolved")]
    resets = [s for s in resolved if s.of("ticket.resolved")[0]["data"]["skill"] == "password-reset"]
    assert len(resets) >= 50, "most password tickets from existing users are resolved by the skill"
    for story in resets:
        assert len(story.of("skill.step")) == 2
        assert sorted(r["data"]["scope"] for r in story.of("memory.recorded"))[:2] == ["requester", "ticket"], "the resolution, shared and the requester's own"
    escalated = [s for s in stories.values() if s.of("ticket.escalated")]
    for story in escalated:
        handoff = story.of("ticket.escalated")[0]["data"]["handoff"]
        assert handoff["ticket"]["ticket_id"] == story.ticket_id and handoff["why"] and handoff["tried"]
    # Split, asked about, or waiting for a manager's approval (a real ticket routed to a supervised skill).
    others = [s for s in stories.values() if (s.of("ticket.split") or s.of("ticket.question") or s.of("approval.requested")) and not s.of("ticket.escalated") and not s.of("ticket.resolved")]
    assert len(resolved) + len(escalated) + len(others) == len(tickets)

    audited = await assert_audited_exactly_once(kafka, db, ids)
    assert audited > 3 * len(tickets)
    billed = await assert_spend_is_the_sum_of_usage(kafka, db, teams)
    assert billed and set(billed) <= set(teams)
    assert all(cost > Decimal(0) for _, _, cost in billed.values())


async def test_a_coworkers_budget_state_follows_its_spend_for_the_authoriser_to_read(kafka, db, workforce) -> None:  # noqa: ANN001
    tickets = mixed_tickets(20, [unique_team("budget")])
    kafka.publish_tickets(tickets)
    await wait_until_done(db, tickets)
    for _ in range(100):  # the memory of jordan's resolutions is billed to jordan
        spent = await db.fetchval("SELECT sum(cost_usd) FROM billing.spend_daily WHERE coworker = 'jordan' AND day >= date_trunc('month', now())::date")
        states = [e for e in await kafka.events("budget.state", {"coworker:jordan"})]
        if states and states[-1].data.spent_usd == spent:
            break
        await asyncio.sleep(0.1)
    latest = states[-1].data
    assert (latest.budget, latest.spent_usd, latest.limit_usd) == ("coworker:jordan", spent, workforce["jordan"].budget.monthly_usd)
    assert spent > 0


async def test_the_sandbox_reset_each_resolved_tickets_user_exactly_once(kafka, db) -> None:
    teams = [unique_team("it")]
    tickets = mixed_tickets(40, teams)
    kafka.publish_tickets(tickets)
    stories = await wait_until_done(db, tickets)
    resolved = {t for t, s in stories.items() if s.of("ticket.resolved") and s.of("ticket.resolved")[0]["data"]["skill"] == "password-reset"}
    assert resolved, "password tickets from people who exist are resolved"
    resets = await db.fetch("SELECT ticket_id, count(*) AS n FROM sandbox.okta_password_resets WHERE ticket_id = ANY($1::text[]) GROUP BY ticket_id", list(stories))
    assert {r["ticket_id"] for r in resets} == resolved
    assert all(r["n"] == 1 for r in resets)
