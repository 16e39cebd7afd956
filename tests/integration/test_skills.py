"""The skill runtime against the Okta sandbox in a real PostgreSQL."""

from __future__ import annotations

import pytest

from contracts import codec
from contracts.catalog import load_catalog
from contracts.events import SkillCompleted, SkillFailed, SkillRequest, SkillRequested, SkillStep, TicketEscalated, TicketResolved
from runtime.db import Database
from services.skills import app as skills_app
from services.skills.runner import Runner
from services.skills.sandbox.seed import seed_okta
from services.skills.settings import DEFAULT_CATALOG
from tests.conftest import ticket


@pytest.fixture
async def db(service_database) -> Database:  # noqa: ANN001
    database = await service_database("skills")
    async with database.pool.acquire() as conn:
        await seed_okta(conn, 50)
    return database


@pytest.fixture
def runner(db: Database) -> Runner:
    return Runner(db, skills_app.SKILLS, load_catalog(DEFAULT_CATALOG), source="/services/skills", queue="service-desk")


def request(requester: str = "ana.silva", *, skill: str = "password-reset", coworker: str = "jordan", inputs: dict | None = None) -> SkillRequested:
    created = ticket(requester=requester)
    data = SkillRequest(ticket_id=created.data.ticket_id, skill=skill, coworker=coworker, ticket=created.data, inputs=inputs or {}, confidence=0.9)
    return created.caused(SkillRequested, data, source="/services/triage")


async def test_an_active_users_password_is_reset_and_the_ticket_resolved(runner: Runner, db: Database) -> None:
    events = await runner.run(request("ana.silva"))
    assert [type(e) for e in events] == [SkillStep, SkillStep, SkillCompleted, TicketResolved]
    find, reset = events[0].data, events[1].data
    assert (find.step, find.system, find.operation, find.status) == (1, "okta", "users.read", "done")
    assert (reset.step, reset.operation, reset.status) == (2, "users.reset_password", "done")
    assert "ana.silva@acme.example" in events[3].data.resolution
    status = await db.pool.fetchval("SELECT status FROM skills.okta_users WHERE login = 'ana.silva@acme.example'")
    assert status == "RECOVERY"
    assert await db.pool.fetchval("SELECT count(*) FROM skills.okta_password_resets") == 1


async def test_a_redelivered_request_replays_its_outcome_and_resets_only_once(runner: Runner, db: Database) -> None:
    requested = request("john.miller")
    first = await runner.run(requested)
    again = await runner.run(requested)
    assert [e.id for e in again] == [e.id for e in first]
    assert [codec.encode(e) for e in again] != [] and [e.data for e in again] == [e.data for e in first]
    assert await db.pool.fetchval("SELECT count(*) FROM skills.okta_password_resets") == 1
    assert await db.pool.fetchval("SELECT count(*) FROM skills.step_runs") == 2


async def test_a_crash_between_steps_resumes_at_the_next_step(runner: Runner, db: Database) -> None:
    requested = request("priya.sharma")
    first_step = skills_app.SKILLS["password-reset"].steps[0]
    from services.skills.runner import execute

    await execute(db.pool, first_step, 1, requested, {})  # the process died after step 1
    assert await db.pool.fetchval("SELECT count(*) FROM skills.okta_password_resets") == 0
    events = await runner.run(requested)
    assert isinstance(events[-1], TicketResolved)
    assert await db.pool.fetchval("SELECT count(*) FROM skills.step_runs") == 2
    assert await db.pool.fetchval("SELECT count(*) FROM skills.okta_password_resets") == 1


async def test_a_suspended_user_is_not_reset_and_a_human_gets_the_ticket(runner: Runner, db: Database) -> None:
    events = await runner.run(request("lisa.wong"))
    assert [type(e) for e in events] == [SkillStep, SkillFailed, TicketEscalated]
    assert events[1].data.error_code == "user_not_active"
    assert "SUSPENDED" in events[1].data.reason
    handoff = events[2].data.handoff
    assert handoff.tried[0].outcome == "failed" and "SUSPENDED" in handoff.tried[0].detail
    assert await db.pool.fetchval("SELECT count(*) FROM skills.okta_password_resets") == 0


async def test_an_unknown_user_fails_with_oktas_own_error_code(runner: Runner) -> None:
    events = await runner.run(request("nobody.here"))
    assert events[1].data.error_code == "user_not_found"
    assert "E0000007" in events[1].data.reason


async def test_a_coworker_cannot_run_another_coworkers_skill(runner: Runner, db: Database) -> None:
    events = await runner.run(request("ana.silva", coworker="bob"))
    assert [type(e) for e in events] == [SkillFailed, TicketEscalated]
    assert events[0].data.error_code == "not_granted"
    assert "coworker 'bob' may not run 'password-reset'; it belongs to 'jordan'" in events[0].data.reason
    assert events[1].data.reason_code == "policy_denied"
    assert await db.pool.fetchval("SELECT count(*) FROM skills.step_runs") == 0


async def test_a_skill_this_deployment_does_not_run_is_escalated_not_dropped(runner: Runner) -> None:
    events = await runner.run(request(skill="laptop-troubleshoot", coworker="hardware-support-specialist"))
    assert events[0].data.error_code == "skill_unavailable"
    assert isinstance(events[1], TicketEscalated)


async def test_the_reset_link_goes_to_the_users_own_inbox_and_nothing_secret_comes_back(runner: Runner, db: Database) -> None:
    events = await runner.run(request("ana.silva"))
    assert events[1].data.outputs == {"user_id": events[0].data.outputs["user_id"], "status": "RECOVERY", "email_sent_to": "a***@acme.example"}
    emails = await db.pool.fetch("SELECT to_address, template, token_sha256 FROM skills.okta_emails")
    assert [(e["to_address"], e["template"]) for e in emails] == [("ana.silva@acme.example", "password_reset")]
    for event in events:
        assert emails[0]["token_sha256"] not in codec.encode(event).decode()


async def test_a_refused_step_can_be_tried_again_by_a_new_request_but_not_by_a_redelivery(runner: Runner, db: Database) -> None:
    first = request("lisa.wong")  # suspended
    assert isinstance((await runner.run(first))[-1], TicketEscalated)
    await db.pool.execute("UPDATE skills.okta_users SET status = 'ACTIVE' WHERE login = 'lisa.wong@acme.example'")  # a person reactivated her
    assert isinstance((await runner.run(first))[-1], TicketEscalated), "a redelivery replays the refusal"
    again = first.data.ticket.ticket_id
    retry = first.caused(SkillRequested, first.data, source="/humans/service-desk", ordinal="retry")
    assert retry.data.ticket_id == again
    assert isinstance((await runner.run(retry))[-1], TicketResolved)
    assert await db.pool.fetchval("SELECT count(*) FROM skills.okta_password_resets") == 1
