"""The Workday and payroll sandboxes and the HR skills, beyond what their cases show: the sandboxes'
own refusals (a token without the scope, a bad token, Workday's validation codes, payroll's
conflicts), writes that happen once per idempotency key, the org being the same org as Okta's,
pay that adds up, and the skills touching only the requester's own data."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from contracts.catalog import load_catalog
from contracts.events import ApprovalRequested, SkillStep, TicketQuestion
from runtime.db import Database
from services.skills import hr_leave, hr_offboarding, hr_onboarding
from deploy.sandbox.cases import Case, Workbench
from services.skills.credentials import Vault
from services.skills.library import SKILLS
from deploy.sandbox import hr_org, paycalc, tokens
from deploy.sandbox.hr_seed import seed_payroll, seed_workday
from deploy.sandbox.payroll import PayrollError, PayrollSandbox
from deploy.sandbox.workday import WorkdayError, WorkdaySandbox, decide_time_off
from services.skills.settings import DEFAULT_CATALOG
from services.skills.skill import Skill, Step, StepContext, StepFailed

COUNT = 120
WORKDAY_ALL = ["workers.read", "workers.create", "workers.terminate", "time_off.read", "time_off.request"]
PAYROLL_ALL = ["payslips.read", "enrolments.create", "final_pay.create"]


@pytest.fixture
def db(simulator) -> Database:  # noqa: ANN001
    """The simulator's own database: Okta, Workday and payroll (and the rest) seeded with ``COUNT`` people."""
    return simulator.database


@pytest.fixture
async def conn(db: Database) -> AsyncIterator[asyncpg.Connection]:
    """A connection on the simulator's schema (shadows the suite's bare connection)."""
    async with db.pool.acquire() as connection:
        yield connection


async def workday(conn: asyncpg.Connection, scopes: list[str] = WORKDAY_ALL, *, coworker: str = "tester") -> WorkdaySandbox:
    return WorkdaySandbox(conn, await tokens.issue(conn, "workday", coworker, 1, scopes))


async def payroll(conn: asyncpg.Connection, scopes: list[str] = PAYROLL_ALL, *, coworker: str = "tester") -> PayrollSandbox:
    return PayrollSandbox(conn, await tokens.issue(conn, "payroll", coworker, 1, scopes))


def wid(login: str) -> str:
    return hr_org.wid(login)


def next_monday(weeks: int = 1) -> date:
    today = date.today()
    return today + timedelta(days=7 - today.weekday() + 7 * (weeks - 1))


# --- the org -------------------------------------------------------------------------------------


async def test_workday_and_payroll_hold_the_same_people_as_okta(conn: asyncpg.Connection) -> None:
    okta = {r["login"]: r["status"] for r in await conn.fetch("SELECT login, status FROM okta_users")}
    workers = {r["email"]: r for r in await conn.fetch("SELECT * FROM workday_workers")}
    assert set(okta) <= set(workers) and set(workers) - set(okta) == {"meera.krishnan@acme.example"}  # HR records a hire before IT
    expected = {"STAGED": "Pre-Hire", "DEPROVISIONED": "Terminated"}
    assert all(workers[login]["status"] == expected.get(status, "Active") for login, status in okta.items())
    jane = workers["jane.lee@acme.example"]
    assert jane["employee_id"] is None and jane["hire_date"].weekday() == 0 and jane["hire_date"] >= date.today() + timedelta(days=7)
    managers = {r["id"]: r for r in workers.values()}
    for worker in workers.values():
        if worker["manager_id"] is not None:
            assert managers[worker["manager_id"]]["status"] == "Active", f"{worker['email']} reports to someone not working here"
    assert sum(1 for w in workers.values() if w["manager_id"] is None) == 1  # the top of the org
    paid = await conn.fetchval("SELECT count(*) FROM payroll_employees")
    assert paid == sum(1 for w in workers.values() if w["status"] != "Pre-Hire")


