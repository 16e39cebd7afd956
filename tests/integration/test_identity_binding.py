"""Who asked, from the directory: a ticket's requester id and email must be one person the directory
knows before any step runs, only that person's answers resume a request, and the check of an
employee ID is made against that person's record. Against the simulated systems (deploy/sandbox over
HTTP, seeded), through the runner the service uses (and the answer consumer's own refusal)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from contracts.catalog import load_catalog
from contracts.envelope import Actor, Envelope
from contracts.events import (
    Answer,
    ApprovalRequested,
    PolicyAllowed,
    Requester,
    SkillFailed,
    SkillRequest,
    SkillRequested,
    SkillStep,
    Ticket,
    TicketAnswered,
    TicketCreated,
    TicketEscalated,
    TicketQuestion,
    TicketResolved,
)
from runtime.db import Database
from services.skills import app as skills_app
from services.skills import mfa_recovery
from deploy.sandbox.cases import Case, Workbench
from services.skills.credentials import Vault
from services.skills.identity import NotTheRequester, Person
from services.skills.library import SKILLS
from services.skills.mcp_server import SkillTools
from deploy.sandbox import hr_org
from deploy.sandbox.running import Running
from services.skills.settings import DEFAULT_CATALOG
from services.skills.skill import StepContext, StepFailed
from services.skills.systems import Systems

COUNT = 120  # the people the simulator fixture is seeded with
ANA_NUMBER = hr_org.person("ana.silva", COUNT).employee_id or ""


@pytest.fixture
async def db(service_database) -> Database:  # noqa: ANN001
    """The skills service's own schema (step records, answers, requester identities)."""
    return await service_database("skills")


@pytest.fixture
def systems(simulator: Running) -> asyncpg.Pool:
    """The simulated systems' state (the simulator's own database, schema ``sandbox``), for checks."""
    return simulator.database.pool


@pytest.fixture
async def bench(db: Database, workforce, simulator: Running) -> Workbench:  # noqa: ANN001
    workbench = Workbench(db, Vault(SecretStr(Fernet.generate_key().decode())), workforce, SKILLS, load_catalog(DEFAULT_CATALOG), simulator=simulator)
    await workbench.hire("jordan")  # the coworker these tickets go to (a test needing another hires it)
    return workbench


def asked_by(bench: Workbench, requester: Requester, *, skill: str = "password-reset", coworker: str = "jordan", text: str = "I forgot my password") -> SkillRequested:
    """A ``skill.requested`` for a ticket whose requester is exactly ``requester``."""
    ticket_id = f"T-{uuid.uuid4().hex[:10]}"
    created = TicketCreated.create(
        Ticket(ticket_id=ticket_id, title=text, description=text, requester=requester), source="/upstream/tests", team=bench.workforce[coworker].team, actor=Actor.system("tests"), correlation_id=ticket_id
    )
    data = SkillRequest(ticket_id=created.data.ticket_id, skill=skill, coworker=coworker, coworker_version=1, ticket=created.data, confidence=0.9)
    return created.caused(SkillRequested, data, source="/services/triage")


async def okta_state(systems: asyncpg.Pool, login: str) -> tuple[str, int]:
    """The person's Okta status and how many password resets Okta made for them."""
    row = await systems.fetchrow(
        "SELECT u.status, (SELECT count(*) FROM okta_password_resets r WHERE r.user_id = u.id) AS resets FROM okta_users u WHERE u.login = $1", f"{login}@acme.example"
    )
    return row["status"], row["resets"]


async def directory_calls(simulator: Running) -> int:
    """How many requests the simulated directory (Okta) has answered."""
    async with simulator.admin as admin:
        return (await admin.get("/calls")).json().get("okta", 0)


def answer(requested: SkillRequested, text: str, actor: Actor) -> TicketAnswered:
    return TicketAnswered.create(Answer(ticket_id=requested.data.ticket_id, text=text), source="/upstream/tests", team=requested.team, actor=actor, correlation_id=requested.data.ticket_id)


# --- the requester is one person in the directory, or nothing is done ------------------------------


