"""Onboarding in HR and payroll, by country: find the pre-hire in Workday, complete their hire, enrol
them in payroll with the country's forms (US: the W-4 elections and the I-9; India: PAN, provident
fund and UAN).

Only HR or the new hire's own manager may start it. A PAN that is missing or not a valid
individual's PAN is asked for before anything is done (once more if the answer is not valid
either); it never appears in a step's outputs or in an approval request, only masked. If payroll
refuses the enrolment, the hire is rescinded in Workday, so the person is a pre-hire again and HR
can fix the cause.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from contracts.events import SkillRequest
from runtime.vendor.errors import ApiError
from services.skills.connectors.payroll import FILING_STATUSES, Payroll, mask_pan, normalise_pan, pan_problem
from services.skills.connectors.workday import Workday
from services.skills.failures import refused
from services.skills.hr_common import authorise, check_country, one_worker, requester, worker_outputs
from services.skills.people import named_in
from services.skills.skill import NeedInput, Skill, Step, StepContext, StepFailed

EMPLOYEE_QUESTION = "Who is the new hire? Give their name or work email as it is in Workday (e.g. jane.lee@acme.example)."


def _employee(request: SkillRequest, question: str) -> str:
    ref = str(request.inputs.get("employee", "")).strip()
    if not ref:
        raise NeedInput("employee", question)
    return ref


async def _named_pre_hire(ctx: StepContext, workday: Workday) -> str:
    """The new hire: as the request's ``employee`` input says, else the one pre-hire the ticket names
    ("onboard Jane Lee"), else asked; the requester is never asked what they already wrote."""
    given = str(ctx.inputs.get("employee", "")).strip()
    if given:
        return given
    found = await named_in(ctx.request.ticket.text, lambda name: workday.find_workers(name, include_terminated=False), key=lambda w: w.id)
    pre_hires = [w for w in found if w.status == "Pre-Hire"]
    if len(pre_hires) == 1:
        return pre_hires[0].email
    raise NeedInput("employee", EMPLOYEE_QUESTION)


def _pan(request: SkillRequest, name: str) -> str:
    """The new hire's PAN from the request, asked for when missing, asked once more when not valid."""
    given = request.inputs.get("pan_corrected") or request.inputs.get("pan")
    if not given:
        raise NeedInput("pan", f"What is {name}'s PAN (Permanent Account Number: 10 characters, like ABCDE1234F)? Payroll in India deducts income tax against it.")
    pan = normalise_pan(str(given))
    if problem := pan_problem(pan):
        if "pan_corrected" in request.inputs:
            raise StepFailed("invalid_pan", f"the PAN given twice for {name} is not valid ({mask_pan(pan)}): {problem}")
        raise NeedInput("pan_corrected", f"The PAN given for {name} ({mask_pan(pan)}) is not valid: {problem}. What is {name}'s PAN?")
    return pan


def _masked(number: str | None) -> str | None:
    """``XXXXXXXX4321``: a UAN as its holder recognises it, not as anyone could use it."""
    return None if not number else "X" * max(0, len(number) - 4) + number[-4:]


def _filing_status(request: SkillRequest) -> str | None:
    given = str(request.inputs.get("w4_filing_status", "")).strip().lower().replace(" ", "_").replace("-", "_")
    if not given:
        return None  # no W-4 furnished yet: payroll withholds as single until the new hire submits one
    if given not in FILING_STATUSES:
        raise StepFailed("invalid_w4", f"W-4 filing status {given!r} is not one of {', '.join(FILING_STATUSES)}")
    return given


def find_pre_hire(country: str, skill: str) -> Callable[[StepContext], Awaitable[dict[str, Any]]]:
    async def run(ctx: StepContext) -> dict[str, Any]:
        """The pre-hire the request names, in the skill's country; the requester must be HR or their manager."""
        workday: Workday = ctx.system
        ref = await _named_pre_hire(ctx, workday)
        asker = await requester(workday, ctx.request)
        hire = await one_worker(workday, ref, coworker=ctx.request.coworker)
        if hire.status != "Pre-Hire":
            raise StepFailed("not_a_pre_hire", f"{hire.name} is {hire.status} in Workday; only a pre-hire can be hired")
        check_country(hire, country, skill)
        authorise(asker, hire, "hire")
        if country == "IN":
            _pan(ctx.request, hire.name)
            uan = str(ctx.inputs.get("uan", "")).strip()
            if uan and not (uan.isdigit() and len(uan) == 12):
                raise StepFailed("invalid_uan", f"a UAN is 12 digits; {len(uan)} characters were given")
        else:
            _filing_status(ctx.request)
        return {
            **worker_outputs(hire),
            "start_date": hire.hire_date.isoformat(),
            "location": hire.location,
            "_annual_salary": str(hire.annual_salary),  # for payroll only: Workday holds the offer's compensation
            "currency": hire.currency,
            "requested_by": asker.name,
        }

    return run