async def test_seeding_again_changes_nothing(conn: asyncpg.Connection) -> None:
    before = await conn.fetchval("SELECT count(*) FROM payroll_payslips")
    assert await seed_workday(conn, COUNT) == 0
    assert await seed_payroll(conn, COUNT) == 0
    assert await conn.fetchval("SELECT count(*) FROM payroll_payslips") == before > 0


async def test_a_smaller_org_is_the_same_org_cut_short() -> None:
    small, large = hr_org.org(60), hr_org.org(COUNT)
    assert [(p.wid, p.manager, p.hire_date, p.annual_salary, p.balances, p.pan) for p in small[:60]] == [(p.wid, p.manager, p.hire_date, p.annual_salary, p.balances, p.pan) for p in large[:60]]


async def test_payslips_add_up_and_deduct_what_each_country_deducts(conn: asyncpg.Connection) -> None:
    slips = await conn.fetch("SELECT s.*, e.country, e.annual_salary FROM payroll_payslips s JOIN payroll_employees e ON e.id = s.employee")
    for slip in slips:
        deductions = {k: Decimal(v) for k, v in json.loads(slip["deductions"]).items()}
        assert sum(deductions.values()) == slip["total_deductions"] and slip["gross"] - slip["total_deductions"] == slip["net"] > 0
        assert slip["currency"] == ("USD" if slip["country"] == "US" else "INR")
        if slip["country"] == "US":
            assert deductions["Medicare"] == paycalc.money(slip["gross"] * Decimal("0.0145"))
        else:
            assert deductions["Provident fund (employee)"] == Decimal("1800.00")  # 12% of the 15,000 wage ceiling
            assert deductions["Professional tax"] == Decimal(200)
    low = paycalc.monthly("IN", Decimal(1_000_000), location="Pune")
    assert low.deductions["Income tax (TDS)"] == 0  # under the section 87A rebate limit


def test_gratuity_counts_a_part_year_over_six_months_and_only_after_five_years() -> None:
    basic = Decimal(50_000)
    assert paycalc.gratuity(basic, date(2018, 1, 1), date(2025, 8, 1)) == (True, paycalc.money(basic * 15 / 26 * 8), 8)  # 7 years 7 months
    assert paycalc.gratuity(basic, date(2018, 1, 1), date(2025, 6, 1)) == (True, paycalc.money(basic * 15 / 26 * 7), 7)  # 7 years 5 months
    assert paycalc.gratuity(basic, date(2021, 1, 1), date(2025, 12, 1))[0] is False  # 4 years 11 months
    assert paycalc.gratuity(Decimal(900_000), date(1990, 1, 1), date(2026, 1, 1))[1] == paycalc.GRATUITY_CAP


# --- tokens and scopes -----------------------------------------------------------------------------


async def test_workday_refuses_a_scope_the_token_does_not_carry_and_a_token_it_does_not_know(conn: asyncpg.Connection) -> None:
    token = await tokens.issue(conn, "workday", "tester", 1, ["workers.read"])
    reader = WorkdaySandbox(conn, token)
    ana = await reader.get_worker("ana.silva@acme.example")
    assert ana.status == "Active" and ana.manager_name == "Linda Brown"
    with pytest.raises(WorkdayError) as refused:
        await reader.request_time_off(ana.id, "Vacation", next_monday(), next_monday(), idempotency_key="k", ticket_id="T-1")
    assert (refused.value.status, refused.value.code) == (403, "insufficient_permissions")
    with pytest.raises(WorkdayError) as unknown:
        await WorkdaySandbox(conn, "not-a-token").get_worker(ana.id)
    assert (unknown.value.status, unknown.value.code) == (401, "invalid_token")
    await tokens.revoke(conn, "tester", system="workday")
    with pytest.raises(WorkdayError) as revoked:
        await WorkdaySandbox(conn, token).get_worker(ana.id)
    assert revoked.value.status == 401
    assert await conn.fetchval("SELECT count(*) FROM workday_time_off_requests") == 0


