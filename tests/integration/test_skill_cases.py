"""Every skill's sandbox cases, each played once in a fresh, seeded sandbox (bench/skills.py plays each
eight times): the happy paths and the failure paths a person would check by hand."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from contracts import codec
from contracts.catalog import load_catalog
from services.skills.cases import Case, Workbench
from services.skills.credentials import Vault
from services.skills.library import CASES, SKILLS, check
from services.skills.sandbox.seed import seed_sandboxes
from services.skills.settings import DEFAULT_CATALOG


@pytest.fixture
async def bench(service_database, workforce) -> Workbench:  # noqa: ANN001
    database = await service_database("skills")
    async with database.pool.acquire() as conn:
        await seed_sandboxes(conn, 120)
    vault = Vault(SecretStr(Fernet.generate_key().decode()))
    workbench = Workbench(database, vault, workforce, SKILLS, load_catalog(DEFAULT_CATALOG))
    await workbench.hire_all()
    return workbench


def test_every_skill_run_here_is_in_the_catalog_with_the_scopes_its_steps_use() -> None:
    check(SKILLS, load_catalog(DEFAULT_CATALOG))


def test_every_skill_has_a_happy_path_and_a_failure_path() -> None:
    for name in SKILLS:
        outcomes = {case.expect for case in CASES if case.skill == name}
        assert outcomes == {"resolved", "escalated"}, f"{name} has cases ending only in {outcomes}"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.skill}: {c.name}" for c in CASES])
async def test_case(bench: Workbench, case: Case) -> None:
    played = await bench.play(case)
    assert bench.verdict(played) is None, bench.verdict(played)
    for event in played.events:  # every event the case produced is a valid contract event
        assert codec.decode(codec.encode(event)).id == event.id


async def test_a_skill_that_asks_memory_first_waits_resumes_on_the_answer_once_and_runs_without_it_when_memory_is_silent(bench: Workbench) -> None:
    from contracts.events import MemoryRecalled, MemoryRecallRequested, RecallResult, SkillFailed, TicketEscalated, TicketResolved
    from services.skills.knowledge import _knowledge

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
