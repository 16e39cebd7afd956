"""The skill runtime in a real PostgreSQL against the simulated Okta (deploy/sandbox, over HTTP, its
own database): authorised, idempotent steps, each coworker on its own credentials issued by the
simulator's token API, supervised steps that wait for the manager, delegation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from contracts import codec
from contracts.catalog import load_catalog
from contracts.coworkers import Autonomy
from contracts.envelope import Actor
from contracts.events import (
    MemoryRecallRequested,
    ApprovalDecision,
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    PolicyAllowed,
    PolicyDenied,
    SkillCompleted,
    SkillFailed,
    SkillRequest,
    SkillRequested,
    SkillStep,
    TicketEscalated,
    TicketResolved,
)
from contracts.topics import BUDGET_STATE
from deploy.sandbox.running import Running
from runtime.db import Database
from services.skills import app as skills_app
from services.skills import credentials
from services.skills.credentials import Vault
from services.skills.execution import execute
from services.skills.identity import Person
from services.skills.issuer import Issuer
from services.skills.registry import Registry
from services.skills.runner import Runner
from services.skills.settings import DEFAULT_CATALOG
from services.skills.systems import Systems
from tests.conftest import coworker_row, table_of, ticket


@pytest.fixture
def vault() -> Vault:
    return Vault(SecretStr(Fernet.generate_key().decode()))


@pytest.fixture
async def db(service_database) -> Database:  # noqa: ANN001
    """The skills service's own schema (step records, credentials, approvals); the systems are the simulator's."""
    return await service_database("skills")


@pytest.fixture
async def systems(simulator: Running) -> AsyncIterator[Systems]:
    """Every system as the skills service reaches it: the simulator's, over HTTP."""
    reached = Systems(simulator.urls())
    yield reached
    await reached.close()


class Org:
    """The coworker table as skills would have read it, kept in step with the database; each
    coworker's tokens issued (and revoked) by the simulator's token API, as the service's reconcile does."""

    def __init__(self, db: Database, vault: Vault, workforce: dict, issuer: Issuer) -> None:
        self.db, self.vault, self.workforce, self.issuer = db, vault, workforce, issuer
        self.table = table_of()
        self.registry = Registry(self.table, table_of(topic=BUDGET_STATE))

    async def set(self, name: str, *, state: str = "active", version: int = 1, **changes: object) -> None:
        manifest = self.workforce[name].model_copy(update=changes) if changes else self.workforce[name]
        row = coworker_row(manifest, state=state, version=version)
        self.table.rows[name] = row
        async with self.db.pool.acquire() as conn, conn.transaction():
            await self.registry.remember(conn, row)
        await credentials.reconcile(self.db.pool, self.vault, row.data, self.issuer)


@pytest.fixture
async def org(db: Database, vault: Vault, workforce, simulator: Running) -> Org:  # noqa: ANN001
    everyone = Org(db, vault, workforce, simulator.issuer())
    await asyncio.gather(*(everyone.set(name) for name in workforce))  # each coworker's own tokens, independently
    return everyone


@pytest.fixture
def runner(db: Database, vault: Vault, org: Org, systems: Systems) -> Runner:
    return Runner(db, org.registry, vault, skills_app.SKILLS, load_catalog(DEFAULT_CATALOG), source="/services/skills", queue="service-desk", systems=systems, issuer=org.issuer)


def request(requester: str = "ana.silva", *, skill: str = "password-reset", coworker: str = "jordan", version: int = 1, title: str = "I forgot my password") -> SkillRequested:
    created = ticket(requester=requester, title=title)
    data = SkillRequest(ticket_id=created.data.ticket_id, skill=skill, coworker=coworker, coworker_version=version, ticket=created.data, inputs={"user": created.data.requester.email}, confidence=0.9)
    return created.caused(SkillRequested, data, source="/services/triage")


def approve(asked: ApprovalRequested, *, by: str = "priya.raman", grant: bool = True) -> ApprovalGranted | ApprovalRejected:
    kind = ApprovalGranted if grant else ApprovalRejected
    data = ApprovalDecision(approval_id=asked.data.approval_id, ticket_id=asked.data.ticket_id, coworker=asked.data.coworker, skill=asked.data.skill, step=asked.data.step)
    return kind.create(data, source="/cli/workforce", team="platform", actor=Actor.human(by), correlation_id=asked.data.ticket_id)