async def test_a_workday_token_opens_nothing_in_payroll(conn: asyncpg.Connection) -> None:
    token = await tokens.issue(conn, "workday", "tester", 1, WORKDAY_ALL + PAYROLL_ALL)
    with pytest.raises(PayrollError) as refused:
        await PayrollSandbox(conn, token).payslips(wid("ana.silva"))
    assert (refused.value.status, refused.value.code) == (401, "UNAUTHORIZED")


async def test_payroll_refuses_a_scope_the_token_does_not_carry(conn: asyncpg.Connection) -> None:
    reader = await payroll(conn, ["payslips.read"])
    assert len(await reader.payslips(wid("ana.silva"))) == 3
    with pytest.raises(PayrollError) as refused:
        await reader.create_final_pay(wid("ana.silva"), last_day=date.today(), leave_units=Decimal(0), idempotency_key="k", ticket_id="T-1")
    assert (refused.value.status, refused.value.code) == (403, "FORBIDDEN")
    assert await conn.fetchval("SELECT count(*) FROM payroll_final_pay") == 0


# --- time off in Workday -----------------------------------------------------------------------------


async def test_a_time_off_request_awaits_the_workers_manager_and_a_repeated_key_makes_one(conn: asyncpg.Connection) -> None:
    api = await workday(conn)
    start = next_monday(2)
    first = await api.request_time_off(wid("ana.silva"), "Vacation", start, start + timedelta(days=4), idempotency_key="T-1:leave-request:3", ticket_id="T-1")
    again = await api.request_time_off(wid("ana.silva"), "Vacation", start, start + timedelta(days=4), idempotency_key="T-1:leave-request:3", ticket_id="T-1")
    assert again == first
    assert (first.status, first.quantity, first.awaiting_id, first.awaiting_name) == ("Submitted", Decimal(40), wid("linda.brown"), "Linda Brown")
    assert await conn.fetchval("SELECT count(*) FROM workday_time_off_requests") == 1
    vacation = next(b for b in await api.get_balances(wid("ana.silva")) if b.plan == "Vacation")
    assert (vacation.balance, vacation.scheduled, vacation.available) == (Decimal(56), Decimal(40), Decimal(16))


@pytest.mark.parametrize(
    ("login", "plan", "start", "days", "code"),
    [
        ("john.miller", "Vacation", 0, 1, "A1011"),  # 4 hours of vacation, a day is 8
        ("ana.silva", "Vacation", 5, 2, "A1016"),  # a Saturday and a Sunday: nothing to take off
        ("ana.silva", "Casual Leave", 0, 1, "A1041"),  # India's plan, a US worker
        ("rahul.verma", "Earned Leave", 0, 1, "A1041"),  # terminated
        ("ana.silva", "Bereavement", 0, 1, "A1009"),  # no such plan
    ],
)
async def test_workday_refuses_time_off_with_its_own_validation_codes(conn: asyncpg.Connection, login: str, plan: str, start: int, days: int, code: str) -> None:
    api = await workday(conn)
    first = next_monday(2) + timedelta(days=start)
    with pytest.raises(WorkdayError) as refused:
        await api.request_time_off(wid(login), plan, first, first + timedelta(days=days - 1), idempotency_key="k", ticket_id="T-1")
    assert (refused.value.status, refused.value.code) == (400, code)
    assert refused.value.body["errors"][0]["code"] == code
    assert await conn.fetchval("SELECT count(*) FROM workday_time_off_requests") == 0


async def test_overlapping_time_off_is_refused(conn: asyncpg.Connection) -> None:
    api = await workday(conn)
    monday = next_monday(2)
    await api.request_time_off(wid("lisa.wong"), "Vacation", monday, monday + timedelta(days=1), idempotency_key="a", ticket_id="T-1")
    with pytest.raises(WorkdayError) as refused:
        await api.request_time_off(wid("lisa.wong"), "Sick", monday + timedelta(days=1), monday + timedelta(days=1), idempotency_key="b", ticket_id="T-2")
    assert refused.value.code == "A1008"


