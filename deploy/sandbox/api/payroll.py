"""The payroll provider's REST API, as we define it (payroll has no public standard): JSON over HTTPS,
base URL ``.../payroll``, resources under ``/v1``.

Auth: ``Authorization: Bearer <API token>``; the token's scopes decide what it may do
(``enrolments.create``, ``payslips.read``, ``final_pay.create``).

- ``POST /v1/employees`` — enrol a new hire. Body: ``workerId``, ``employeeId``, ``name``,
  ``country`` (``US``/``IN``), ``location``, ``hireDate`` (ISO date), ``annualSalary`` (a decimal
  string), ``currency``; US: ``w4: {"filingStatus"}`` (omitted: no W-4 furnished yet); IN: ``pan``,
  ``uan`` (omitted: a new one is allotted); optional ``reference`` (the requester's ticket).
  201: an Employee ``{"id", "workerId", "employeeId", "country", "currency", "status", "hireDate",
  "w4": {"filingStatus", "furnished"} | null, "i9": {"status", "section2Due"} | null, "panMasked",
  "uan", "pfMember"}``. A PAN is never returned unmasked.
- ``GET /v1/payslips?workerId=&limit=`` (limit 1-24, default 3) — 200 ``{"data": [Payslip]}``,
  newest first: ``{"id", "period", "payDate", "currency", "gross", "deductions": {name: amount},
  "totalDeductions", "net"}``; 404 when payroll has no employee for the worker.
- ``POST /v1/final-pays`` — a leaver's final pay. Body: ``workerId``, ``lastDay``, ``leaveUnits``
  (decimal string: unused leave days), optional ``reference``. 201: a FinalPay ``{"id",
  "employeeId", "kind", "lastDay", "payDate", "currency", "earnings": {name: amount}, "gross",
  "totalDeductions", "net", "yearsOfService", "gratuityEligible", "cobraNoticeDue",
  "relievingLetterDate", "documents": [...], "status"}``; the employee's record ends (Terminated).

Money is a decimal string (``"4250.00"``: a JSON number would lose cents), dates are ISO 8601.
Errors: ``{"error": {"code", "message", "field"?}}``: 400 ``VALIDATION_ERROR`` (``field`` names the
request field: ``pan``, ``w4.filingStatus``, ``lastDay``...), 401 ``UNAUTHORIZED`` (with
``WWW-Authenticate: Bearer``), 403 ``FORBIDDEN`` (a scope the token lacks), 404 ``NOT_FOUND``, 409
``CONFLICT`` (already enrolled: ``field`` ``workerId``; a PAN registered to another active employee:
``pan``; final pay already made), 422 ``idempotency_key_reused``; 429 with ``Retry-After``.
Every POST takes ``Idempotency-Key`` (``deploy/sandbox/api/ours.py``: Stripe's semantics).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from deploy.sandbox import payroll
from deploy.sandbox.api import ours
from deploy.sandbox.payroll import PayrollSandbox
from deploy.sandbox.server import SandboxState
from services.skills.connectors.payroll import Enrolment, FinalPay, PayrollError, Payslip

PREFIX = "/v1"


def _invalid(message: str, field: str) -> PayrollError:
    return PayrollError(400, "VALIDATION_ERROR", message, field=field)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class W4(_Body):
    filing_status: str = Field(alias="filingStatus")


class NewEmployee(_Body):
    worker_id: str = Field(alias="workerId", min_length=1, max_length=64)
    employee_id: str = Field(alias="employeeId", min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    country: str = Field(min_length=2, max_length=2)
    location: str = Field(min_length=1, max_length=100)
    hire_date: date = Field(alias="hireDate")
    annual_salary: Decimal = Field(alias="annualSalary")
    currency: str = Field(min_length=3, max_length=3)
    w4: W4 | None = None
    pan: str | None = Field(default=None, max_length=20)
    uan: str | None = Field(default=None, max_length=20)
    reference: str = Field(default="", max_length=100)


class NewFinalPay(_Body):
    worker_id: str = Field(alias="workerId", min_length=1, max_length=64)
    last_day: date = Field(alias="lastDay")
    leave_units: Decimal = Field(alias="leaveUnits")
    reference: str = Field(default="", max_length=100)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _money(amounts: dict[str, Decimal]) -> dict[str, str]:
    return {name: str(amount) for name, amount in amounts.items()}


def employee_json(e: Enrolment) -> dict[str, Any]:
    return {
        "id": e.id,
        "workerId": e.worker_id,
        "employeeId": e.employee_id,
        "country": e.country,
        "currency": e.currency,
        "status": e.status,
        "hireDate": e.hire_date.isoformat(),
        "w4": {"filingStatus": e.w4_filing_status, "furnished": e.w4_furnished} if e.w4_filing_status is not None else None,
        "i9": {"status": e.i9_status, "section2Due": _day(e.i9_section2_due)} if e.i9_status is not None else None,
        "panMasked": e.pan_masked,
        "uan": e.uan,
        "pfMember": e.pf_member,
    }


def payslip_json(p: Payslip) -> dict[str, Any]:
    return {
        "id": p.id,
        "period": p.period.isoformat(),
        "payDate": p.pay_date.isoformat(),
        "currency": p.currency,
        "gross": str(p.gross),
        "deductions": _money(p.deductions),
        "totalDeductions": str(p.total_deductions),
        "net": str(p.net),
    }


def final_pay_json(f: FinalPay) -> dict[str, Any]:
    return {
        "id": f.id,
        "employeeId": f.employee,
        "kind": f.kind,
        "lastDay": f.last_day.isoformat(),
        "payDate": f.pay_date.isoformat(),
        "currency": f.currency,
        "earnings": _money(f.earnings),
        "gross": str(f.gross),
        "totalDeductions": str(f.total_deductions),
        "net": str(f.net),
        "yearsOfService": f.years_of_service,
        "gratuityEligible": f.gratuity_eligible,
        "cobraNoticeDue": _day(f.cobra_notice_due),
        "relievingLetterDate": _day(f.relieving_letter_date),
        "documents": list(f.documents),
        "status": f.status,
    }


def create_app(state: SandboxState) -> web.Application:
    app = web.Application(middlewares=[ours.errors_middleware(PayrollError)])

    async def enrol(request: web.Request) -> web.Response:
        spec, data = await ours.parse(request, NewEmployee, _invalid)
        async with state.session(PayrollSandbox, ours.bearer(request)) as api:
            caller = await api.caller()

            async def act(key: str) -> tuple[int, Any]:
                made = await payroll.enrol(
                    api.conn,
                    caller,
                    worker_id=spec.worker_id,
                    employee_id=spec.employee_id,
                    name=spec.name,
                    country=spec.country,
                    location=spec.location,
                    hire_date=spec.hire_date,
                    annual_salary=spec.annual_salary,
                    currency=spec.currency,
                    w4_filing_status=spec.w4.filing_status if spec.w4 else None,
                    pan=spec.pan,
                    uan=spec.uan,
                    idempotency_key=key,
                    ticket_id=spec.reference,
                )
                return 201, employee_json(made)

            return await ours.once(request, api.conn, caller, data, act, error=PayrollError)

    async def payslips(request: web.Request) -> web.Response:
        worker = request.query.get("workerId", "")
        if not worker:
            raise _invalid("workerId is required", "workerId")
        try:
            limit = int(request.query.get("limit", "3"))
        except ValueError:
            raise _invalid("limit is a whole number from 1 to 24", "limit") from None
        if not 1 <= limit <= 24:
            raise _invalid(f"limit is from 1 to 24, not {limit}", "limit")
        async with state.session(PayrollSandbox, ours.bearer(request)) as api:
            slips = await api.payslips(worker, limit=limit)
        return web.json_response({"data": [payslip_json(p) for p in slips]})

    async def final_pay(request: web.Request) -> web.Response:
        spec, data = await ours.parse(request, NewFinalPay, _invalid)
        async with state.session(PayrollSandbox, ours.bearer(request)) as api:
            caller = await api.caller()

            async def act(key: str) -> tuple[int, Any]:
                made = await payroll.create_final_pay(
                    api.conn, caller, spec.worker_id, last_day=spec.last_day, leave_units=spec.leave_units, idempotency_key=key, ticket_id=spec.reference
                )
                return 201, final_pay_json(made)

            return await ours.once(request, api.conn, caller, data, act, error=PayrollError)

    app.router.add_post(f"{PREFIX}/employees", enrol)
    app.router.add_get(f"{PREFIX}/payslips", payslips)
    app.router.add_post(f"{PREFIX}/final-pays", final_pay)
    return app

