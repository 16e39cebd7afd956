"""Leave in Workday and pay in Payroll, for the requester themselves: what they have (``leave-balance``)
and asking for time off (``leave-request``, which starts Workday's Request Time Off business process:
the request is Submitted and awaits the requester's own manager, who decides in Workday).

Whatever a ticket says about other people, these skills read and act on the requester's own worker
record only: the worker is found by the requester's email, never by a name in the ticket.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from contracts.events import SkillRequest
from services.skills.connectors.payroll import Payroll
from services.skills.connectors.workday import Workday, weekdays
from services.skills.failures import refused
from services.skills.hr_common import dates_in, requester, requester_email, worker_outputs
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
    with refused("Workday", f"reading {ctx.earlier['find-worker']['name']}'s time-off balances", default="balance_unavailable", coworker=ctx.request.coworker):
        balances = await workday.get_balances(ctx.earlier["find-worker"]["worker_id"])
    return {
        "as_of": max((b.as_of for b in balances), default=date.today()).isoformat(),
        "balances": [{"plan": b.plan, "unit": b.unit, "balance": str(b.balance), "scheduled": str(b.scheduled), "available": str(b.available)} for b in balances],
    }


async def last_payslip(ctx: StepContext) -> dict[str, Any]:
    payroll: Payroll = ctx.system
    with refused("Payroll", f"reading {ctx.earlier['find-worker']['name']}'s last payslip", not_found="not_in_payroll", default="payslip_unavailable", coworker=ctx.request.coworker):
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
    with refused("Workday", f"reading {worker['name']}'s {plan} balance", default="balance_unavailable", coworker=ctx.request.coworker):
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
    with refused("Workday", f"requesting {checked['plan']} from {checked['start']} to {checked['end']}", codes=codes, default="request_refused", coworker=ctx.request.coworker):
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
    with refused("Workday", f"cancelling the time-off request {outputs['request_id']} this request made", default="cancel_refused", coworker=ctx.request.coworker):
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
