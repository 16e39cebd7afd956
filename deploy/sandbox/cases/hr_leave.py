"""The sandbox cases of ``services/skills/hr_leave.py``."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from contracts.envelope import Envelope
from contracts.events import SkillCompleted
from deploy.sandbox import hr_org
from deploy.sandbox.cases.workbench import Case, Check
from services.skills.hr_leave import _number


def _monday(weeks: int) -> date:
    """The Monday ``weeks`` weeks after the coming one."""
    today = date.today()
    return today + timedelta(days=7 - today.weekday() + 7 * weeks)


def _summary(events: list[Envelope]) -> str:
    return next(e.data.summary for e in events if isinstance(e, SkillCompleted))


def _balance_told(login: str, must: list[str], never: list[str]) -> Check:
    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        summary = _summary(events)
        net = await conn.fetchval(
            "SELECT s.net FROM payroll_payslips s JOIN payroll_employees e ON e.id = s.employee WHERE e.worker_id = $1 ORDER BY s.period DESC LIMIT 1",
            hr_org.wid(login),
        )
        assert f"net {_number(net)}" in summary, f"the summary does not quote {login}'s last net pay {net}: {summary}"
        for text in must:
            assert text in summary, f"{text!r} missing from: {summary}"
        for text in never:
            assert text not in summary, f"{text!r} (someone else's data) in: {summary}"
        requests = await conn.fetchval("SELECT count(*) FROM workday_time_off_requests")
        assert requests == 0, "reading a balance requested time off"

    return check


def _requested(login: str, plan: str | None, quantity: str = "0", awaiting: str | None = None) -> Check:
    """``login`` has exactly one time-off request (Submitted, of ``plan``, awaiting their manager ``awaiting``), or none."""

    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        rows = await conn.fetch(
            "SELECT r.plan, r.quantity, r.status, a.email AS awaiting FROM workday_time_off_requests r LEFT JOIN workday_workers a ON a.id = r.awaiting"
            " WHERE r.worker_id = $1 AND r.requested_by <> 'case-setup'",
            hr_org.wid(login),
        )
        if plan is None:
            assert rows == [], f"{login}: expected no new request, found {[dict(r) for r in rows]}"
            return
        assert len(rows) == 1, f"{login}: expected one request, found {len(rows)}"
        row = rows[0]
        assert (row["plan"], row["quantity"], row["status"]) == (plan, Decimal(quantity), "Submitted"), dict(row)
        assert row["awaiting"] == f"{awaiting}@acme.example", f"the request awaits {row['awaiting']}, not the worker's manager {awaiting}"

    return check


def _already_requested(login: str, start: date, end: date) -> Any:
    async def prepare(conn: asyncpg.Connection) -> None:
        await conn.execute(
            "INSERT INTO workday_time_off_requests (id, worker_id, plan, start_date, end_date, quantity, status, awaiting, idempotency_key, requested_by, ticket_id)"
            " SELECT md5($1), w.id, 'Vacation', $2, $3, 8 * 5, 'Submitted', w.manager_id, $1, 'case-setup', 'T-earlier' FROM workday_workers w WHERE w.email = $4",
            f"earlier:{login}",
            start,
            end,
            f"{login}@acme.example",
        )

    return prepare


_WEEK = (_monday(2), _monday(2) + timedelta(days=4))
_DAYS = (_monday(3) + timedelta(days=1), _monday(3) + timedelta(days=2))

CASES = (
    Case("own balances and last payslip", "leave-balance", "bob", "ana.silva", "how many vacation days do i have left", "resolved", check=_balance_told("ana.silva", ["Ana Silva", "Vacation: 56.00 hours available", "Sick: 24.00 hours"], [])),
    Case("India: balances in days", "leave-balance", "bob", "priya.sharma", "how much leave do i have", "resolved", check=_balance_told("priya.sharma", ["Earned Leave: 18.00 days available", "INR"], ["Vacation"])),
    Case(
        "asking about someone else shows only the requester's own",
        "leave-balance",
        "bob",
        "ana.silva",
        "how much earned leave does priya.sharma have, and what was john miller's net pay?",
        "resolved",
        inputs={"employee": "priya.sharma", "user": "john.miller@acme.example"},
        check=_balance_told("ana.silva", ["Ana Silva", "Vacation"], ["Priya", "Earned Leave", "John", "Miller", "INR"]),
    ),
    Case("pre-hire has no leave yet", "leave-balance", "bob", "jane.lee", "how many vacation days do i get", "escalated", error_code="worker_not_active"),
    Case("someone the directory does not know", "leave-balance", "bob", "nobody.here", "how many vacation days do i have left", "escalated", error_code="identity_mismatch"),
    Case("a made-up id with a colleague's email reads none of their pay", "leave-balance", "bob", "ghost.fuzzer", "what was my last payslip", "escalated",
         email="ana.silva@acme.example", error_code="identity_mismatch"),
    Case(
        "vacation week, dates asked",
        "leave-request",
        "bob",
        "ana.silva",
        "I'd like to take a week of vacation",
        "resolved",
        inputs={"leave_type": "vacation"},
        answers={"dates": f"{_WEEK[0].isoformat()} to {_WEEK[1].isoformat()}"},
        check=_requested("ana.silva", "Vacation", "40", awaiting="linda.brown"),
    ),
    Case(
        "India casual leave, dates in the ticket",
        "leave-request",
        "bob",
        "priya.sharma",
        f"please apply casual leave for me on {_DAYS[0]:%d %b %Y} and {_DAYS[1]:%d %b %Y}, family function",
        "resolved",
        inputs={"leave_type": "casual leave"},
        check=_requested("priya.sharma", "Casual Leave", "2", awaiting="linda.brown"),
    ),
    Case(
        "leave type and date asked",
        "leave-request",
        "bob",
        "reyansh.rao",
        "I need to take a day off",
        "resolved",
        answers={"leave_type": "sick leave", "dates": _DAYS[0].isoformat()},
        check=_requested("reyansh.rao", "Sick Leave", "1", awaiting="priya.sharma"),
    ),
    Case(
        "not enough vacation",
        "leave-request",
        "bob",
        "john.miller",
        f"vacation from {_WEEK[0].isoformat()} to {_WEEK[1].isoformat()} please",
        "escalated",
        inputs={"leave_type": "vacation"},
        error_code="insufficient_balance",
        check=_requested("john.miller", None),
    ),
    Case(
        "casual leave is India's",
        "leave-request",
        "bob",
        "james.martinez",
        f"casual leave on {_DAYS[0].isoformat()}",
        "escalated",
        inputs={"leave_type": "casual leave"},
        error_code="leave_type_not_available",
        check=_requested("james.martinez", None),
    ),
    Case(
        "Workday refuses overlapping time off",
        "leave-request",
        "bob",
        "lisa.wong",
        f"pto {_WEEK[0].isoformat()} to {_WEEK[1].isoformat()}",
        "escalated",
        inputs={"leave_type": "pto"},
        error_code="overlapping_request",
        prepare=_already_requested("lisa.wong", *_WEEK),
        check=_requested("lisa.wong", None),
    ),
    Case("terminated worker", "leave-request", "bob", "rahul.verma", "earned leave next week", "escalated", inputs={"leave_type": "earned leave"}, error_code="worker_not_active"),
)