async def test_only_the_awaited_manager_decides_and_a_decided_request_is_canceled_or_not(conn: asyncpg.Connection) -> None:
    api = await workday(conn)
    monday = next_monday(3)
    asked = await api.request_time_off(wid("james.martinez"), "Vacation", monday, monday, idempotency_key="a", ticket_id="T-1")
    assert asked.awaiting_id == wid("john.miller")
    with pytest.raises(WorkdayError) as not_theirs:
        await decide_time_off(conn, asked.id, approve=True, by=wid("ana.silva"))
    assert not_theirs.value.code == "A219"
    approved = await decide_time_off(conn, asked.id, approve=True, by=wid("john.miller"))
    assert (approved.status, approved.awaiting_id) == ("Approved", None)
    canceled = await api.cancel_time_off(asked.id, idempotency_key="undo")
    assert canceled.status == "Canceled" and await api.cancel_time_off(asked.id, idempotency_key="undo-again") == canceled
    denied = await api.request_time_off(wid("james.martinez"), "Vacation", monday + timedelta(days=7), monday + timedelta(days=7), idempotency_key="b", ticket_id="T-2")
    await decide_time_off(conn, denied.id, approve=False, by=wid("john.miller"))
    with pytest.raises(WorkdayError) as refused:
        await api.cancel_time_off(denied.id, idempotency_key="undo-denied")
    assert refused.value.code == "A219"
    vacation = next(b for b in await api.get_balances(wid("james.martinez")) if b.plan == "Vacation")
    assert vacation.scheduled == 0  # neither a canceled nor a denied request holds any balance


# --- staffing: hire, terminate, rescind ---------------------------------------------------------------


async def test_a_hire_happens_once_per_key_and_rescinding_it_makes_a_pre_hire_again(conn: asyncpg.Connection) -> None:
    api = await workday(conn)
    hired = await api.hire(wid("jane.lee"), idempotency_key="T-1:hr-onboarding-us:2", ticket_id="T-1")
    assert await api.hire(wid("jane.lee"), idempotency_key="T-1:hr-onboarding-us:2", ticket_id="T-1") == hired
    jane = await api.get_worker("jane.lee@acme.example")
    assert (jane.status, jane.employee_id, hired.employee_id) == ("Active", hired.employee_id, jane.employee_id) and jane.employee_id
    assert {b.plan: b.balance for b in await api.get_balances(jane.id)} == {"Vacation": 0, "Sick": 0}
    with pytest.raises(WorkdayError) as twice:
        await api.hire(jane.id, idempotency_key="another", ticket_id="T-2")
    assert twice.value.code == "A178"
    undone = await api.rescind(hired.id, idempotency_key="T-1:hr-onboarding-us:2:undo")
    assert undone.status == "Rescinded" and await api.rescind(hired.id, idempotency_key="again") == undone
    jane = await api.get_worker(jane.id)
    assert (jane.status, jane.employee_id) == ("Pre-Hire", None)
    assert await api.get_balances(jane.id) == []


async def test_creating_and_terminating_need_their_own_scopes(conn: asyncpg.Connection) -> None:
    hr_reader = await workday(conn, ["workers.read", "workers.terminate"])
    with pytest.raises(WorkdayError) as refused:
        await hr_reader.hire(wid("jane.lee"), idempotency_key="k", ticket_id="T-1")
    assert refused.value.status == 403
    hired = await (await workday(conn, ["workers.create"], coworker="hirer")).hire(wid("jane.lee"), idempotency_key="k", ticket_id="T-1")
    with pytest.raises(WorkdayError) as rescind:
        await hr_reader.rescind(hired.id, idempotency_key="undo")  # a hire is rescinded with workers.create
    assert rescind.value.status == 403


