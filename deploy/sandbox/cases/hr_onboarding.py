"""The sandbox cases of ``services/skills/hr_onboarding.py``."""

from __future__ import annotations

from typing import Any

import asyncpg

from contracts.envelope import Envelope
from contracts.events import SkillStep
from deploy.sandbox import hr_org
from deploy.sandbox.cases.workbench import Case, Check


def _hired(login: str, *, hired: bool, enrolled: dict[str, object] | None = None, rescinded: bool = False) -> Check:
    """Workday says ``login`` is Active (or still a Pre-Hire); payroll holds the enrolment (or none)."""

    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        worker = await conn.fetchrow("SELECT status, employee_id FROM workday_workers WHERE id = $1", hr_org.wid(login))
        expected = "Active" if hired else "Pre-Hire"
        assert worker["status"] == expected, f"{login} is {worker['status']} in Workday, expected {expected}"
        assert (worker["employee_id"] is not None) == hired
        rows = await conn.fetch("SELECT * FROM payroll_employees WHERE worker_id = $1", hr_org.wid(login))
        if enrolled is None:
            assert rows == [] or all(r["enrolled_by"] is None for r in rows), f"{login} was enrolled in payroll"
        else:
            assert len(rows) == 1, f"{login} has {len(rows)} payroll records"
            for key, value in enrolled.items():
                assert rows[0][key] == value, f"payroll {key} is {rows[0][key]!r}, expected {value!r}"
            assert rows[0]["employee_id"] == worker["employee_id"]
        events_seen = await conn.fetch("SELECT status FROM workday_staffing_events WHERE worker_id = $1 AND kind = 'Hire'", hr_org.wid(login))
        assert [e["status"] for e in events_seen] == (["Rescinded"] if rescinded else ["Successfully Completed"] if hired else [])
        if rescinded:
            undo = [e for e in events if isinstance(e, SkillStep) and e.data.kind == "compensation"]
            assert [(u.data.name, u.data.status) for u in undo] == [("hire", "done")], "the hire was not rescinded by its compensation"
        for event in events:  # the PAN never travels in an event, only masked
            assert "ABCPK1234D" not in event.model_dump_json(), f"a PAN appeared in {event.type}"

    return check


def _enrolled_elsewhere(login: str) -> Any:
    """Payroll already holds an active record for the pre-hire (keyed by hand before the hire)."""

    async def prepare(conn: asyncpg.Connection) -> None:
        await conn.execute(
            "INSERT INTO payroll_employees (id, worker_id, employee_id, name, country, currency, location, annual_salary, hire_date, status, w4_filing_status, w4_furnished)"
            " SELECT 'PR-US-MANUAL-1', id, 'MANUAL-1', first_name || ' ' || last_name, country, currency, location, annual_salary, hire_date, 'Active', 'single', false"
            " FROM workday_workers WHERE id = $1",
            hr_org.wid(login),
        )

    return prepare


async def _payroll_has_one_manual_record(conn: asyncpg.Connection, events: list[Envelope]) -> None:
    await _hired("jane.lee", hired=False, rescinded=True)(conn, events)
    assert await conn.fetchval("SELECT count(*) FROM payroll_employees WHERE worker_id = $1", hr_org.wid("jane.lee")) == 1


_PRIYA_PAN = hr_org.person("priya.sharma", 120).pan or ""