async def test_a_made_up_id_with_a_colleagues_email_resets_nothing_ten_times_out_of_ten(bench: Workbench, db: Database, systems: asyncpg.Pool) -> None:
    for attempt in range(10):
        spoofed = asked_by(bench, Requester(id="ghost.fuzzer", email="ana.silva@acme.example"), text=f"I forgot my password ({attempt})")
        events = await bench.runner.run(spoofed)
        assert not any(isinstance(e, SkillStep | PolicyAllowed) for e in events), "no step was authorised or run"
        failed, escalated = events[0], events[-1]
        assert isinstance(failed, SkillFailed) and failed.data.error_code == "identity_mismatch" and failed.data.failed_step is None
        assert isinstance(escalated, TicketEscalated)
        assert (escalated.data.reason_code, escalated.data.queue) == ("identity_mismatch", "service-desk")
        assert escalated.data.reason == (
            "password-reset was not started: the requester's id 'ghost.fuzzer' is no one the directory (okta) knows, but their email ana.silva@acme.example is ana.silva@acme.example"
        )
        assert ANA_NUMBER not in escalated.model_dump_json(), "the escalation names what disagreed and nothing secret"
        assert escalated.data.handoff.next_action.startswith("Find out who really asked before doing anything")
    assert await okta_state(systems, "ana.silva") == ("ACTIVE", 0)
    assert await db.pool.fetchval("SELECT count(*) FROM skills.step_runs") == 0


async def test_one_persons_id_with_anothers_email_is_two_people_and_nothing_is_done(bench: Workbench, systems: asyncpg.Pool) -> None:
    events = await bench.runner.run(asked_by(bench, Requester(id="john.miller", email="ana.silva@acme.example")))
    assert events[0].data.reason == (
        "the requester's id 'john.miller' is john.miller@acme.example in the directory (okta), but their email ana.silva@acme.example is ana.silva@acme.example: two different people"
    )
    unknown_email = await bench.runner.run(asked_by(bench, Requester(id="ana.silva", email="ana.silva@elsewhere.example")))
    assert unknown_email[0].data.reason == "the requester's email ana.silva@elsewhere.example is no one the directory (okta) knows, but their id 'ana.silva' is ana.silva@acme.example"
    assert await okta_state(systems, "ana.silva") == ("ACTIVE", 0) and await okta_state(systems, "john.miller") == ("PASSWORD_EXPIRED", 0)


async def test_a_redelivered_request_replays_its_mismatch_and_the_directory_is_asked_once(bench: Workbench, db: Database, systems: asyncpg.Pool, simulator: Running) -> None:
    spoofed = asked_by(bench, Requester(id="ghost.fuzzer", email="ana.silva@acme.example"))
    first = await bench.runner.run(spoofed)
    asked = await directory_calls(simulator)
    await systems.execute("INSERT INTO okta_users (id, login, email, first_name, last_name, country, department, status) VALUES ('00ughost', 'ghost.fuzzer@acme.example', 'ghost.fuzzer@acme.example', 'G', 'F', 'US', 'IT', 'ACTIVE')")  # a fresh look-up would now say otherwise
    again = await bench.runner.run(spoofed)
    assert [e.id for e in again] == [e.id for e in first] and [e.data for e in again] == [e.data for e in first]
    assert await db.pool.fetchval("SELECT count(*) FROM skills.requester_identities") == 1
    assert await directory_calls(simulator) == asked, "the redelivery did not ask the directory again"


@pytest.mark.parametrize(
    ("requester", "outcome"),
    [
        (Requester(id="ana.silva"), "resolved"),  # an id alone, known to the directory as one person
        (Requester(id="ana.silva@acme.example", email="ana.silva@acme.example"), "resolved"),  # an upstream that sends only the email
        (Requester(id="Ana.Silva", email="ANA.SILVA@acme.example"), "resolved"),  # case does not matter
        (Requester(id="ghost.fuzzer"), "identity_mismatch"),  # an id alone the directory does not know
        (Requester(id="nobody.here", email="nobody.here@acme.example"), "identity_mismatch"),  # neither is known
    ],
    ids=["id only", "email only", "any case", "unknown id only", "neither known"],
)
async def test_a_requester_with_one_name_or_two(bench: Workbench, systems: asyncpg.Pool, requester: Requester, outcome: str) -> None:
    events = await bench.runner.run(asked_by(bench, requester))
    if outcome == "resolved":
        assert isinstance(events[-1], TicketResolved), [e.type for e in events]
        assert await okta_state(systems, "ana.silva") == ("RECOVERY", 1)
    else:
        assert isinstance(events[0], SkillFailed) and events[0].data.error_code == outcome
        assert await systems.fetchval("SELECT count(*) FROM okta_password_resets") == 0


async def test_the_directorys_own_user_id_names_the_requester_too(bench: Workbench, systems: asyncpg.Pool) -> None:
    okta_id = await systems.fetchval("SELECT id FROM okta_users WHERE login = 'ana.silva@acme.example'")
    events = await bench.runner.run(asked_by(bench, Requester(id=okta_id, email="ana.silva@acme.example")))
    assert isinstance(events[-1], TicketResolved)
    assert await bench.runner.identify(asked_by(bench, Requester(id=okta_id, email="ana.silva@acme.example"))) == Person(okta_id, "ana.silva@acme.example", "ana.silva@acme.example")


