"""Every skill's sandbox cases, each played once in a fresh, seeded sandbox (bench/skills.py plays each
eight times): the happy paths and the failure paths a person would check by hand, and none of them
shows anyone's employee id, PAN or UAN in what it records or tells."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import asyncpg
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from contracts import codec
from contracts.catalog import load_catalog
from contracts.envelope import Envelope
from contracts.events import SkillCompleted, SkillStep, TicketEscalated, TicketResolved
from deploy.sandbox.cases import CASES, Case, Workbench
from services.skills.credentials import Vault
from services.skills.library import SKILLS, check
from deploy.sandbox import hr_org
from services.skills.settings import DEFAULT_CATALOG


COUNT = 120


@pytest.fixture
async def bench(service_database, workforce, simulator) -> Workbench:  # noqa: ANN001
    database = await service_database("skills")
    vault = Vault(SecretStr(Fernet.generate_key().decode()))
    workbench = Workbench(database, vault, workforce, SKILLS, load_catalog(DEFAULT_CATALOG), simulator=simulator)
    await workbench.hire_all()
    return workbench


def test_every_skill_run_here_is_in_the_catalog_with_the_scopes_its_steps_use() -> None:
    check(SKILLS, load_catalog(DEFAULT_CATALOG))


def test_every_skill_has_a_happy_path_and_a_failure_path() -> None:
    for name in SKILLS:
        outcomes = {case.expect for case in CASES if case.skill == name}
        assert outcomes == {"resolved", "escalated"}, f"{name} has cases ending only in {outcomes}"


async def personal_identifiers(conn: asyncpg.Connection) -> set[str]:
    """Everyone's employee id, PAN and UAN: as seeded, and as the systems hold them after a case (a
    hire gets a new employee id; an enrolment, a new UAN)."""
    seeded = {v for p in hr_org.org(COUNT) for v in (p.employee_id, p.pan, p.uan) if v}
    rows = await conn.fetch(
        "SELECT employee_id AS v FROM workday_workers UNION SELECT employee_number FROM okta_users UNION SELECT employee_id FROM payroll_employees"
        " UNION SELECT pan FROM payroll_employees UNION SELECT uan FROM payroll_employees"
    )
    return seeded | {r["v"] for r in rows if r["v"]}


def told(events: list[Envelope]) -> Iterator[tuple[str, str]]:
    """What each event records or tells a person: a step's inputs and outputs, a skill's summary, a
    resolution, an escalation's reason and hand-off (the ticket as written aside)."""
    for event in events:
        if isinstance(event, SkillStep):
            yield f"skill.step {event.data.name}", json.dumps(event.data.inputs) + json.dumps(event.data.outputs)
        elif isinstance(event, SkillCompleted):
            yield "skill.completed", event.data.summary
        elif isinstance(event, TicketResolved):
            yield "ticket.resolved", event.data.resolution
        elif isinstance(event, TicketEscalated):
            handoff = event.data.handoff
            yield "ticket.escalated", " ".join([event.data.reason, handoff.why, handoff.next_action, *handoff.facts, *(a.detail for a in handoff.tried)])


@pytest.mark.parametrize("case", CASES, ids=[f"{c.skill}: {c.name}" for c in CASES])
async def test_case(bench: Workbench, case: Case) -> None:
    played = await bench.play(case)
    assert bench.verdict(played) is None, bench.verdict(played)
    for event in played.events:  # every event the case produced is a valid contract event
        assert codec.decode(codec.encode(event)).id == event.id
    async with bench.systems_pool.acquire() as conn:
        identifiers = await personal_identifiers(conn)
    for where, text in told(played.events):  # and none shows a person's employee id, PAN or UAN
        leaked = identifiers & set(re.findall(r"[A-Za-z0-9]+", text))
        assert not leaked, f"{where} shows personal identifiers {sorted(leaked)}: {text[:300]}"


async def test_a_skill_that_asks_memory_first_waits_resumes_on_the_answer_once_and_runs_without_it_when_memory_is_silent(bench: Workbench) -> None:
    from contracts.events import MemoryRecalled, MemoryRecallRequested, RecallResult, SkillFailed, TicketEscalated, TicketResolved
    from deploy.sandbox.cases.knowledge import _knowledge

    runbook = Case("r", "knowledge-answer", "atom", "ana.silva", "my outlook crashes when I open it", "resolved")
    requested = bench.request(runbook)
    (asked,) = await bench.runner.run(requested)
    assert isinstance(asked, MemoryRecallRequested) and asked.data.request_id == f"skill:{requested.id}" and asked.data.coworker == "atom"
    assert [e.id for e in await bench.runner.run(requested)] == [asked.id], "redelivered while waiting: the same question to memory"
    known = _knowledge("Outlook crashes at start", "Start Outlook in safe mode (outlook.exe /safe), then turn the add-ins off one by one.", 0.7)
    reply = asked.caused(MemoryRecalled, RecallResult(request_id=asked.data.request_id, items=[known], token_budget=800, embedding_model="m"), source="/services/memory")
    events = await bench.runner.recalled(reply)
    assert isinstance(events[-1], TicketResolved) and "safe mode" in events[-1].data.resolution
    assert await bench.runner.recalled(reply) == [], "a redelivered answer resumes nothing"
    assert [e.id for e in (await bench.runner.run(requested))[-2:]] == [e.id for e in events[-2:]], "the request redelivered replays its outcome"

    silent = bench.request(Case("s", "knowledge-answer", "atom", "ana.silva", "my outlook crashes when I open it", "escalated"))
    (waiting,) = await bench.runner.run(silent)
    assert isinstance(waiting, MemoryRecallRequested)
    assert await bench.runner.overdue_recalls(60) == [], "not overdue yet"
    events = await bench.runner.overdue_recalls(0)
    assert isinstance(events[-1], TicketEscalated) and next(e for e in events if isinstance(e, SkillFailed)).data.error_code == "no_answer"
    async with bench.database.pool.acquire() as conn:
        assert await conn.fetchval("SELECT note FROM recalls WHERE request_id = $1", silent.id) == "memory did not answer within 0s"
    assert await bench.runner.overdue_recalls(0) == [], "run once"
