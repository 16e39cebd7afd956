"""The sandbox cases of ``services/skills/hr_offboarding.py``."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from contracts.envelope import Envelope
from contracts.events import SkillStep
from deploy.sandbox import hr_org, paycalc
from deploy.sandbox.cases.workbench import Case, Check
from services.skills.hr_offboarding import PAID_OUT


_LAST_DAY = date.today() + timedelta(days=16)


def _left(login: str, *, terminated: bool, last_day: date | None = None, reason: str | None = None, gratuity: bool | None = None, rescinded: bool = False) -> Check:
    """Workday says ``login`` is Terminated (last day, reason) or still Active; payroll has their final
    pay (with gratuity or not, and the documents their country requires) or none."""

    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        person = hr_org.person(login, 120)
        worker = await conn.fetchrow("SELECT status, termination_date, termination_reason FROM workday_workers WHERE id = $1", person.wid)
        expected = "Terminated" if terminated else "Active"
        assert worker["status"] == expected, f"{login} is {worker['status']} in Workday, expected {expected}"
        finals = await conn.fetch("SELECT f.* FROM payroll_final_pay f JOIN payroll_employees e ON e.id = f.employee WHERE e.worker_id = $1 AND f.created_by <> 'payroll-team'", person.wid)
        enrolled = await conn.fetchval("SELECT status FROM payroll_employees WHERE worker_id = $1 AND enrolled_by IS NULL", person.wid)
        terminations = [r["status"] for r in await conn.fetch("SELECT status FROM workday_staffing_events WHERE worker_id = $1", person.wid)]
        assert terminations == (["Rescinded"] if rescinded else ["Successfully Completed"] if terminated else [])
        if not terminated:
            assert finals == [], f"{login} got a final pay"
            if rescinded:
                undo = [e for e in events if isinstance(e, SkillStep) and e.data.kind == "compensation"]
                assert [(u.data.name, u.data.status) for u in undo] == [("terminate", "done")], "the termination was not rescinded"
            return
        assert (worker["termination_date"], worker["termination_reason"]) == (last_day, reason)
        assert len(finals) == 1 and enrolled == "Terminated", f"{login}: {len(finals)} final pay(s), payroll record {enrolled}"
        final = finals[0]
        unused = person.balances[PAID_OUT[person.country]]
        expected_pay = paycalc.final_pay(person.country, person.annual_salary, hired=person.hire_date, last_day=last_day, leave_units=unused, location=person.location, filing_status=person.w4_filing_status)  # type: ignore[arg-type]
        assert (final["gross"], final["net"], final["leave_units"]) == (expected_pay.pay.gross, expected_pay.pay.net, unused)
        if person.country == "US":
            assert final["cobra_notice_due"] == last_day + timedelta(days=44) and "COBRA election notice" in final["documents"]
        else:
            assert final["gratuity_eligible"] is gratuity and "Relieving letter" in final["documents"]
            basic = paycalc.money(paycalc.money(person.annual_salary / 12) * paycalc.BASIC_SHARE)
            years, months = paycalc.service_years(person.hire_date, last_day)
            due = paycalc.money(min(paycalc.GRATUITY_CAP, basic * 15 / 26 * (years + (months > 6)))) if gratuity else Decimal(0)
            assert Decimal(json.loads(final["earnings"])["Gratuity"]) == due

    return check


def _settled_by_hand(login: str) -> Any:
    """Payroll's team already settled the leaver by hand (their payroll record is closed)."""

    async def prepare(conn: asyncpg.Connection) -> None:
        employee = await conn.fetchval("UPDATE payroll_employees SET status = 'Terminated' WHERE worker_id = $1 RETURNING id", hr_org.wid(login))
        await conn.execute(
            "INSERT INTO payroll_final_pay (id, employee, kind, last_day, pay_date, currency, earnings, gross, deductions, total_deductions, net, leave_units,"
            " years_of_service, gratuity_eligible, documents, status, idempotency_key, created_by, ticket_id)"
            " VALUES ('manual-1', $1, 'Final Paycheck', current_date, current_date, 'USD', '{}', 0, '{}', 0, 0, 0, 0, false, '{}', 'Paid', 'manual-1', 'payroll-team', 'T-manual')",
            employee,
        )

    return prepare