async def test_terminations_are_validated_and_happen_once(conn: asyncpg.Connection) -> None:
    api = await workday(conn)
    martinez = wid("james.martinez")
    last = date.today() + timedelta(days=10)
    with pytest.raises(WorkdayError) as early:
        await api.terminate(martinez, last_day=date(2010, 1, 1), reason="Voluntary > Resignation", idempotency_key="a", ticket_id="T-1")
    assert early.value.body["errors"][0]["field"] == "terminationDate"
    with pytest.raises(WorkdayError) as reason:
        await api.terminate(martinez, last_day=last, reason="bored", idempotency_key="b", ticket_id="T-1")
    assert reason.value.body["errors"][0]["field"] == "primaryReason"
    with pytest.raises(WorkdayError) as pre_hire:
        await api.terminate(wid("jane.lee"), last_day=last, reason="Voluntary > Resignation", idempotency_key="c", ticket_id="T-1")
    assert pre_hire.value.status == 400
    ended = await api.terminate(martinez, last_day=last, reason="Voluntary > Resignation", idempotency_key="d", ticket_id="T-1")
    assert await api.terminate(martinez, last_day=last, reason="Voluntary > Resignation", idempotency_key="d", ticket_id="T-1") == ended
    with pytest.raises(WorkdayError) as again:
        await api.terminate(martinez, last_day=last, reason="Voluntary > Resignation", idempotency_key="e", ticket_id="T-2")
    assert again.value.code == "A178"
    worker = await api.get_worker(martinez)
    assert (worker.status, worker.termination_date, worker.termination_reason) == ("Terminated", last, "Voluntary > Resignation")
    await api.rescind(ended.id, idempotency_key="undo")
    assert (await api.get_worker(martinez)).status == "Active"
    assert await conn.fetchval("SELECT count(*) FROM workday_staffing_events") == 1


async def test_a_hire_is_not_rescinded_under_a_later_termination(conn: asyncpg.Connection) -> None:
    api = await workday(conn)
    hired = await api.hire(wid("meera.krishnan"), idempotency_key="h", ticket_id="T-1")
    worker = await api.get_worker(wid("meera.krishnan"))
    await api.terminate(worker.id, last_day=worker.hire_date, reason="Voluntary > Resignation", idempotency_key="t", ticket_id="T-2")
    with pytest.raises(WorkdayError) as refused:
        await api.rescind(hired.id, idempotency_key="undo")
    assert refused.value.code == "A219"


# --- payroll -------------------------------------------------------------------------------------


async def _enrol_meera(api: PayrollSandbox, pan: str | None, *, key: str = "k", uan: str | None = None) -> Any:
    meera = hr_org.person("meera.krishnan", COUNT)
    return await api.enrol(
        worker_id=meera.wid,
        employee_id="300001",
        name="Meera Krishnan",
        country="IN",
        location=meera.location,
        hire_date=meera.hire_date,
        annual_salary=meera.annual_salary,
        currency="INR",
        pan=pan,
        uan=uan,
        idempotency_key=key,
        ticket_id="T-1",
    )


@pytest.mark.parametrize(
    ("pan", "status", "code"),
    [
        (None, 400, "VALIDATION_ERROR"),
        ("ABCP1234D", 400, "VALIDATION_ERROR"),  # nine characters
        ("ABCDE1234F", 400, "VALIDATION_ERROR"),  # D in the fourth place: not a person's PAN
        ("12345ABCDE", 400, "VALIDATION_ERROR"),
    ],
)
async def test_payroll_refuses_a_missing_or_malformed_pan(conn: asyncpg.Connection, pan: str | None, status: int, code: str) -> None:
    with pytest.raises(PayrollError) as refused:
        await _enrol_meera(await payroll(conn), pan)
    assert (refused.value.status, refused.value.code, refused.value.field) == (status, code, "pan")
    if pan:
        assert pan not in refused.value.summary  # the error quotes it masked