@pytest.fixture
def okta(simulator: Running) -> asyncpg.Pool:
    """The simulated systems' own database (schema ``sandbox``): what Okta holds, for checks."""
    return simulator.database.pool


async def resets(okta: asyncpg.Pool) -> int:
    """Password resets Okta has made."""
    return await okta.fetchval("SELECT count(*) FROM okta_password_resets")


# --- the password reset, authorised step by step ---------------------------------------------


async def test_an_active_users_password_is_reset_after_each_step_is_authorised(runner: Runner, okta: asyncpg.Pool) -> None:
    events = await runner.run(request("ana.silva"))
    assert [type(e) for e in events] == [PolicyAllowed, SkillStep, PolicyAllowed, SkillStep, SkillCompleted, TicketResolved]
    assert [(e.data.rule, e.data.scope) for e in events if isinstance(e, PolicyAllowed)] == [("holds-scope", "users.read"), ("holds-scope", "users.reset_password")]
    find, reset = events[1].data, events[3].data
    assert (find.step, find.system, find.operation, find.status) == (1, "okta", "users.read", "done")
    assert (reset.step, reset.operation, reset.status) == (2, "users.reset_password", "done")
    assert await okta.fetchval("SELECT status FROM okta_users WHERE login = 'ana.silva@acme.example'") == "RECOVERY"
    assert await okta.fetchval("SELECT requested_by FROM okta_password_resets") == "jordan"  # as Okta saw the caller


async def test_a_redelivered_request_replays_its_outcome_and_resets_only_once(runner: Runner, db: Database, okta: asyncpg.Pool) -> None:
    requested = request("john.miller")
    first = await runner.run(requested)
    again = await runner.run(requested)
    assert [e.id for e in again] == [e.id for e in first]
    assert [e.data for e in again] == [e.data for e in first]
    assert await resets(okta) == 1
    assert await db.pool.fetchval("SELECT count(*) FROM skills.step_runs") == 2


async def test_a_crash_between_steps_resumes_at_the_next_step(runner: Runner, db: Database, okta: asyncpg.Pool) -> None:
    requested = request("priya.sharma")
    find_user = skills_app.SKILLS["password-reset"].steps[0]
    facts = await runner.facts(requested.data)
    from services.skills.policy import authorize

    async with db.pool.acquire() as conn:
        token = await credentials.credential(conn, runner.vault, "jordan", "okta", 1)
    who = await runner.identify(requested)  # the requester is resolved before the first step
    assert isinstance(who, Person) and who.login == "priya.sharma@acme.example"
    decision = authorize(facts, skill="password-reset", system="okta", scope="users.read")
    await execute(db.pool, find_user, 1, requested, {}, credential=token, decision=decision, systems=runner.systems, requester=who)  # then the process died
    assert await resets(okta) == 0
    events = await runner.run(requested)
    assert isinstance(events[-1], TicketResolved)
    assert await db.pool.fetchval("SELECT count(*) FROM skills.step_runs") == 2
    assert await resets(okta) == 1


async def test_a_suspended_user_is_not_reset_and_a_human_gets_the_ticket(runner: Runner, okta: asyncpg.Pool) -> None:
    events = await runner.run(request("lisa.wong"))
    assert [type(e) for e in events] == [PolicyAllowed, SkillStep, SkillFailed, MemoryRecallRequested, TicketEscalated]
    assert events[2].data.error_code == "user_not_active" and "SUSPENDED" in events[2].data.reason
    assert events[4].data.queue == "service-desk"  # the work failed, not the coworker's authority
    assert events[4].data.handoff.tried[0].outcome == "failed"
    handoff = events[4].data.handoff
    assert "failed: user_not_active at step 1 (find-user)" in handoff.facts and "skill: password-reset, run by jordan v1 (manager priya.raman)" in handoff.facts
    assert handoff.next_action == "Finish password-reset by hand from where it stopped at find-user; the tries are listed above."
    recall = events[3].data
    assert (recall.request_id, recall.ticket_id, recall.coworker) == (f"handoff:{events[4].id}", handoff.ticket.ticket_id, "jordan"), "memory is asked for the person's first view"
    assert await resets(okta) == 0


