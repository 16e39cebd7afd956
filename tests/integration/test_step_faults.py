"""A step against a system that misbehaves, over HTTP (ADR 0022): an outage or a 429 is retried within
the step's limits (waiting what the system asked); a system down for every attempt has the earlier
steps undone and a person gets every attempt; a call that acted but whose answer never arrived (a
timeout, a crash before the outcome was recorded) is not acted on again when the step is tried again;
and a simulator restarted mid-run keeps its state."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from contracts.catalog import load_catalog
from contracts.events import SkillCompleted, SkillFailed, SkillStep, TicketEscalated
from deploy.sandbox.cases import Case, Workbench
from deploy.sandbox.running import running
from services.skills import execution
from services.skills.credentials import Vault
from services.skills.library import SKILLS
from services.skills.settings import DEFAULT_CATALOG

RESET = Case("active user resets", "password-reset", "jordan", "ana.silva", "I forgot my password", "resolved")
HIRE = Case("the staged new hire", "new-hire-accounts", "onboarding-manager", "ana.silva", "please onboard jane lee to the finance team", "escalated", inputs={"employee": "jane.lee"}, approve=True)


def _patient(seconds: float) -> dict:
    """The skills, with password-reset's reset step given ``seconds`` per attempt (so a test waits less)."""
    skill = SKILLS["password-reset"]
    steps = tuple(replace(s, timeout_s=seconds) if s.name == "reset-password" else s for s in skill.steps)
    return {**SKILLS, "password-reset": replace(skill, steps=steps)}


async def _bench(service_database, workforce, simulator, skills=SKILLS) -> Workbench:  # noqa: ANN001
    database = await service_database("skills")
    bench = Workbench(database, Vault(SecretStr(Fernet.generate_key().decode())), workforce, skills, load_catalog(DEFAULT_CATALOG), simulator=simulator)
    await bench.hire_all()
    return bench


async def _resets(pool, login: str = "ana.silva") -> int:  # noqa: ANN001
    return await pool.fetchval("SELECT count(*) FROM okta_password_resets r JOIN okta_users u ON u.id = r.user_id WHERE u.login = $1", f"{login}@acme.example")


def _steps(events: list, name: str) -> list[SkillStep]:
    return [e for e in events if isinstance(e, SkillStep) and e.data.name == name and e.data.kind == "action"]


async def test_an_outage_is_retried_within_the_step_and_the_reset_happens_once(service_database, workforce, simulator) -> None:  # noqa: ANN001
    bench = await _bench(service_database, workforce, simulator)
    await simulator.hook("faults", system="okta", method="POST", path="/lifecycle/reset_password", status=503, times=2)
    played = await bench.play(RESET)
    assert bench.verdict(played) is None, bench.verdict(played)
    (step,) = _steps(played.events, "reset-password")
    assert (step.data.status, step.data.attempts) == ("done", 3), "two 503s, then the reset"
    assert await _resets(simulator.database.pool) == 1


async def test_a_429_is_retried_after_the_wait_okta_asked_for(service_database, workforce, simulator) -> None:  # noqa: ANN001
    bench = await _bench(service_database, workforce, simulator)  # its own backoff is 10 ms
    await simulator.hook("faults", system="okta", method="POST", path="/lifecycle/reset_password", status=429, retry_after=1.5, times=1)
    started = time.monotonic()
    played = await bench.play(RESET)
    assert bench.verdict(played) is None, bench.verdict(played)
    assert time.monotonic() - started >= 1.4, "the retry waited what Retry-After said, not the 10 ms backoff"
    assert await _resets(simulator.database.pool) == 1


async def test_a_system_down_for_every_attempt_undoes_the_earlier_steps_and_a_person_gets_every_attempt(service_database, workforce, simulator) -> None:  # noqa: ANN001
    bench = await _bench(service_database, workforce, simulator)
    await simulator.hook("faults", system="okta", method="POST", path="/api/v1/apps/", status=503, times=1000)  # assigning apps, only
    played = await bench.play(HIRE)
    failed = next(e for e in played.events if isinstance(e, SkillFailed))
    assert failed.data.error_code == "system_unavailable", failed.data.reason
    for n in (1, 2, 3):
        assert f"attempt {n}: 503" in failed.data.reason, f"attempt {n} is listed for the person: {failed.data.reason}"
    assert "activate-account" in failed.data.compensated, f"the activation was undone: {failed.data.compensated}"
    escalated = next(e for e in played.events if isinstance(e, TicketEscalated))
    assert any("attempt 3: 503" in a.detail for a in escalated.data.handoff.tried), "the person's hand-off lists the attempts"
    pool = simulator.database.pool
    assert await pool.fetchval("SELECT status FROM okta_users WHERE login = 'jane.lee@acme.example'") == "DEPROVISIONED", "the activation was undone"
    assert await pool.fetchval("SELECT count(*) FROM okta_app_users a JOIN okta_users u ON u.id = a.user_id WHERE u.login = 'jane.lee@acme.example'") == 0