async def test_a_pan_is_one_persons_and_shown_only_masked(conn: asyncpg.Connection) -> None:
    api = await payroll(conn)
    with pytest.raises(PayrollError) as taken:
        await _enrol_meera(api, hr_org.person("priya.sharma", COUNT).pan)
    assert (taken.value.status, taken.value.code, taken.value.field) == (409, "CONFLICT", "pan")
    enrolled = await _enrol_meera(api, "abcpk 1234d")
    assert (enrolled.pan_masked, enrolled.pf_member, len(enrolled.uan or "")) == ("XXXXXX234D", True, 12)
    assert await _enrol_meera(api, "ABCPK1234D") == enrolled  # the same key: the same enrolment
    with pytest.raises(PayrollError) as twice:
        await _enrol_meera(api, "ABCPK1234D", key="another")
    assert (twice.value.code, twice.value.field) == ("CONFLICT", "workerId")
    assert await conn.fetchval("SELECT pan FROM payroll_employees WHERE id = $1", enrolled.id) == "ABCPK1234D"


async def test_final_pay_happens_once_and_closes_the_payroll_record(conn: asyncpg.Connection) -> None:
    api = await payroll(conn)
    diya = hr_org.person("diya.bose", COUNT)
    last = date.today() + timedelta(days=20)
    final = await api.create_final_pay(diya.wid, last_day=last, leave_units=Decimal(28), idempotency_key="f", ticket_id="T-1")
    assert await api.create_final_pay(diya.wid, last_day=last, leave_units=Decimal(28), idempotency_key="f", ticket_id="T-1") == final
    assert final.kind == "Full and Final Settlement" and final.gratuity_eligible and final.relieving_letter_date == last
    basic = paycalc.money(paycalc.money(diya.annual_salary / 12) * paycalc.BASIC_SHARE)
    assert final.earnings["Leave encashment"] == paycalc.money(28 * basic / 26)
    assert final.pay_date > last and (final.pay_date - last).days <= 4  # two working days
    with pytest.raises(PayrollError) as twice:
        await api.create_final_pay(diya.wid, last_day=last, leave_units=Decimal(0), idempotency_key="g", ticket_id="T-2")
    assert (twice.value.status, twice.value.code) == (409, "CONFLICT")
    assert await conn.fetchval("SELECT status FROM payroll_employees WHERE worker_id = $1", diya.wid) == "Terminated"
    us = await api.create_final_pay(wid("james.martinez"), last_day=last, leave_units=Decimal(119), idempotency_key="u", ticket_id="T-3")
    assert (us.kind, us.cobra_notice_due, us.gratuity_eligible) == ("Final Paycheck", last + timedelta(days=44), False)
    with pytest.raises(PayrollError) as nobody:
        await api.create_final_pay(wid("jane.lee"), last_day=last, leave_units=Decimal(0), idempotency_key="n", ticket_id="T-4")
    assert (nobody.value.status, nobody.value.code) == (404, "NOT_FOUND")


# --- the skills -----------------------------------------------------------------------------------


@pytest.fixture
async def bench(service_database, workforce, simulator) -> Workbench:  # noqa: ANN001
    """The skills runtime on its own schema, reaching Workday, payroll and Okta on the simulator over HTTP."""
    database = await service_database("skills")
    workbench = Workbench(database, Vault(SecretStr(Fernet.generate_key().decode())), workforce, SKILLS, load_catalog(DEFAULT_CATALOG), simulator=simulator)
    await workbench.hire_all()
    return workbench


async def test_a_balance_question_about_someone_else_reads_only_the_requesters_records(bench: Workbench) -> None:
    case = Case("nosy", "leave-balance", "bob", "ana.silva", "what is priya.sharma's leave balance and payslip?", "resolved", inputs={"employee": "priya.sharma@acme.example"})
    played = await bench.play(case)
    assert played.outcome == "resolved"
    steps = [e.data for e in played.events if isinstance(e, SkillStep)]
    assert [s.name for s in steps] == ["find-worker", "read-balances", "last-payslip"]
    assert steps[0].outputs["worker_id"] == wid("ana.silva") and steps[0].outputs["email"] == "ana.silva@acme.example"
    assert all(wid("priya.sharma") not in json.dumps(s.outputs) and "Earned Leave" not in json.dumps(s.outputs) for s in steps)
    summary = played.events[-1].data.resolution
    assert "Ana Silva" in summary and "Priya" not in summary
    assert all("annual_salary" not in json.dumps(s.outputs) for s in steps)  # nobody's pay grade travels in a step


