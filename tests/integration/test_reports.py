"""The unused-permissions report against a real audit trail: what a coworker holds and did not use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.envelope import Actor
from contracts.events import SkillStep, StepRecord
from runtime.db import Database
from services.governance.audit import record
from services.governance.reports import unused_permissions
from tests.conftest import coworker_row

def grants(manifest) -> tuple[str, ...]:  # noqa: ANN001
    """What the manifest grants, as the report spells it."""
    return tuple(sorted(f"{system}:{scope}" for system, scopes in manifest.tools.items() for scope in scopes))


@pytest.fixture
async def db(service_database) -> Database:
    return await service_database("governance")


def step(coworker: str, system: str, operation: str, *, status: str = "done", days_ago: float = 0, ticket: str = "T-1") -> SkillStep:
    """A ``skill.step`` event as the skills service records one action."""
    data = StepRecord(
        ticket_id=ticket,
        skill="password-reset",
        coworker=coworker,
        step=1,
        name="act",
        system=system,
        operation=operation,
        idempotency_key=f"{ticket}/{coworker}/{system}/{operation}/{days_ago}",
        status=status,  # type: ignore[arg-type]
        error=None if status == "done" else "the system said no",
    )
    event = SkillStep.create(data, source="/services/skills", team="it-support", actor=Actor.coworker(coworker), correlation_id=ticket, subject=ticket)
    return event.model_copy(update={"time": datetime.now(UTC) - timedelta(days=days_ago)})


def table(workforce, *names: str, **states: str):
    """The coworker table with ``names`` active and ``states`` (name=state) as given."""
    rows = {n: coworker_row(workforce[n]).data for n in names}
    rows |= {n: coworker_row(workforce[n], state=s).data for n, s in states.items()}
    return rows


async def test_a_coworker_that_used_nothing_has_every_grant_reported_unused(db: Database, workforce) -> None:
    async with db.pool.acquire() as conn:
        [jordan] = await unused_permissions(conn, table(workforce, "jordan"), days=30)

    assert (jordan.coworker, jordan.version, jordan.granted, jordan.used, jordan.unused) == ("jordan", 1, grants(workforce["jordan"]), (), grants(workforce["jordan"]))
    assert jordan.share_unused == 1.0


async def test_scopes_used_by_completed_steps_are_not_reported_unused(db: Database, workforce) -> None:
    async with db.pool.acquire() as conn:
        await record(conn, [step("jordan", "okta", "users.read"), step("jordan", "okta", "users.read", ticket="T-2"), step("jordan", "okta", "users.reset_password")])
        [jordan] = await unused_permissions(conn, table(workforce, "jordan"), days=30)

    held = grants(workforce["jordan"])
    assert jordan.used == ("okta:users.read", "okta:users.reset_password")
    assert jordan.unused == tuple(g for g in held if g not in jordan.used)
    assert jordan.share_unused == pytest.approx((len(held) - 2) / len(held))


async def test_a_failed_step_does_not_count_as_use(db: Database, workforce) -> None:
    async with db.pool.acquire() as conn:
        await record(conn, [step("jordan", "jira", "issues.create", status="failed")])
        [jordan] = await unused_permissions(conn, table(workforce, "jordan"), days=30)

    assert "jira:issues.create" in jordan.unused
    assert jordan.used == ()


async def test_use_before_the_window_does_not_count(db: Database, workforce) -> None:
    async with db.pool.acquire() as conn:
        await record(conn, [step("jordan", "okta", "users.read", days_ago=45), step("jordan", "entra", "users.read", days_ago=5)])
        [last_30] = await unused_permissions(conn, table(workforce, "jordan"), days=30)
        [last_60] = await unused_permissions(conn, table(workforce, "jordan"), days=60)

    assert last_30.used == ("entra:users.read",)
    assert last_60.used == ("entra:users.read", "okta:users.read")


async def test_one_coworkers_use_does_not_count_for_another(db: Database, workforce) -> None:
    atom_grants = workforce["atom"].granted_scopes
    system, scope = min(atom_grants).split(":")
    async with db.pool.acquire() as conn:
        await record(conn, [step("atom", system, scope), step("jordan", "okta", "users.read")])
        rows = {r.coworker: r for r in await unused_permissions(conn, table(workforce, "jordan", "atom"), days=30)}

    assert rows["atom"].used == (f"{system}:{scope}",)
    assert rows["jordan"].used == ("okta:users.read",)


async def test_only_active_coworkers_are_reported_and_the_most_over_granted_come_first(db: Database, workforce) -> None:
    async with db.pool.acquire() as conn:
        await record(conn, [step("jordan", "okta", "users.read")])
        everyone = table(workforce, "jordan", "atom", bob="suspended", **{"device-agent": "offboarded"})
        rows = await unused_permissions(conn, everyone, days=30)

    assert [r.coworker for r in rows] == ["atom", "jordan"]  # atom used nothing, jordan one scope; bob and device-agent hold nothing now


async def test_a_window_of_no_days_is_refused(db: Database, workforce) -> None:
    async with db.pool.acquire() as conn:
        with pytest.raises(ValueError, match="days must be 1 or more, got 0"):
            await unused_permissions(conn, table(workforce, "jordan"), days=0)
