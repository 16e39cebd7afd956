"""Offboarding in HR and payroll, by country: find the leaver in Workday, read the leave they have not
taken, terminate them (their last day and the reason), and make their final pay: in the US the final
paycheck (unused vacation paid out) and the COBRA election notice; in India the full and final
settlement (earned leave encashed, gratuity after five years of service) and the relieving letter.

The leaver is the ``employee`` the request names, not the requester; only HR or the leaver's own
manager may start it, and the last day is asked for, never guessed. Termination and final pay are
destructive: a supervised coworker's manager approves each. If payroll refuses the final pay, the
termination is rescinded, so Workday and payroll agree until HR sorts out the cause.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from contracts.events import SkillRequest
from services.skills.rules import GRATUITY_MIN_YEARS
from services.skills.connectors.payroll import Payroll
from services.skills.connectors.workday import TERMINATION_REASONS, Workday
from services.skills.failures import refused
from services.skills.hr_common import authorise, check_country, dates_in, one_worker, requester, worker_outputs
from services.skills.skill import NeedInput, Skill, Step, StepContext, StepFailed

EMPLOYEE_QUESTION = "Who is leaving? Give their name or work email as it is in Workday (e.g. james.martinez@acme.example)."
REASON_QUESTION = "Why are they leaving: resignation, retirement, relocation, position elimination, performance, misconduct or end of contract?"
#: Words a person uses for a reason -> Workday's primary termination reason.
REASONS = {
    "resign": "Voluntary > Resignation",
    "retir": "Voluntary > Retirement",
    "relocat": "Voluntary > Relocation",
    "redundan": "Involuntary > Position Elimination",
    "laid off": "Involuntary > Position Elimination",
    "layoff": "Involuntary > Position Elimination",
    "position elimination": "Involuntary > Position Elimination",
    "performance": "Involuntary > Performance",
    "misconduct": "Involuntary > Misconduct",
    "end of contract": "Involuntary > End of Contract",
    "contract end": "Involuntary > End of Contract",
}
#: The time-off plan whose unused balance is paid out at exit.
PAID_OUT = {"US": "Vacation", "IN": "Earned Leave"}


def termination_reason(text: str) -> str | None:
    lowered = text.lower()
    for reason in TERMINATION_REASONS:
        if reason.lower() in lowered:
            return reason
    return next((reason for word, reason in REASONS.items() if re.search(rf"\b{word}", lowered)), None)


def _last_day(request: SkillRequest, name: str) -> date:
    given = str(request.inputs.get("last_day", "")).strip()
    if not given:
        raise NeedInput("last_day", f"What is {name}'s last working day, as HR confirmed in writing (e.g. 2026-12-31)?")
    found = dates_in(given)
    if len(found) != 1:
        raise StepFailed("last_day_not_understood", f"could not read one date in {given[:60]!r}; a person will confirm the last day")
    return found[0]


def _reason(request: SkillRequest) -> str:
    given = str(request.inputs.get("reason", "")).strip()
    if given:
        reason = termination_reason(given)
        if reason is None:
            raise StepFailed("reason_not_understood", f"{given[:60]!r} is not a termination reason Workday has: {', '.join(TERMINATION_REASONS)}")
        return reason
    reason = termination_reason(request.ticket.description)
    if reason is None:
        raise NeedInput("reason", REASON_QUESTION)
    return reason


def find_leaver(country: str, skill: str) -> Callable[[StepContext], Awaitable[dict[str, Any]]]:
    async def run(ctx: StepContext) -> dict[str, Any]:
        """The active worker the request names, in the skill's country, their last day and why; the
        requester must be HR or their manager."""
        workday: Workday = ctx.system
        ref = str(ctx.inputs.get("employee", "")).strip()
        if not ref:
            raise NeedInput("employee", EMPLOYEE_QUESTION)
        asker = await requester(workday, ctx.request)
        leaver = await one_worker(workday, ref, coworker=ctx.request.coworker)
        if leaver.status == "Terminated":
            raise StepFailed("already_terminated", f"{leaver.name} was already terminated in Workday (last day {leaver.termination_date})")
        if leaver.status != "Active":
            raise StepFailed("not_an_employee", f"{leaver.name} is a {leaver.status} in Workday: there is nothing to offboard (rescind the offer instead)")
        check_country(leaver, country, skill)
        authorise(asker, leaver, "offboard")
        last_day = _last_day(ctx.request, leaver.name)
        if last_day < leaver.hire_date:
            raise StepFailed("last_day_before_hire", f"{leaver.name}'s last day {last_day.isoformat()} is before their hire date {leaver.hire_date.isoformat()}")
        return {**worker_outputs(leaver), "hire_date": leaver.hire_date.isoformat(), "last_day": last_day.isoformat(), "reason": _reason(ctx.request), "requested_by": asker.name}

    return run


async def read_leave(ctx: StepContext) -> dict[str, Any]:
    """The leave the leaver has not taken and has not asked for, in the plan paid out at exit."""
    leaver = ctx.earlier["find-leaver"]
    workday: Workday = ctx.system
    with refused("Workday", f"reading {leaver['name']}'s leave balances", default="balance_unavailable", coworker=ctx.request.coworker):
        balances = {b.plan: b for b in await workday.get_balances(leaver["worker_id"])}
    plan = PAID_OUT[leaver["country"]]
    balance = balances.get(plan)
    unused = max(Decimal(0), balance.available) if balance else Decimal(0)
    return {"plan": plan, "unit": balance.unit if balance else ("Hours" if leaver["country"] == "US" else "Days"), "unused": str(unused)}


async def terminate(ctx: StepContext) -> dict[str, Any]:
    leaver = ctx.earlier["find-leaver"]
    workday: Workday = ctx.system
    with refused("Workday", f"terminating {leaver['name']} (last day {leaver['last_day']})", codes={"A178": "already_terminated"}, not_found="worker_not_found", default="termination_refused", coworker=ctx.request.coworker):
        event = await workday.terminate(
            leaver["worker_id"],
            last_day=date.fromisoformat(leaver["last_day"]),
            reason=leaver["reason"],
            idempotency_key=ctx.idempotency_key,
            ticket_id=ctx.request.ticket_id,
        )
    return {"event_id": event.id, "status": event.status, "last_day": event.effective_date.isoformat(), "reason": event.reason}


async def rescind_termination(ctx: StepContext, outputs: Mapping[str, Any]) -> dict[str, Any]:
    workday: Workday = ctx.system
    with refused("Workday", f"rescinding the termination {outputs['event_id']} this request made", default="rescind_refused", coworker=ctx.request.coworker):
        event = await workday.rescind(outputs["event_id"], idempotency_key=ctx.idempotency_key)
    return {"event_id": event.id, "status": event.status}


async def final_pay(ctx: StepContext) -> dict[str, Any]:
    leaver = ctx.earlier["find-leaver"]
    payroll: Payroll = ctx.system
    with refused("Payroll", f"creating {leaver['name']}'s final pay", codes={"CONFLICT": "final_pay_exists"}, not_found="not_in_payroll", default="final_pay_refused", coworker=ctx.request.coworker):
        final = await payroll.create_final_pay(
            leaver["worker_id"],
            last_day=date.fromisoformat(leaver["last_day"]),
            leave_units=Decimal(ctx.earlier["read-leave"]["unused"]),
            idempotency_key=ctx.idempotency_key,
            ticket_id=ctx.request.ticket_id,
        )
    return {
        "final_pay_id": final.id,
        "kind": final.kind,
        "currency": final.currency,
        "earnings": {k: str(v) for k, v in final.earnings.items()},
        "gross": str(final.gross),
        "deductions": str(final.total_deductions),
        "net": str(final.net),
        "pay_date": final.pay_date.isoformat(),
        "years_of_service": final.years_of_service,
        "gratuity_eligible": final.gratuity_eligible,
        "cobra_notice_due": final.cobra_notice_due.isoformat() if final.cobra_notice_due else None,
        "relieving_letter_date": final.relieving_letter_date.isoformat() if final.relieving_letter_date else None,
        "documents": final.documents,
    }


def _money(value: str, currency: str) -> str:
    return f"{Decimal(value):,.2f} {currency}"


def _summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    leaver, leave, ended, pay = outputs["find-leaver"], outputs["read-leave"], outputs["terminate"], outputs["final-pay"]
    cur = pay["currency"]
    earnings = pay["earnings"]
    done = f"Terminated {leaver['name']} in Workday (last day {ended['last_day']}, {ended['reason']}) and made their {pay['kind'].lower()} in payroll: "
    if leaver["country"] == "US":
        return done + (
            f"salary to the last day {_money(earnings['Salary to last day'], cur)}, {Decimal(leave['unused']):g} unused vacation hours paid out "
            f"{_money(earnings['Unused vacation paid out'], cur)}; gross {_money(pay['gross'], cur)}, deductions {_money(pay['deductions'], cur)}, "
            f"net {_money(pay['net'], cur)}, paid on {pay['pay_date']}. The COBRA election notice is due by {pay['cobra_notice_due']}."
        )
    gratuity = (
        f"gratuity {_money(earnings['Gratuity'], cur)} for {pay['years_of_service']} years of service"
        if pay["gratuity_eligible"]
        else f"no gratuity ({pay['years_of_service']} years of service; the Payment of Gratuity Act requires {GRATUITY_MIN_YEARS})"
    )
    return done + (
        f"salary to the last day {_money(earnings['Salary to last day'], cur)}, {Decimal(leave['unused']):g} days of earned leave encashed "
        f"{_money(earnings['Leave encashment'], cur)}, {gratuity}; gross {_money(pay['gross'], cur)}, deductions {_money(pay['deductions'], cur)}, "
        f"net {_money(pay['net'], cur)}, paid by {pay['pay_date']}. Relieving letter dated {pay['relieving_letter_date']}."
    )


def _describe(request: SkillRequest) -> dict[str, Any]:
    """What an approver sees: who leaves, when, why, and who asked."""
    return {
        "employee": request.inputs.get("employee"),
        "last_day": request.inputs.get("last_day"),
        "reason": request.inputs.get("reason") or termination_reason(request.ticket.description),
        "requested_by": request.ticket.requester.email,
    }


def offboarding(country: str) -> Skill:
    name = f"hr-offboarding-{country.lower()}"
    return Skill(
        name=name,
        steps=(
            Step("find-leaver", "workday", "workers.read", find_leaver(country, name), describe=_describe),
            Step("read-leave", "workday", "time_off.read", read_leave, describe=_describe),
            Step("terminate", "workday", "workers.terminate", terminate, describe=_describe, destructive=True, compensate=rescind_termination),
            Step("final-pay", "payroll", "final_pay.create", final_pay, describe=_describe, destructive=True),
        ),
        summarise=_summary,
    )


OFFBOARDING_US, OFFBOARDING_IN = offboarding("US"), offboarding("IN")
SKILLS = (OFFBOARDING_US, OFFBOARDING_IN)
