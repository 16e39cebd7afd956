"""Onboarding on the running stack, from one ticket to three completed linked requests: "onboard Jane
Lee" becomes her HR record and payroll (HR), her accounts and role apps (IT) and her building badge
(facilities), each run by its own coworker, each destructive step approved by that coworker's manager,
and the one detail nobody wrote down (which floor) asked of the requester once."""

from __future__ import annotations

import asyncio
import json

import asyncpg

from contracts import codec
from contracts.envelope import Actor
from contracts.events import Answer, TicketAnswered
from deploy.coworkers import Workforce
from tests.conftest import ticket
from tests.e2e.conftest import unique_team


async def _events(db: asyncpg.Connection, ticket_ids: list[str]) -> list[tuple[str, str, dict]]:
    rows = await db.fetch("SELECT correlation_id, type, event FROM governance.audit_events WHERE correlation_id = ANY($1::text[]) ORDER BY seq", ticket_ids)
    return [(r["correlation_id"], r["type"], json.loads(r["event"])["data"]) for r in rows]


async def test_onboarding_jane_lee_ends_in_three_completed_linked_requests(kafka, db) -> None:  # noqa: ANN001
    team = unique_team("onboard")
    # Ana Silva is Jane Lee's manager in Workday: she may start Jane's hire.
    created = ticket(team=team, title="Onboarding Jane Lee", description="new starter jane lee, please set up onboarding for the new employee", requester="ana.silva")
    kafka.publish_tickets([created])

    children: list[dict] = []
    for _ in range(300):
        split = [d for _, t, d in await _events(db, [created.data.ticket_id]) if t == "ticket.split"]
        if split:
            children = split[0]["children"]
            break
        await asyncio.sleep(0.2)
    assert {c["skill"] for c in children} == {"hr-onboarding-us", "new-hire-accounts", "badge-access"}
    ids = [c["ticket_id"] for c in children]

    decided: set[str] = set()
    answered: set[str] = set()
    deadline = asyncio.get_running_loop().time() + 240
    while True:
        events = await _events(db, ids)
        done = {cid for cid, t, _ in events if t == "skill.completed"}
        failed = [(cid, d["error_code"], d["reason"]) for cid, t, d in events if t == "skill.failed"]
        assert not failed, f"a linked request failed: {failed}"
        if done == set(ids):
            break
        for cid, kind, data in events:
            if kind == "approval.requested" and data["approval_id"] not in decided:
                decided.add(data["approval_id"])
                await Workforce(kafka.bootstrap, Actor.human(data["approver"])).decide(data["approval_id"], grant=True, comment="welcome Jane")
            if kind == "ticket.question" and (cid, data["field"]) not in answered:
                answered.add((cid, data["field"]))
                assert data["field"] == "zone", f"only the floor is unknown; asked {data['field']!r}: {data['question']}"
                answer = TicketAnswered.create(Answer(ticket_id=cid, text="third floor"), source="/upstream/servicenow", team=team, actor=Actor.human("ana.silva"), correlation_id=cid)
                kafka.produce_with_librdkafka([(cid.encode(), codec.encode(answer))], topic="ticket.answered")
        assert asyncio.get_running_loop().time() < deadline, f"not done in time: completed {sorted(done)} of {ids}"
        await asyncio.sleep(0.3)

    requested = {cid: d for cid, t, d in events if t == "skill.requested"}
    assert {d["ticket"]["parent_id"] for d in requested.values()} == {created.data.ticket_id}, "three requests linked to one parent"
    assert len(answered) <= 1, "the requester was asked at most once (the floor), never who the hire is"
    assert decided, "every destructive step waited for a manager"
    # What the systems say now: Jane is hired, enrolled in payroll, has an Okta account with her role's apps, and a badge.
    assert await db.fetchval("SELECT status FROM sandbox.workday_workers WHERE email = 'jane.lee@acme.example'") == "Active"
    assert await db.fetchval("SELECT count(*) FROM sandbox.payroll_employees p JOIN sandbox.workday_workers w ON w.id = p.worker_id WHERE w.email = 'jane.lee@acme.example'") == 1
    assert await db.fetchval("SELECT status FROM sandbox.okta_users WHERE login = 'jane.lee@acme.example'") in {"PROVISIONED", "ACTIVE"}
    assert await db.fetchval("SELECT count(*) FROM sandbox.okta_app_users a JOIN sandbox.okta_users u ON u.id = a.user_id WHERE u.login = 'jane.lee@acme.example'") >= 1
    badge = await db.fetchrow(
        "SELECT b.status, array_agg(z.zone) AS zones FROM sandbox.facilities_badges b JOIN sandbox.facilities_cardholders c ON c.id = b.holder_id"
        " LEFT JOIN sandbox.facilities_badge_zones z ON z.badge_id = b.id WHERE c.login = 'jane.lee@acme.example' AND b.status <> 'returned' GROUP BY b.status"
    )
    assert badge is not None and badge["status"] == "active" and "HQ-L3" in badge["zones"]