async def test_a_reset_that_answered_too_late_is_not_done_again_by_the_retry(service_database, workforce, simulator) -> None:  # noqa: ANN001
    bench = await _bench(service_database, workforce, simulator, _patient(1.0))
    hold = await simulator.hook("holds", system="okta", method="POST", path="/lifecycle/reset_password", when="after")
    playing = asyncio.create_task(bench.play(RESET))
    async with simulator.admin as admin:
        assert (await admin.get(f"/holds/{hold['id']}", params={"wait": 30})).json()["state"] == "holding"
        assert await _resets(simulator.database.pool) == 1, "Okta acted; its answer is held"
        pool = bench.database.pool
        assert pool.get_size() - pool.get_idle_size() == 0, "no connection of the skills' pool is held while Okta is called"
        played = await asyncio.wait_for(playing, 60)  # the first attempt timed out; the retry found the reset
        (await admin.post(f"/holds/{hold['id']}/release")).raise_for_status()
    assert bench.verdict(played) is None, bench.verdict(played)
    (step,) = _steps(played.events, "reset-password")
    assert step.data.status == "done" and step.data.attempts == 2
    assert await _resets(simulator.database.pool) == 1, "the retry did not reset again"


@pytest.mark.parametrize("when", ["after", "before"])
async def test_a_crash_mid_call_leaves_an_intent_and_the_next_delivery_acts_exactly_once(service_database, workforce, simulator, monkeypatch, when: str) -> None:  # noqa: ANN001
    """``after``: Okta acted and the process died before recording it. ``before``: it died while its
    call was in flight, before Okta acted (then Okta acts on the request it already had, or not)."""
    monkeypatch.setattr(execution, "LEASE_S", 1.0)  # a dead holder's claim lapses in a second, not 15
    bench = await _bench(service_database, workforce, simulator)
    requested = bench.request(RESET)
    hold = await simulator.hook("holds", system="okta", method="POST", path="/lifecycle/reset_password", when=when)
    crashing = asyncio.create_task(bench.runner.run(requested))
    async with simulator.admin as admin:
        assert (await admin.get(f"/holds/{hold['id']}", params={"wait": 30})).json()["state"] == "holding"
        crashing.cancel()  # the process is gone: no outcome recorded, the intent stays
        with pytest.raises(asyncio.CancelledError):
            await crashing
        key = execution.idempotency_key(requested, 2)
        pool = bench.database.pool
        assert await pool.fetchval("SELECT count(*) FROM step_intents WHERE idempotency_key = $1", key) == 1
        assert await pool.fetchval("SELECT count(*) FROM step_runs WHERE idempotency_key = $1", key) == 0
        (await admin.post(f"/holds/{hold['id']}/release")).raise_for_status()
    await asyncio.sleep(0.3)  # whatever Okta does with the request it holds, it does now
    events = await bench.runner.run(requested)  # Kafka delivers the request again
    assert any(isinstance(e, SkillCompleted) for e in events), [e.type for e in events]
    assert await _resets(simulator.database.pool) == 1, "reset exactly once"
    assert len(_steps(events, "reset-password")) == 1
    assert await pool.fetchval("SELECT count(*) FROM step_runs WHERE idempotency_key = $1", key) == 1, "exactly one outcome"
    assert await pool.fetchval("SELECT count(*) FROM step_intents") == 0
    again = await bench.runner.run(requested)
    assert [e.id for e in again] == [e.id for e in events], "a further delivery replays the same events"
    assert await _resets(simulator.database.pool) == 1


async def test_a_simulator_restarted_mid_run_keeps_its_state(server_url, simulator_template, service_database, workforce) -> None:  # noqa: ANN001
    import asyncpg

    from deploy.stack import free_port
    from tests.conftest import _drop_database, _with_database

    name = f"wf_test_restart_{int(time.time() * 1000)}"
    conn = await asyncpg.connect(server_url)
    await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{simulator_template}"')
    await conn.close()
    url, port = _with_database(server_url, name), free_port()
    supervised = replace(RESET, autonomy="supervised", approve=None)
    try:
        async with running(url, employees=None, port=port) as first:
            bench = await _bench(service_database, workforce, first)
            played = await bench.play(supervised)  # waits for the manager
            assert played.outcome == "waiting" and played.approvals == 0
            pending = [e for e in played.events if e.type == "approval.requested"][-1]
            await first.database.pool.execute("UPDATE okta_users SET status = 'LOCKED_OUT' WHERE login = 'ana.silva@acme.example'")
        async with running(url, employees=None, port=port) as second:  # the same systems, restarted
            bench.simulator = second
            assert await second.database.pool.fetchval("SELECT status FROM okta_users WHERE login = 'ana.silva@acme.example'") == "LOCKED_OUT"
            from contracts.envelope import Actor
            from contracts.events import ApprovalDecision, ApprovalGranted

            decision = ApprovalDecision(approval_id=pending.data.approval_id, ticket_id=pending.data.ticket_id, coworker=pending.data.coworker, skill=pending.data.skill, step=pending.data.step)
            events = await bench.runner.decided(ApprovalGranted.create(decision, source="/cli/workforce", team="platform", actor=Actor.human(pending.data.approver), correlation_id=pending.data.ticket_id))
            assert any(isinstance(e, SkillCompleted) for e in events), [e.type for e in events]
            assert await _resets(second.database.pool) == 1, "the token issued before the restart still works, and the reset happened once"
    finally:
        await _drop_database(server_url, url)