async def test_a_requester_the_directory_does_not_know_goes_to_a_person_before_any_step(runner: Runner, db: Database) -> None:
    events = await runner.run(request("nobody.here"))
    assert [type(e) for e in events] == [SkillFailed, MemoryRecallRequested, TicketEscalated]
    assert events[0].data.error_code == "identity_mismatch" and events[0].data.reason == "neither the requester's id 'nobody.here' nor their email nobody.here@acme.example is anyone the directory (okta) knows"
    assert (events[2].data.reason_code, events[2].data.queue) == ("identity_mismatch", "service-desk")
    assert await db.pool.fetchval("SELECT count(*) FROM skills.step_runs") == 0


async def test_the_reset_link_goes_to_the_users_own_inbox_and_nothing_secret_comes_back(runner: Runner, okta: asyncpg.Pool) -> None:
    events = await runner.run(request("ana.silva"))
    assert events[3].data.outputs == {"user_id": events[1].data.outputs["user_id"], "status": "RECOVERY", "email_sent_to": "a***@acme.example"}
    emails = await okta.fetch("SELECT to_address, template, token_sha256 FROM okta_emails")
    assert [(e["to_address"], e["template"]) for e in emails] == [("ana.silva@acme.example", "password_reset")]
    for event in events:
        assert emails[0]["token_sha256"] not in codec.encode(event).decode()


async def test_a_refused_step_can_be_tried_again_by_a_new_request_but_not_by_a_redelivery(runner: Runner, okta: asyncpg.Pool) -> None:
    first = request("lisa.wong")  # suspended in Okta
    assert isinstance((await runner.run(first))[-1], TicketEscalated)
    await okta.execute("UPDATE okta_users SET status = 'ACTIVE' WHERE login = 'lisa.wong@acme.example'")  # a person reactivated her
    assert isinstance((await runner.run(first))[-1], TicketEscalated), "a redelivery replays the refusal"
    retry = first.caused(SkillRequested, first.data, source="/humans/service-desk", ordinal="retry")
    assert isinstance((await runner.run(retry))[-1], TicketResolved)
    assert await resets(okta) == 1


# --- what the coworker may do ------------------------------------------------------------------


async def test_a_coworker_cannot_run_a_skill_it_does_not_hold_and_its_manager_gets_the_ticket(runner: Runner, org: Org, db: Database) -> None:
    events = await runner.run(request("ana.silva", coworker="bob"))
    assert [type(e) for e in events] == [PolicyDenied, SkillFailed, MemoryRecallRequested, TicketEscalated]
    assert events[0].data.rule == "holds-skill"
    assert events[0].data.reason == f"coworker 'bob' does not hold skill 'password-reset'; its skills: {', '.join(org.workforce['bob'].skills)}"
    assert (events[3].data.reason_code, events[3].data.queue) == ("policy_denied", "daniel.okafor")
    assert await db.pool.fetchval("SELECT count(*) FROM skills.step_runs") == 0


async def test_a_scope_missing_from_the_manifest_is_refused_before_the_system_is_touched(runner: Runner, org: Org, okta: asyncpg.Pool) -> None:
    await org.set("jordan", version=2, tools={"okta": ["users.read"]})
    events = await runner.run(request("ana.silva", version=2))
    denied = [e for e in events if isinstance(e, PolicyDenied)]
    assert [(d.data.rule, d.data.step) for d in denied] == [("holds-scope", 2)]
    assert "has no scope okta:users.reset_password; granted: okta:users.read" in denied[0].data.reason
    assert await resets(okta) == 0


async def test_the_okta_sandbox_itself_refuses_a_scope_the_coworkers_token_does_not_carry(okta: asyncpg.Pool, simulator: Running, systems: Systems) -> None:
    from deploy.sandbox import okta as okta_sandbox
    from deploy.sandbox import tokens
    from services.skills.connectors.okta import OktaError

    async with okta.acquire() as conn:  # the simulator's state logic, on its own database
        token = await tokens.issue(conn, "okta", "jordan", 1, ["users.read"])
        directory = okta_sandbox.OktaSandbox(conn, token)
        with pytest.raises(okta_sandbox.OktaError, match="E0000006"):
            await directory.reset_password("00u0", idempotency_key="k", ticket_id="T")
        await tokens.revoke(conn, "jordan")
        with pytest.raises(okta_sandbox.OktaError, match="E0000011"):
            await okta_sandbox.OktaSandbox(conn, token).get_user("ana.silva@acme.example")

    # ...and over HTTP, as the skills service meets it: Okta's own 403 and 401.
    token = await simulator.token("okta", "jordan", ["users.read"])
    client = systems.open("okta", token, ticket="T")
    user = await client.get_user("ana.silva@acme.example")
    with pytest.raises(OktaError, match="E0000006") as refused:
        await client.reset_password(user.id, idempotency_key="k", ticket_id="T")
    assert refused.value.status == 403 and "lacks users.reset_password" in refused.value.summary
    await simulator.issuer().revoke("jordan", system="okta")
    with pytest.raises(OktaError, match="E0000011") as unknown:
        await client.get_user("ana.silva@acme.example")
    assert unknown.value.status == 401
    assert await resets(okta) == 0