async def complete_hire(ctx: StepContext) -> dict[str, Any]:
    workday: Workday = ctx.system
    with refused("Workday", f"hiring {ctx.earlier['find-pre-hire']['name']}", codes={"A178": "not_a_pre_hire"}, not_found="worker_not_found", default="hire_refused", coworker=ctx.request.coworker):
        event = await workday.hire(ctx.earlier["find-pre-hire"]["worker_id"], idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    return {"event_id": event.id, "status": event.status, "_employee_id": event.employee_id, "effective_date": event.effective_date.isoformat()}  # the new id is for payroll, not the record


async def rescind_hire(ctx: StepContext, outputs: Mapping[str, Any]) -> dict[str, Any]:
    workday: Workday = ctx.system
    with refused("Workday", f"rescinding the hire {outputs['event_id']} this request made", default="rescind_refused", coworker=ctx.request.coworker):
        event = await workday.rescind(outputs["event_id"], idempotency_key=ctx.idempotency_key)
    return {"event_id": event.id, "status": event.status}


async def enrol_in_payroll(ctx: StepContext) -> dict[str, Any]:
    hire = ctx.earlier["find-pre-hire"]
    hired = ctx.earlier["hire"]
    payroll: Payroll = ctx.system
    country = hire["country"]
    pan = _pan(ctx.request, hire["name"]) if country == "IN" else None
    with refused("Payroll", f"enrolling {hire['name']} in payroll", codes={"CONFLICT": "already_enrolled", "VALIDATION_ERROR": "enrolment_invalid"}, default="enrolment_refused", coworker=ctx.request.coworker):
        try:
            enrolment = await payroll.enrol(
                worker_id=hire["worker_id"],
                employee_id=hired["_employee_id"],
                name=hire["name"],
                country=country,
                location=hire["location"],
                hire_date=date.fromisoformat(hire["start_date"]),
                annual_salary=Decimal(hire["_annual_salary"]),
                currency=hire["currency"],
                w4_filing_status=_filing_status(ctx.request) if country == "US" else None,
                pan=pan,
                uan=str(ctx.inputs.get("uan", "")).strip() or None,
                idempotency_key=ctx.idempotency_key,
                ticket_id=ctx.request.ticket_id,
            )
        except ApiError as exc:
            if exc.code == "CONFLICT" and getattr(exc, "field", None) == "pan":  # someone else's PAN: HR must check it
                # Payroll names whose it is; the ticket does not (that is another person's record).
                raise StepFailed("pan_already_registered", f"Payroll refused: the PAN given for {hire['name']} ({mask_pan(pan)}) is already registered to another active payroll employee ({exc.code}); HR must check which is right") from None
            raise
    # Payroll's id for the employee carries their employee id: kept for later steps, not shown.
    out: dict[str, Any] = {"_payroll_id": enrolment.id, "status": enrolment.status, "country": enrolment.country, "currency": enrolment.currency}
    if country == "US":
        out |= {
            "w4_filing_status": enrolment.w4_filing_status,
            "w4_furnished": enrolment.w4_furnished,
            "i9_status": enrolment.i9_status,
            "i9_section2_due": enrolment.i9_section2_due.isoformat() if enrolment.i9_section2_due else None,
        }
    else:
        out |= {"tax_id_masked": enrolment.pan_masked, "uan_masked": _masked(enrolment.uan), "uan_new": not ctx.inputs.get("uan"), "pf_member": enrolment.pf_member}
    return out


def _summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    hire, hired, pay = outputs["find-pre-hire"], outputs["hire"], outputs["enrol-payroll"]
    done = (
        f"Hired {hire['name']} in Workday ({hire['job_title']}, {hire['department']}, "
        f"starting {hired['effective_date']}, reporting to {hire['manager']}) and enrolled them in payroll; their employee ID is in Workday."
    )
    if pay["country"] == "US":
        w4 = (
            f" W-4: filing status {pay['w4_filing_status'].replace('_', ' ')}."
            if pay["w4_furnished"]
            else " No W-4 yet, so federal tax is withheld as single with no adjustments until they submit one."
        )
        return done + w4 + f" I-9: {pay['i9_status']}; Section 2 (documents seen by HR) by {pay['i9_section2_due']}. Still needed from them: the I-9 documents" + ("." if pay["w4_furnished"] else " and a W-4.")
    uan = f"a new UAN ({pay['uan_masked']}) was generated" if pay["uan_new"] else f"their existing UAN ({pay['uan_masked']}) is kept"
    return done + f" PAN {pay['tax_id_masked']} is on file, they are a provident fund member and {uan}. Still needed from them: bank details and Form 11 (PF declaration)."


def _describe(request: SkillRequest) -> dict[str, Any]:
    """What an approver sees: who is hired, never their tax numbers."""
    return {"employee": request.inputs.get("employee"), "requested_by": request.ticket.requester.email}


def onboarding(country: str) -> Skill:
    name = f"hr-onboarding-{country.lower()}"
    return Skill(
        name=name,
        steps=(
            Step("find-pre-hire", "workday", "workers.read", find_pre_hire(country, name), describe=_describe),
            Step("hire", "workday", "workers.create", complete_hire, describe=_describe, destructive=True, compensate=rescind_hire),
            # Not destructive: it pays nothing by itself, follows from the approved hire, and is undone with it.
            Step("enrol-payroll", "payroll", "enrolments.create", enrol_in_payroll, describe=_describe),
        ),
        summarise=_summary,
    )


ONBOARDING_US, ONBOARDING_IN = onboarding("US"), onboarding("IN")
SKILLS = (ONBOARDING_US, ONBOARDING_IN)
