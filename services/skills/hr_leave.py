"""Leave in Workday and pay in Payroll, for the requester themselves: what they have (``leave-balance``)
and asking for time off (``leave-request``, which starts Workday's Request Time Off business process:
the request is Submitted and awaits the requester's own manager, who decides in Workday).

Whatever a ticket says about other people, these skills read and act on the requester's own worker
record only: the worker is found by the requester's email, never by a name in the ticket.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from contracts.envelope import Envelope
from contracts.events import SkillCompleted, SkillRequest
from services.skills.cases import Case, Check
from services.skills.connectors.payroll import Payroll
from services.skills.connectors.workday import Workday, weekdays
from services.skills.hr_common import dates_in, refusals, requester, requester_email, worker_outputs
from deploy.sandbox import hr_org
from services.skills.skill import NeedInput, Skill, Step, StepContext, StepFailed

#: What people call a kind of leave -> the Workday time-off plan it is, by country. Longest first.
LEAVE_TYPES: dict[str, dict[str, str]] = {
    "privilege leave": {"US": "Vacation", "IN": "Earned Leave"},
    "earned leave": {"US": "Vacation", "IN": "Earned Leave"},
    "annual leave": {"US": "Vacation", "IN": "Earned Leave"},
    "casual leave": {"IN": "Casual Leave"},
    "paid leave": {"US": "Vacation", "IN": "Earned Leave"},
    "sick leave": {"US": "Sick", "IN": "Sick Leave"},
    "vacation": {"US": "Vacation", "IN": "Earned Leave"},
    "holiday": {"US": "Vacation", "IN": "Earned Leave"},
    "pto": {"US": "Vacation", "IN": "Earned Leave"},
    "sick": {"US": "Sick", "IN": "Sick Leave"},
}

DATES_QUESTION = "Which days do you want off? Give the first and the last day, e.g. 2026-12-14 to 2026-12-18 (or one date for a single day)."


def leave_kind(text: str) -> str | None:
    words = f" {re.sub(r'[^a-z]+', ' ', text.lower())} "
    return next((kind for kind in LEAVE_TYPES if f" {kind} " in words), None)


def _number(value: Decimal) -> str:
    return f"{value:,.2f}"


# --- steps shared by both skills -------------------------------------------------------------------


async def find_worker(ctx: StepContext) -> dict[str, Any]:
    """The requester's own worker record; they must be an active worker to have leave."""
    worker = await requester(ctx.system, ctx.request)
    if worker.status != "Active":
        raise StepFailed("worker_not_active", f"{worker.name} is {worker.status} in Workday; time off and payslips are for active workers")
    return {**worker_outputs(worker), "manager_email": worker.manager_email}


async def read_balances(ctx: StepContext) -> dict[str, Any]:
    workday: Workday = ctx.system
    with refusals("Workday", default="balance_unavailable"):
        balances = await workday.get_balances(ctx.earlier["find-worker"]["worker_id"])
    return {
        "as_of": max((b.as_of for b in balances), default=date.today()).isoformat(),
        "balances": [{"plan": b.plan, "unit": b.unit, "balance": str(b.balance), "scheduled": str(b.scheduled), "available": str(b.available)} for b in balances],
    }


async def last_payslip(ctx: StepContext) -> dict[str, Any]:
    payroll: Payroll = ctx.system
    with refusals("Payroll", {"NOT_FOUND": "not_in_payroll"}, default="payslip_unavailable"):
        slips = await payroll.payslips(ctx.earlier["find-worker"]["worker_id"], limit=1)
    if not slips:
        return {"payslip": None}
    slip = slips[0]
    return {
        "payslip": {
            "period": slip.period.isoformat(),
            "pay_date": slip.pay_date.isoformat(),
            "currency": slip.currency,
            "gross": str(slip.gross),
            "deductions": str(slip.total_deductions),
            "net": str(slip.net),
        }
    }


def _balance_summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    worker = outputs["find-worker"]
    read = outputs["read-balances"]
    lines = [
        f"{b['plan']}: {_number(Decimal(b['available']))} {b['unit'].lower()} available"
        + (f" ({_number(Decimal(b['scheduled']))} already requested of a balance of {_number(Decimal(b['balance']))})" if Decimal(b["scheduled"]) else "")
        for b in read["balances"]
    ]
    slip = outputs["last-payslip"]["payslip"]
    if slip is None:
        pay = "There is no payslip yet."
    else:
        month = date.fromisoformat(slip["period"]).strftime("%B %Y")
        pay = (
            f"Your last payslip ({month}, paid {slip['pay_date']}): gross {_number(Decimal(slip['gross']))} {slip['currency']}, "
            f"deductions {_number(Decimal(slip['deductions']))}, net {_number(Decimal(slip['net']))} {slip['currency']}."
        )
    return f"Time off for {worker['name']} in Workday as of {read['as_of']}: " + "; ".join(lines) + f". {pay}"


LEAVE_BALANCE = Skill(
    name="leave-balance",
    steps=(
        Step("find-worker", "workday", "workers.read", find_worker, describe=lambda r: {"worker": requester_email(r)}),
        Step("read-balances", "workday", "time_off.read", read_balances, describe=lambda r: {"worker": requester_email(r)}),
        Step("last-payslip", "payroll", "payslips.read", last_payslip, describe=lambda r: {"worker": requester_email(r)}),
    ),
    summarise=_balance_summary,
)


# --- leave-request ---------------------------------------------------------------------------------