async def test_a_failed_step_after_the_request_cancels_it(bench: Workbench) -> None:
    async def refuses(ctx: StepContext) -> dict[str, Any]:
        raise StepFailed("calendar_refused", "the team calendar said no")

    with_a_later_step = Skill("leave-request", (*hr_leave.LEAVE_REQUEST.steps, Step("block-calendar", "workday", "time_off.read", refuses)), hr_leave.LEAVE_REQUEST.summarise)
    bench.runner.skills = {**bench.runner.skills, "leave-request": with_a_later_step}
    monday = next_monday(2)
    case = Case("undo", "leave-request", "bob", "ana.silva", f"vacation on {monday.isoformat()}", "escalated", inputs={"leave_type": "vacation"})
    played = await bench.play(case)
    assert played.failure is not None and played.failure.data.error_code == "calendar_refused"
    assert played.failure.data.compensated == ["submit-request"]
    status = await bench.systems_pool.fetchval("SELECT status FROM workday_time_off_requests WHERE worker_id = $1", wid("ana.silva"))
    assert status == "Canceled"


async def test_supervised_offboarding_asks_its_manager_before_terminating_and_before_paying(bench: Workbench) -> None:
    last = (date.today() + timedelta(days=16)).isoformat()
    case = Case("exit", "hr-offboarding-us", "hr-offboarding-agent", "john.miller", "james martinez resigned", "resolved", inputs={"employee": "james.martinez", "last_day": last, "reason": "resignation"}, approve=True)
    played = await bench.play(case)
    assert played.outcome == "resolved" and played.approvals == 2
    asked = [e.data for e in played.events if isinstance(e, ApprovalRequested)]
    assert [(a.operation, a.approver) for a in asked] == [("workers.terminate", "daniel.okafor"), ("final_pay.create", "daniel.okafor")]
    assert asked[0].inputs == {"employee": "james.martinez", "last_day": last, "reason": "resignation", "requested_by": "john.miller@acme.example"}


async def test_an_india_hire_asks_for_the_pan_first_and_never_shows_it(bench: Workbench) -> None:
    case = Case("pan", "hr-onboarding-in", "hr-onboarding-agent", "krishna.nair", "new joiner meera", "resolved", inputs={"employee": "meera.krishnan"}, answers={"pan": "ABCPK1234D"}, approve=True)
    played = await bench.play(case)
    assert played.outcome == "resolved" and played.asked == ["pan"] and played.approvals == 1
    first_question = next(i for i, e in enumerate(played.events) if isinstance(e, TicketQuestion))
    assert not any(isinstance(e, SkillStep) and e.data.kind == "action" and e.data.name == "hire" for e in played.events[:first_question])  # asked before anything was done
    assert all("ABCPK1234D" not in e.model_dump_json() for e in played.events)
    summary = played.events[-1].data.resolution
    assert "XXXXXX234D" in summary and "Meera Krishnan" in summary


def test_the_hr_skills_are_bounded_and_undo_what_they_can() -> None:
    for skill in (*hr_leave.SKILLS, *hr_onboarding.SKILLS, *hr_offboarding.SKILLS):
        assert len(skill.steps) <= 5
        for step in skill.steps:
            writes = step.operation not in {"workers.read", "time_off.read", "payslips.read"}
            if step.operation in {"workers.terminate", "workers.create", "final_pay.create"}:
                assert step.destructive, f"{skill.name}: {step.name} changes employment or pays money and needs approval when supervised"
            if step.operation in {"workers.terminate", "workers.create", "time_off.request"}:
                assert step.compensate is not None, f"{skill.name}: {step.name} can be undone in Workday"
            assert writes or not step.destructive