async def test_each_coworker_has_its_own_sealed_credential_per_system(org: Org, db: Database, vault: Vault) -> None:
    rows = await db.pool.fetch("SELECT coworker, system, ciphertext FROM skills.credentials WHERE revoked_at IS NULL")
    secrets_ = {(r["coworker"], r["system"]): vault.open(r["ciphertext"]) for r in rows}
    assert set(secrets_) >= {("jordan", "okta"), ("jordan", "entra"), ("jordan", "jira"), ("access-manager", "okta"), ("bob", "workday")}
    assert len(set(secrets_.values())) == len(secrets_), "no credential is shared"
    for (_, _), secret in secrets_.items():
        assert secret.encode() not in b"".join(r["ciphertext"] for r in rows), "stored sealed, never in clear"


async def test_offboarding_revokes_the_coworkers_credentials_and_tokens(org: Org, runner: Runner, db: Database, okta: asyncpg.Pool) -> None:
    await org.set("jordan", state="offboarded")
    assert await db.pool.fetchval("SELECT count(*) FROM skills.credentials WHERE coworker = 'jordan' AND revoked_at IS NULL") == 0
    assert await okta.fetchval("SELECT count(*) FROM sandbox_api_tokens WHERE coworker = 'jordan' AND revoked_at IS NULL") == 0
    events = await runner.run(request("ana.silva"))
    assert events[0].data.rule == "coworker-active" and "is offboarded" in events[0].data.reason


# --- supervised steps and approvals -----------------------------------------------------------


SUPERVISED = 2  # the version of jordan that must ask before each destructive action


async def supervised_jordan(org: Org) -> None:
    await org.set("jordan", version=SUPERVISED, autonomy={"password-reset": Autonomy.supervised})


async def test_a_supervised_step_waits_for_the_manager_then_runs_when_approved(org: Org, runner: Runner, okta: asyncpg.Pool) -> None:
    await supervised_jordan(org)
    requested = request("ana.silva", version=SUPERVISED)
    waiting = await runner.run(requested)
    assert [type(e) for e in waiting] == [PolicyAllowed, SkillStep, ApprovalRequested], "looking the user up changes nothing: no approval"
    asked = waiting[-1]
    assert (asked.data.approver, asked.data.step, asked.data.operation) == ("priya.raman", 2, "users.reset_password")
    assert await resets(okta) == 0
    again = await runner.run(requested)
    assert [(e.id, e.data) for e in again] == [(e.id, e.data) for e in waiting], "a redelivery asks again with the same id, and waits"
    done = await runner.decided(approve(asked))
    assert isinstance(done[-1], TicketResolved)
    assert [e.data.rule for e in done if isinstance(e, PolicyAllowed)] == ["holds-scope", "approved"]
    assert await resets(okta) == 1


async def test_an_approval_from_anyone_but_the_manager_changes_nothing(org: Org, runner: Runner, db: Database, okta: asyncpg.Pool) -> None:
    await supervised_jordan(org)
    *_, asked = await runner.run(request("ana.silva", version=SUPERVISED))
    (refused,) = await runner.decided(approve(asked, by="mallory"))
    assert isinstance(refused, PolicyDenied)
    assert "came from human:mallory, not from the manager human:priya.raman" in refused.data.reason
    assert await db.pool.fetchval("SELECT count(*) FROM skills.approvals") == 0
    assert await resets(okta) == 0


async def test_a_rejected_action_is_not_taken_and_the_manager_gets_the_ticket(org: Org, runner: Runner, okta: asyncpg.Pool) -> None:
    await supervised_jordan(org)
    *_, asked = await runner.run(request("ana.silva", version=SUPERVISED))
    events = await runner.decided(approve(asked, grant=False))
    assert [type(e) for e in events] == [PolicyAllowed, SkillStep, PolicyDenied, SkillFailed, MemoryRecallRequested, TicketEscalated]
    assert events[3].data.error_code == "approval_rejected"
    assert events[5].data.queue == "priya.raman"
    assert events[5].data.handoff.next_action == "Tell ana.silva why priya.raman did not approve password-reset, or agree another way."
    assert await resets(okta) == 0


