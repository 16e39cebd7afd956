"""The Workday client against the Workday simulator over HTTP, as a skill would reach a real tenant:
every operation of the connector, Workday's refusals (401, 403, 404, validation codes), each write
repeated with the same idempotency key acting once on the system, and a 429 arriving as a transient
error with the wait Workday asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from deploy.sandbox import hr_org
from services.skills.connectors.workday_http import WorkdayError, WorkdayHttp, mark

ALL = ["workers.read", "workers.create", "workers.terminate", "time_off.read", "time_off.request"]


def wid(login: str) -> str:
    return hr_org.wid(login)


def next_monday(weeks: int = 1) -> date:
    today = date.today()
    return today + timedelta(days=7 * weeks - today.weekday())


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def connect(simulator: Any, http: httpx.AsyncClient, scopes: list[str] = ALL, coworker: str = "hr-bot") -> WorkdayHttp:
    return WorkdayHttp(simulator.urls()["workday"], await simulator.token("workday", coworker, scopes), http)


async def count(simulator: Any, sql: str, *args: Any) -> int:
    return await simulator.database.pool.fetchval(sql, *args)


async def test_workers_are_found_by_id_email_employee_id_and_name(simulator: Any, http: httpx.AsyncClient) -> None:
    api = await connect(simulator, http)
    ana = await api.get_worker(wid("ana.silva"))
    assert (ana.email, ana.name, ana.country, ana.status, ana.hire_date) == ("ana.silva@acme.example", "Ana Silva", "US", "Active", date(2019, 3, 4))
    assert ana.manager_name == "Linda Brown" and ana.annual_salary > 0 and ana.currency == "USD"
    assert await api.get_worker("ana.silva@acme.example") == ana
    assert await api.get_worker(ana.employee_id or "") == ana
    assert [w.id for w in await api.find_workers("Ana Silva")] == [ana.id]
    rahul = await api.find_workers("rahul.verma")
    assert [w.status for w in rahul] == ["Terminated"] and await api.find_workers("rahul.verma", include_terminated=False) == []


async def test_a_bad_or_revoked_token_is_workdays_401_and_a_missing_scope_its_403(simulator: Any, http: httpx.AsyncClient) -> None:
    bad = WorkdayHttp(simulator.urls()["workday"], "not-a-token", http)
    with pytest.raises(WorkdayError) as refused:
        await bad.get_worker(wid("ana.silva"))
    assert (refused.value.status, refused.value.code, refused.value.transient) == (401, "invalid_token", False)
    assert refused.value.body["errors"][0]["error"].startswith("Invalid resource or operation")
    reader = await connect(simulator, http, ["workers.read"], coworker="reader")
    with pytest.raises(WorkdayError) as forbidden:
        await reader.get_balances(wid("ana.silva"))
    assert (forbidden.value.status, forbidden.value.code) == (403, "insufficient_permissions")
    assert "time_off.read" in forbidden.value.summary
    async with simulator.admin as admin:
        (await admin.post("/tokens/revoke", json={"coworker": "reader", "system": "workday"})).raise_for_status()
    with pytest.raises(WorkdayError) as revoked:
        await reader.get_worker(wid("ana.silva"))
    assert revoked.value.status == 401


async def test_an_unknown_worker_or_event_is_not_found(simulator: Any, http: httpx.AsyncClient) -> None:
    api = await connect(simulator, http)
    for call in (api.get_worker("0" * 32), api.get_worker("nobody@acme.example"), api.cancel_time_off("f" * 32, idempotency_key="k"), api.rescind("e" * 32, idempotency_key="k")):
        with pytest.raises(WorkdayError) as missing:
            await call
        assert (missing.value.status, missing.value.code) == (404, "not_found")


async def test_time_off_awaits_the_manager_and_a_repeated_key_submits_once(simulator: Any, http: httpx.AsyncClient) -> None:
    api = await connect(simulator, http)
    ana, start = wid("ana.silva"), next_monday(2)
    first = await api.request_time_off(ana, "Vacation", start, start + timedelta(days=4), idempotency_key="T-1:leave-request:3", ticket_id="T-1", comment="Beach")
    again = await api.request_time_off(ana, "Vacation", start, start + timedelta(days=4), idempotency_key="T-1:leave-request:3", ticket_id="T-1", comment="Beach")
    assert again == first
    assert (first.status, first.quantity, first.unit, first.awaiting_id, first.awaiting_name) == ("Submitted", Decimal(40), "Hours", wid("linda.brown"), "Linda Brown")
    assert await count(simulator, "SELECT count(*) FROM workday_time_off_requests WHERE worker_id = $1", ana) == 1
    assert mark("T-1:leave-request:3") in await simulator.database.pool.fetchval("SELECT comment FROM workday_time_off_requests WHERE id = $1", first.id)
    vacation = next(b for b in await api.get_balances(ana) if b.plan == "Vacation")
    assert (vacation.balance, vacation.scheduled, vacation.available, vacation.daily_quantity) == (Decimal(56), Decimal(40), Decimal(16), Decimal(8))
    assert await api.list_time_off(ana) == [first]
    canceled = await api.cancel_time_off(first.id, idempotency_key="T-1:leave-request:3:undo")
    assert await api.cancel_time_off(first.id, idempotency_key="T-1:leave-request:3:undo") == canceled
    assert (canceled.status, canceled.awaiting_id) == ("Canceled", None)
    assert await count(simulator, "SELECT count(*) FROM workday_time_off_requests WHERE status = 'Canceled'") == 1
    assert next(b for b in await api.get_balances(ana) if b.plan == "Vacation").scheduled == 0


async def test_workday_refuses_time_off_with_its_own_codes(simulator: Any, http: httpx.AsyncClient) -> None:
    api = await connect(simulator, http)
    start = next_monday(3)
    with pytest.raises(WorkdayError) as too_much:
        await api.request_time_off(wid("john.miller"), "Vacation", start, start + timedelta(days=4), idempotency_key="a", ticket_id="T-1")
    assert (too_much.value.status, too_much.value.code) == (400, "A1011")
    assert too_much.value.body["errors"][0]["field"] == "days"
    with pytest.raises(WorkdayError) as not_theirs:
        await api.request_time_off(wid("ana.silva"), "Earned Leave", start, start, idempotency_key="b", ticket_id="T-1")
    assert not_theirs.value.code == "A1009"
    assert await count(simulator, "SELECT count(*) FROM workday_time_off_requests") == 0


async def test_a_hire_repeated_with_its_key_happens_once_and_rescinding_it_makes_a_pre_hire_again(simulator: Any, http: httpx.AsyncClient) -> None:
    api = await connect(simulator, http)
    jane = wid("jane.lee")
    hired = await api.hire(jane, idempotency_key="T-1:hr-onboarding-us:2", ticket_id="T-1")
    assert await api.hire(jane, idempotency_key="T-1:hr-onboarding-us:2", ticket_id="T-1") == hired
    assert (hired.kind, hired.status, hired.worker_id) == ("Hire", "Successfully Completed", jane) and hired.employee_id
    assert await count(simulator, "SELECT count(*) FROM workday_staffing_events WHERE worker_id = $1", jane) == 1
    worker = await api.get_worker(jane)
    assert (worker.status, worker.employee_id) == ("Active", hired.employee_id)
    undone = await api.rescind(hired.id, idempotency_key="T-1:hr-onboarding-us:2:undo")
    assert await api.rescind(hired.id, idempotency_key="T-1:hr-onboarding-us:2:undo") == undone
    assert undone.status == "Rescinded"
    assert await count(simulator, "SELECT count(*) FROM workday_staffing_events WHERE status = 'Rescinded' AND rescind_key IS NOT NULL") == 1
    assert (await api.get_worker(jane)).status == "Pre-Hire"


async def test_a_termination_repeated_with_its_key_happens_once_and_a_different_one_is_refused(simulator: Any, http: httpx.AsyncClient) -> None:
    api = await connect(simulator, http)
    martinez, last = wid("james.martinez"), date.today() + timedelta(days=10)
    with pytest.raises(WorkdayError) as reason:
        await api.terminate(martinez, last_day=last, reason="bored", idempotency_key="a", ticket_id="T-1")
    assert reason.value.body["errors"][0]["field"] == "primaryReason"
    ended = await api.terminate(martinez, last_day=last, reason="Voluntary > Resignation", idempotency_key="d", ticket_id="T-1")
    assert await api.terminate(martinez, last_day=last, reason="Voluntary > Resignation", idempotency_key="d", ticket_id="T-1") == ended
    assert (ended.kind, ended.effective_date, ended.reason) == ("Termination", last, "Voluntary > Resignation")
    with pytest.raises(WorkdayError) as other:
        await api.terminate(martinez, last_day=last + timedelta(days=1), reason="Voluntary > Resignation", idempotency_key="e", ticket_id="T-2")
    assert other.value.code == "A178"
    assert await count(simulator, "SELECT count(*) FROM workday_staffing_events WHERE worker_id = $1", martinez) == 1
    worker = await api.get_worker(martinez)
    assert (worker.status, worker.termination_date, worker.termination_reason) == ("Terminated", last, "Voluntary > Resignation")


async def test_a_429_arrives_as_a_transient_error_with_the_wait_workday_asked_for(simulator: Any, http: httpx.AsyncClient) -> None:
    api = await connect(simulator, http)
    await simulator.hook("faults", system="workday", status=429, retry_after=2)
    with pytest.raises(WorkdayError) as limited:
        await api.get_worker(wid("ana.silva"))
    assert (limited.value.status, limited.value.transient) == (429, True)
    assert limited.value.retry_after is not None and 0 < limited.value.retry_after <= 2
    assert (await api.get_worker(wid("ana.silva"))).email == "ana.silva@acme.example"
