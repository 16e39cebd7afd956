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