async def test_a_short_name_two_logins_share_names_nobody(bench: Workbench, systems: asyncpg.Pool) -> None:
    await systems.execute("INSERT INTO okta_users (id, login, email, first_name, last_name, country, department, status) VALUES ('00uother', 'ana.silva@subsidiary.example', 'ana.silva@subsidiary.example', 'Ana', 'Silva', 'IN', 'IT', 'ACTIVE')")
    events = await bench.runner.run(asked_by(bench, Requester(id="ana.silva")))
    assert events[0].data.error_code == "identity_mismatch" and "'ana.silva' is no one the directory (okta) knows, and the ticket gives no email" in events[0].data.reason
    full = await bench.runner.run(asked_by(bench, Requester(id="ana.silva@acme.example", email="ana.silva@acme.example")))
    assert isinstance(full[-1], TicketResolved), "the full login is still one person"


async def test_an_mcp_call_names_its_requester_by_email_and_runs(bench: Workbench, systems: asyncpg.Pool) -> None:
    emitted: list[Envelope[Any]] = []

    async def emit(event: Envelope[Any]) -> None:
        emitted.append(event)

    tools = SkillTools(bench.runner, SecretStr(Fernet.generate_key().decode()), emit)
    result = await tools.call("jordan", "password-reset", {"requester_email": "Ana.Silva@acme.example", "request": "I forgot my password"})
    assert not result.is_error and result.structured_content["status"] == "resolved", result.content
    assert await okta_state(systems, "ana.silva") == ("RECOVERY", 1)
    spoofed = await tools.call("jordan", "password-reset", {"requester_email": "nobody.here@acme.example", "request": "I forgot my password"})
    assert spoofed.is_error and spoofed.structured_content["status"] == "escalated"


async def test_the_directory_is_read_with_the_skills_services_own_read_only_credential(bench: Workbench, systems: asyncpg.Pool) -> None:
    await bench.runner.run(asked_by(bench, Requester(id="ana.silva", email="ana.silva@acme.example")))
    rows = await systems.fetch("SELECT coworker, version, scopes FROM sandbox_api_tokens WHERE system = 'okta' AND coworker = 'service:skills' AND revoked_at IS NULL")
    assert [(r["coworker"], r["version"], list(r["scopes"])) for r in rows] == [("service:skills", 0, ["users.read"])]
    await bench.runner.run(asked_by(bench, Requester(id="john.miller", email="john.miller@acme.example")))
    assert await systems.fetchval("SELECT count(*) FROM sandbox_api_tokens WHERE coworker = 'service:skills'") == 1, "issued once, then reused"


# --- only the requester answers ---------------------------------------------------------------------


async def mfa_waiting_for_the_employee_id(bench: Workbench) -> SkillRequested:
    requested = bench.request(Case("lost", "mfa-recovery", "jordan", "ana.silva", "I lost my phone and cannot approve the Okta Verify push", "resolved"))
    asked = await bench.runner.run(requested)
    assert isinstance(asked[-1], TicketQuestion) and asked[-1].data.field == "employee_id"
    return requested


async def test_an_answer_from_someone_else_on_an_mfa_ticket_is_not_applied_and_the_request_keeps_waiting(bench: Workbench, db: Database, systems: asyncpg.Pool) -> None:
    requested = await mfa_waiting_for_the_employee_id(bench)
    for impostor in (Actor.human("john.miller"), Actor.human("ghost.fuzzer"), Actor.coworker("jordan"), Actor.system("upstream")):
        with pytest.raises(NotTheRequester) as refused:
            await bench.runner.answered(answer(requested, ANA_NUMBER, impostor))  # the victim's right employee ID
        assert refused.value.reason == (
            f"the answer came from {impostor}, not from the requester human:ana.silva the question was asked of; it was not applied and the request keeps waiting"
        )
    assert await db.pool.fetchval("SELECT count(*) FROM skills.answers") == 0
    assert await db.pool.fetchval("SELECT count(*) FROM skills.pending_requests WHERE waiting_for = 'answer' AND finished_at IS NULL") == 1
    assert await db.pool.fetchval("SELECT count(*) FROM skills.step_runs WHERE step > 1") == 0, "verify-identity never ran"
    assert await systems.fetchval("SELECT count(*) FROM okta_factor_resets") == 0
    resumed = await bench.runner.answered(answer(requested, ANA_NUMBER, Actor.human("ana.silva")))  # then she answers herself
    verified = next(e for e in resumed if isinstance(e, SkillStep) and e.data.name == "verify-identity")
    assert verified.data.status == "done" and isinstance(resumed[-1], ApprovalRequested)