async def test_a_coworker_suspended_mid_flight_stops_before_its_next_step(org: Org, runner: Runner, db: Database, okta: asyncpg.Pool) -> None:
    await supervised_jordan(org)
    requested = request("ana.silva", version=SUPERVISED)
    *_, asked = await runner.run(requested)  # step 1 ran; step 2 waits for the manager
    assert isinstance(asked, ApprovalRequested)
    await org.set("jordan", state="suspended", version=SUPERVISED, autonomy={"password-reset": Autonomy.supervised})
    events = await runner.decided(approve(asked))
    denied = [e for e in events if isinstance(e, PolicyDenied)]
    assert [d.data.rule for d in denied] == ["coworker-active"]
    assert "is suspended; it takes no work and stops before its next step" in denied[0].data.reason
    steps = await db.pool.fetch("SELECT step, status FROM skills.step_runs ORDER BY step")
    assert [(r["step"], r["status"]) for r in steps] == [(1, "done")], "step 1 had run; step 2 never did"
    assert await resets(okta) == 0, "the reset never happened"


async def test_in_flight_work_finishes_on_the_version_it_started_on(org: Org, runner: Runner) -> None:
    await supervised_jordan(org)
    started = request("ana.silva", version=SUPERVISED)
    *_, asked = await runner.run(started)
    await org.set("jordan", version=3, skills=[], autonomy={}, goals=[])  # v3 no longer holds password-reset
    assert (await runner.run(request("john.miller", version=3)))[0].data.rule == "holds-skill"
    done = await runner.decided(approve(asked))
    assert isinstance(done[-1], TicketResolved), "started on v2, finished on v2 with v2's credential"


# --- delegation ------------------------------------------------------------------------------


async def test_work_a_coworker_holds_through_a_sub_agent_is_handed_down_once_and_authorised_there(runner: Runner) -> None:
    events = await runner.run(request("ana.silva", skill="laptop-troubleshoot", coworker="it-support-workspace-manager", title="my laptop is slow"))
    decided, handed = events
    assert isinstance(decided, PolicyAllowed) and decided.data.rule == "delegation"
    assert isinstance(handed, SkillRequested)
    assert (handed.data.coworker, handed.data.delegation.chain) == ("hardware-support-specialist", ["it-support-workspace-manager"])
    there = await runner.run(handed)
    decisions = [e for e in there if isinstance(e, PolicyAllowed | PolicyDenied)]
    assert decisions and all(d.data.coworker == "hardware-support-specialist" for d in decisions), "the receiver's own authorisation applies"
    assert await runner.run(request("ana.silva", skill="laptop-troubleshoot", coworker="it-support-workspace-manager", title="my laptop is slow")) != []


async def test_a_hand_down_beyond_the_hop_limit_is_refused(runner: Runner) -> None:
    deep = request("ana.silva", skill="laptop-troubleshoot", coworker="it-support-workspace-manager")
    from contracts.events import Delegation

    deep = deep.model_copy(update={"data": deep.data.model_copy(update={"delegation": Delegation(chain=["a", "b", "c"])})})
    events = await runner.run(deep)
    assert isinstance(events[0], PolicyDenied) and "the limit is 3" in events[0].data.reason
    assert isinstance(events[-1], TicketEscalated)


# --- budgets and credential lifetimes ----------------------------------------------------------


async def test_a_coworker_with_no_budget_left_is_refused_before_acting(org: Org, runner: Runner, okta: asyncpg.Pool) -> None:
    from decimal import Decimal

    from contracts.coworkers import Budget

    await org.set("jordan", version=2, budget=Budget(monthly_usd=Decimal(0)))
    events = await runner.run(request("ana.silva", version=2))
    denied = [e for e in events if isinstance(e, PolicyDenied)]
    assert [d.data.rule for d in denied] == ["within-budget"]
    assert "budget coworker:jordan is spent: 0 of 0 USD" in denied[0].data.reason
    assert await resets(okta) == 0