_US = {"employee": "james.martinez@acme.example", "last_day": _LAST_DAY.isoformat(), "reason": "resignation"}

CASES = (
    Case(
        "his manager offboards a US leaver, approved",
        "hr-offboarding-us",
        "hr-offboarding-agent",
        "john.miller",
        "final paycheck and cobra for a us leaver on my team",
        "resolved",
        inputs=_US,
        approve=True,
        check=_left("james.martinez", terminated=True, last_day=_LAST_DAY, reason="Voluntary > Resignation"),
    ),
    Case(
        "HR answers who, when and why",
        "hr-offboarding-us",
        "hr-offboarding-agent",
        "james.garcia",
        "employee in austin leaves soon please process the exit",
        "resolved",
        answers={"employee": "James Martinez", "last_day": f"{_LAST_DAY:%B %d, %Y}", "reason": "he is retiring"},
        approve=True,
        check=_left("james.martinez", terminated=True, last_day=_LAST_DAY, reason="Voluntary > Retirement"),
    ),
    Case("approval rejected", "hr-offboarding-us", "hr-offboarding-agent", "john.miller", "process the exit of james martinez", "escalated", inputs=_US, approve=False, error_code="approval_rejected", check=_left("james.martinez", terminated=False)),
    Case("a colleague may not offboard someone", "hr-offboarding-us", "hr-offboarding-agent", "ana.silva", "james martinez resigned, close his record", "escalated", inputs=_US, error_code="requester_not_authorised", check=_left("james.martinez", terminated=False)),
    Case("India's employee is not a US exit", "hr-offboarding-us", "hr-offboarding-agent", "james.garcia", "exit for priya", "escalated", inputs={**_US, "employee": "priya.sharma"}, error_code="wrong_country"),
    Case("a last day before the hire date", "hr-offboarding-us", "hr-offboarding-agent", "john.miller", "james martinez resigned", "escalated", inputs={**_US, "last_day": "2010-01-01"}, error_code="last_day_before_hire", check=_left("james.martinez", terminated=False)),
    Case(
        "payroll already settled: the termination is rescinded",
        "hr-offboarding-us",
        "hr-offboarding-agent",
        "john.miller",
        "final paycheck for james martinez",
        "escalated",
        inputs=_US,
        approve=True,
        prepare=_settled_by_hand("james.martinez"),
        error_code="final_pay_exists",
        check=_left("james.martinez", terminated=False, rescinded=True),
    ),
    Case(
        "India leaver after more than eight years gets gratuity",
        "hr-offboarding-in",
        "hr-offboarding-agent",
        "krishna.nair",
        "full and final settlement for diya bose who resigned",
        "resolved",
        inputs={"employee": "diya.bose", "last_day": _LAST_DAY.isoformat()},
        approve=True,
        check=_left("diya.bose", terminated=True, last_day=_LAST_DAY, reason="Voluntary > Resignation", gratuity=True),
    ),
    Case(
        "India leaver under five years: no gratuity",
        "hr-offboarding-in",
        "hr-offboarding-agent",
        "priya.sharma",
        "relieving letter for reyansh rao, his contract ends",
        "resolved",
        inputs={"employee": "reyansh.rao", "last_day": _LAST_DAY.isoformat(), "reason": "end of contract"},
        approve=True,
        check=_left("reyansh.rao", terminated=True, last_day=_LAST_DAY, reason="Involuntary > End of Contract", gratuity=False),
    ),
    Case("already terminated", "hr-offboarding-in", "hr-offboarding-agent", "krishna.nair", "full and final for rahul verma", "escalated", inputs={"employee": "rahul.verma", "last_day": _LAST_DAY.isoformat(), "reason": "resignation"}, error_code="already_terminated"),
    Case("approval rejected (India)", "hr-offboarding-in", "hr-offboarding-agent", "krishna.nair", "f&f for diya bose", "escalated", inputs={"employee": "diya.bose", "last_day": _LAST_DAY.isoformat(), "reason": "resigned"}, approve=False, error_code="approval_rejected", check=_left("diya.bose", terminated=False)),
)