async def test_the_requester_may_answer_under_any_name_the_directory_knows_them_by(bench: Workbench) -> None:
    requested = await mfa_waiting_for_the_employee_id(bench)
    resumed = await bench.runner.answered(answer(requested, ANA_NUMBER, Actor.human("ana.silva@acme.example")))
    assert any(isinstance(e, SkillStep) and e.data.name == "verify-identity" and e.data.status == "done" for e in resumed)


async def test_the_answer_consumer_dead_letters_a_refused_answer_as_not_a_writer(bench: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    requested = await mfa_waiting_for_the_employee_id(bench)
    refused: list[tuple[str, str, str]] = []
    emitted: list[Envelope[Any]] = []
    monkeypatch.setattr(skills_app, "runner", bench.runner)
    monkeypatch.setattr(skills_app.service, "refuse", lambda event, code, reason: refused.append((event.id, code, reason)))
    monkeypatch.setattr(skills_app.service, "emit", emitted.append)
    impostor, own = answer(requested, ANA_NUMBER, Actor.human("john.miller")), answer(requested, ANA_NUMBER, Actor.human("ana.silva"))
    await skills_app.on_answer([impostor, own])
    assert [(event_id, code) for event_id, code, _ in refused] == [(impostor.id, "not_a_writer")]
    assert "human:john.miller" in refused[0][2]
    assert any(isinstance(e, SkillStep) and e.data.name == "verify-identity" for e in emitted), "the requester's own answer in the same batch resumes the request"


async def test_the_employee_id_is_checked_against_the_resolved_requester_never_a_record_a_step_or_answer_names(bench: Workbench, systems: asyncpg.Pool, simulator: Running) -> None:
    step = next(s for s in mfa_recovery.MFA_RECOVERY.steps if s.name == "verify-identity")
    rows = {r["login"]: r["id"] for r in await systems.fetch("SELECT id, login FROM okta_users WHERE login IN ('ana.silva@acme.example', 'john.miller@acme.example')")}
    ana = Person(rows["ana.silva@acme.example"], "ana.silva@acme.example", "ana.silva@acme.example")
    token = await simulator.token("okta", "tester", ["users.read"])
    connected = Systems(simulator.urls())
    directory = connected.open("okta", token)  # the directory over HTTP, as the step is given it
    request = bench.request(Case("x", "mfa-recovery", "jordan", "ana.silva", "lost phone", "resolved")).data
    john = {"user_id": rows["john.miller@acme.example"], "login": "john.miller@acme.example"}  # what an earlier step could wrongly carry

    def ctx(number: str, requester: Person | None = ana) -> StepContext:
        asked = request.model_copy(update={"inputs": {"employee_id": number}})
        return StepContext(asked, "k", {"find-user": john}, token, directory, requester)

    try:
        with pytest.raises(StepFailed) as wrong:
            await step.run(ctx(hr_org.person("john.miller", COUNT).employee_id or ""))
        assert wrong.value.code == "identity_not_verified" and "ana.silva@acme.example" in wrong.value.reason
        assert await step.run(ctx(ANA_NUMBER)) == {"verified": True, "method": "employee ID matched the directory"}
        with pytest.raises(StepFailed) as unresolved:
            await step.run(ctx(ANA_NUMBER, requester=None))
        assert unresolved.value.code == "identity_unverifiable"
    finally:
        await connected.close()


# --- personal identifiers stay out of what is told ----------------------------------------------------


async def test_a_hire_passes_the_new_employee_id_to_payroll_without_showing_it(bench: Workbench, db: Database, systems: asyncpg.Pool) -> None:
    from deploy.sandbox.cases import hr_onboarding

    case = next(c for c in hr_onboarding.CASES if c.skill == "hr-onboarding-us" and c.expect == "resolved")
    await bench.hire(case.coworker)
    played = await bench.play(case)
    assert bench.verdict(played) is None, bench.verdict(played)
    number = await systems.fetchval("SELECT employee_id FROM workday_workers WHERE email = 'jane.lee@acme.example'")
    assert number and await systems.fetchval("SELECT employee_id FROM payroll_employees WHERE worker_id = $1", hr_org.wid("jane.lee")) == number
    told = [json.dumps(e.data.outputs) for e in played.events if isinstance(e, SkillStep)] + [e.data.resolution for e in played.events if isinstance(e, TicketResolved)]
    assert told and not any(number in text for text in told)
    kept = await db.pool.fetchval("SELECT outputs->>'_employee_id' FROM skills.step_runs WHERE skill = 'hr-onboarding-us' AND step = 2 AND kind = 'action'")
    assert kept == number, "kept with the step's outcome for a resumed request's later steps"