CASES = (
    Case(
        "HR hires a US pre-hire, manager approves",
        "hr-onboarding-us",
        "hr-onboarding-agent",
        "james.garcia",
        "please onboard jane lee to the finance team",
        "resolved",
        inputs={"employee": "jane.lee@acme.example"},
        approve=True,
        check=_hired("jane.lee", hired=True, enrolled={"country": "US", "w4_filing_status": "single", "w4_furnished": False, "status": "Active"}),
    ),
    Case(
        "her manager names the hire when asked",
        "hr-onboarding-us",
        "hr-onboarding-agent",
        "ana.silva",
        "new joiner in my team starts soon, set up her HR record and payroll",
        "resolved",
        answers={"employee": "Jane Lee"},
        inputs={"w4_filing_status": "married filing jointly"},
        approve=True,
        check=_hired("jane.lee", hired=True, enrolled={"w4_filing_status": "married_filing_jointly", "w4_furnished": True}),
    ),
    Case("approval rejected", "hr-onboarding-us", "hr-onboarding-agent", "james.garcia", "enrol our new us employee in payroll", "escalated", inputs={"employee": "jane.lee"}, approve=False, error_code="approval_rejected", check=_hired("jane.lee", hired=False)),
    Case("a colleague may not hire", "hr-onboarding-us", "hr-onboarding-agent", "james.martinez", "please onboard jane lee", "escalated", inputs={"employee": "jane.lee"}, error_code="requester_not_authorised", check=_hired("jane.lee", hired=False)),
    Case("an active worker is not hired again", "hr-onboarding-us", "hr-onboarding-agent", "james.garcia", "onboard ana silva", "escalated", inputs={"employee": "ana.silva"}, error_code="not_a_pre_hire"),
    Case("India's pre-hire is not a US hire", "hr-onboarding-us", "hr-onboarding-agent", "james.garcia", "new hire needs w-4 and i-9", "escalated", inputs={"employee": "meera.krishnan"}, error_code="wrong_country"),
    Case(
        "payroll refuses, the hire is rescinded",
        "hr-onboarding-us",
        "hr-onboarding-agent",
        "james.garcia",
        "enrol jane lee in payroll",
        "escalated",
        inputs={"employee": "jane.lee"},
        approve=True,
        prepare=_enrolled_elsewhere("jane.lee"),
        error_code="already_enrolled",
        check=_payroll_has_one_manual_record,
    ),
    Case(
        "HR hires an India pre-hire, PAN asked",
        "hr-onboarding-in",
        "hr-onboarding-agent",
        "krishna.nair",
        "new joiner in bangalore needs pf and uan registration",
        "resolved",
        inputs={"employee": "meera.krishnan"},
        answers={"pan": "abcpk1234d"},
        approve=True,
        check=_hired("meera.krishnan", hired=True, enrolled={"country": "IN", "currency": "INR", "pan": "ABCPK1234D", "pf_member": True}),
    ),
    Case(
        "an invalid PAN is asked for again",
        "hr-onboarding-in",
        "hr-onboarding-agent",
        "priya.sharma",
        "set up payroll and pan details for meera who joins my team",
        "resolved",
        inputs={"employee": "meera.krishnan@acme.example", "pan": "ABC1234", "uan": "100987654321"},
        answers={"pan_corrected": "ABCPK1234D"},
        approve=True,
        check=_hired("meera.krishnan", hired=True, enrolled={"pan": "ABCPK1234D", "uan": "100987654321"}),
    ),
    Case("a PAN invalid twice stops", "hr-onboarding-in", "hr-onboarding-agent", "krishna.nair", "payroll for meera krishnan", "escalated", inputs={"employee": "meera.krishnan", "pan": "ABCDE12345"}, answers={"pan_corrected": "ABCKK1234D"}, error_code="invalid_pan", check=_hired("meera.krishnan", hired=False)),
    Case(
        "a PAN already on another employee: the hire is rescinded",
        "hr-onboarding-in",
        "hr-onboarding-agent",
        "krishna.nair",
        "set up payroll for meera krishnan",
        "escalated",
        inputs={"employee": "meera.krishnan"},
        answers={"pan": _PRIYA_PAN},
        approve=True,
        error_code="pan_already_registered",
        check=_hired("meera.krishnan", hired=False, rescinded=True),
    ),
    Case("the US pre-hire is not an India hire", "hr-onboarding-in", "hr-onboarding-agent", "krishna.nair", "pf registration for jane lee", "escalated", inputs={"employee": "jane.lee", "pan": "ABCPL1234D"}, error_code="wrong_country"),
)