async def test_last_months_spend_does_not_count_against_this_month(org: Org) -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from contracts.events import BudgetState, BudgetStatus

    last_month = BudgetStatus(budget="coworker:jordan", period="1999-12", spent_usd=Decimal(10_000), limit_usd=Decimal(250))
    org.registry.budgets.rows["coworker:jordan"] = BudgetState.create(last_month, source="/services/billing", team="it-support", actor=Actor.system("billing"), correlation_id="coworker:jordan")
    now = org.registry.budget("jordan", org.workforce["jordan"])
    assert (now.period, now.spent_usd, now.exhausted) == (datetime.now(UTC).strftime("%Y-%m"), Decimal(0), False)


def _budget(org: Org, key: str, spent: str, limit: str, *, ends_in_hours: float = 24) -> None:
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from contracts.events import BudgetState, BudgetStatus

    now = datetime.now(UTC)
    status = BudgetStatus(budget=key, period="this", spent_usd=Decimal(spent), limit_usd=Decimal(limit), period_start=now - timedelta(days=1), period_end=now + timedelta(hours=ends_in_hours))
    org.registry.budgets.rows[key] = BudgetState.create(status, source="/services/billing", team="it-support", actor=Actor.system("billing"), correlation_id=key)


@pytest.mark.parametrize("spent", ["team:it-support", "skill:it-support/password-reset"])
async def test_a_spent_team_or_skill_budget_refuses_the_step_though_the_coworkers_own_is_not_spent(org: Org, runner: Runner, spent: str, okta: asyncpg.Pool) -> None:
    _budget(org, "coworker:jordan", "1", "250")
    _budget(org, "team:it-support", "10", "1000")
    _budget(org, "skill:it-support/password-reset", "5", "100")
    _budget(org, spent, "100", "100")  # the one that is spent
    events = await runner.run(request("ana.silva"))
    denied = [e for e in events if isinstance(e, PolicyDenied)]
    assert [d.data.rule for d in denied] == ["within-budget"] and f"budget {spent} is spent" in denied[0].data.reason
    escalated = events[-1]
    assert isinstance(escalated, TicketEscalated) and (escalated.data.reason_code, escalated.data.queue) == ("budget_exhausted", "priya.raman")
    assert await resets(okta) == 0


async def test_a_budget_whose_period_is_over_has_reset(org: Org, runner: Runner) -> None:
    _budget(org, "team:it-support", "1000", "1000", ends_in_hours=-1)  # yesterday's day budget, spent
    assert isinstance((await runner.run(request("ana.silva")))[-1], TicketResolved)


async def test_a_new_version_keeps_the_previous_versions_credentials_for_work_in_flight_and_no_older(org: Org, db: Database, okta: asyncpg.Pool) -> None:
    async def live_versions() -> set[int]:
        rows = await db.pool.fetch("SELECT DISTINCT version FROM skills.credentials WHERE coworker = 'jordan' AND revoked_at IS NULL")
        return {r["version"] for r in rows}

    assert await live_versions() == {1}
    await org.set("jordan", version=2, tone="Brisk.")
    assert await live_versions() == {1, 2}
    await org.set("jordan", version=3, tone="Brisker.")
    assert await live_versions() == {2, 3}
    await org.set("jordan", version=5, tone="Brisker still.")  # v4 was a draft that never went live
    assert await live_versions() == {3, 5}
    assert await okta.fetchval("SELECT count(*) FROM sandbox_api_tokens WHERE coworker = 'jordan' AND version = 1 AND revoked_at IS NULL") == 0


async def test_after_a_rejection_nothing_waits_and_a_late_approval_only_replays_the_refusal(org: Org, runner: Runner, db: Database, okta: asyncpg.Pool) -> None:
    await supervised_jordan(org)
    *_, asked = await runner.run(request("ana.silva", version=SUPERVISED))
    refused = await runner.decided(approve(asked, grant=False))
    assert await db.pool.fetchval("SELECT count(*) FROM skills.pending_requests WHERE finished_at IS NULL") == 0
    late = await runner.decided(approve(asked))
    assert [e.id for e in late] == [e.id for e in refused], "the recorded outcome, again: nothing new happens"
    assert await resets(okta) == 0


async def test_a_redelivered_approval_after_a_crash_re_emits_the_outcome_instead_of_losing_it(org: Org, runner: Runner, okta: asyncpg.Pool) -> None:
    await supervised_jordan(org)
    *_, asked = await runner.run(request("ana.silva", version=SUPERVISED))
    done = await runner.decided(approve(asked))  # ...and the process died before these were sent
    again = await runner.decided(approve(asked))
    assert isinstance(done[-1], TicketResolved)
    assert [e.id for e in again] == [e.id for e in done]
    assert await resets(okta) == 1