def _dates(request: SkillRequest) -> tuple[date, date]:
    answered = str(request.inputs.get("dates", "")).strip()
    found = dates_in(answered) if answered else dates_in(f"{request.ticket.title}\n{request.ticket.description}")
    if not found:
        if answered:
            raise StepFailed("dates_not_understood", f"could not read dates in {answered[:80]!r}; a person will confirm the days")
        raise NeedInput("dates", DATES_QUESTION)
    start, end = found[0], found[-1]
    if end < start:
        raise StepFailed("dates_not_understood", f"the leave would end ({end.isoformat()}) before it starts ({start.isoformat()})")
    return start, end


async def check_balance(ctx: StepContext) -> dict[str, Any]:
    """Which plan, which days, how much: and whether the requester has enough of it available."""
    worker = ctx.earlier["find-worker"]
    said = str(ctx.inputs.get("leave_type", ""))
    kind = leave_kind(said) or leave_kind(ctx.request.ticket.description)
    if kind is None:
        raise StepFailed("unknown_leave_type", f"{said!r} is not a kind of leave Workday has here ({', '.join(LEAVE_TYPES)})")
    plan = LEAVE_TYPES[kind].get(worker["country"])
    if plan is None:
        offered = sorted({p[worker["country"]] for p in LEAVE_TYPES.values() if worker["country"] in p})
        raise StepFailed("leave_type_not_available", f"{kind} is not a time-off plan for {worker['country']} workers; theirs are {', '.join(offered)}")
    start, end = _dates(ctx.request)
    workday: Workday = ctx.system
    with refusals("Workday", default="balance_unavailable"):
        balances = {b.plan: b for b in await workday.get_balances(worker["worker_id"])}
    balance = balances.get(plan)
    if balance is None:
        raise StepFailed("not_eligible", f"{worker['name']} has no {plan} plan in Workday")
    days = weekdays(start, end)
    if days == 0:
        raise StepFailed("no_working_days", f"{start.isoformat()} to {end.isoformat()} has no working day to take off")
    needed = balance.daily_quantity * days
    unit = balance.unit.lower()
    if balance.available < needed:
        raise StepFailed(
            "insufficient_balance",
            f"{worker['name']} has {_number(balance.available)} {unit} of {plan} available (balance {_number(balance.balance)}, "
            f"{_number(balance.scheduled)} already requested); {start.isoformat()} to {end.isoformat()} needs {_number(needed)} {unit}",
        )
    return {"plan": plan, "unit": balance.unit, "start": start.isoformat(), "end": end.isoformat(), "days": days, "quantity": str(needed), "available": str(balance.available)}


async def submit_request(ctx: StepContext) -> dict[str, Any]:
    checked = ctx.earlier["check-balance"]
    workday: Workday = ctx.system
    codes = {"A1011": "insufficient_balance", "A1008": "overlapping_request", "A1016": "no_working_days", "A1041": "not_eligible"}
    with refusals("Workday", codes, default="request_refused"):
        request = await workday.request_time_off(
            ctx.earlier["find-worker"]["worker_id"],
            checked["plan"],
            date.fromisoformat(checked["start"]),
            date.fromisoformat(checked["end"]),
            idempotency_key=ctx.idempotency_key,
            ticket_id=ctx.request.ticket_id,
            comment=f"Requested through ticket {ctx.request.ticket_id}",
        )
    return {
        "request_id": request.id,
        "status": request.status,
        "awaiting": request.awaiting_name,
        "plan": request.plan,
        "start": request.start_date.isoformat(),
        "end": request.end_date.isoformat(),
        "quantity": str(request.quantity),
        "unit": request.unit,
    }


async def cancel_request(ctx: StepContext, outputs: Mapping[str, Any]) -> dict[str, Any]:
    workday: Workday = ctx.system
    with refusals("Workday", default="cancel_refused"):
        canceled = await workday.cancel_time_off(outputs["request_id"], idempotency_key=ctx.idempotency_key)
    return {"request_id": canceled.id, "status": canceled.status}


def _request_summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    sent = outputs["submit-request"]
    checked = outputs["check-balance"]
    unit = sent["unit"].lower()
    left = Decimal(checked["available"]) - Decimal(sent["quantity"])
    who = sent["awaiting"] or "your HR partner (you have no manager in Workday)"
    days = f"on {sent['start']}" if sent["start"] == sent["end"] else f"for {sent['start']} to {sent['end']}"
    return (
        f"Your {sent['plan']} request {days} ({_number(Decimal(sent['quantity']))} {unit}) is {sent['status']} in Workday "
        f"and awaits approval by {who}. Once it is approved you will have {_number(left)} {unit} of {sent['plan']} left."
    )


def _describe_request(request: SkillRequest) -> dict[str, Any]:
    return {"worker": requester_email(request), "leave_type": request.inputs.get("leave_type"), "dates": request.inputs.get("dates")}


LEAVE_REQUEST = Skill(
    name="leave-request",
    steps=(
        Step("find-worker", "workday", "workers.read", find_worker, describe=lambda r: {"worker": requester_email(r)}),
        Step("check-balance", "workday", "time_off.read", check_balance, describe=_describe_request),
        Step("submit-request", "workday", "time_off.request", submit_request, describe=_describe_request, compensate=cancel_request),
    ),
    summarise=_request_summary,
)

SKILLS = (LEAVE_BALANCE, LEAVE_REQUEST)


# --- cases ---------------------------------------------------------------------------------------


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
