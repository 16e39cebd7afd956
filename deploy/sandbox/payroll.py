"""A payroll system in PostgreSQL: pay enrolment, monthly payslips and final pay, for the US and India.

What the HR skills need of the organisation's payroll provider: enrolling a new hire (US: the W-4
withholding elections and the I-9's status; India: PAN, provident fund membership and UAN), the
payslips of a month (gross, itemised deductions, net, in USD or INR, computed by ``paycalc``), and a
leaver's final pay (US: final paycheck and the COBRA election notice; India: the full and final
settlement, gratuity after five years of service, the relieving letter). Errors are
``PayrollError``s, served as ``{"error": {"code", "message", "field"}}`` by the HTTP API
(``api/payroll.py``): 400 VALIDATION_ERROR (e.g. a PAN not in the AAAAA9999A format), 404 NOT_FOUND,
409 CONFLICT (already enrolled, a PAN registered to someone else, final pay already made), 401
UNAUTHORIZED and 403 FORBIDDEN. Every call carries the calling coworker's own token, whose scopes
the sandbox checks; writes take an idempotency key (the client's ``Idempotency-Key``, or a fresh
one) and a repeated key returns the first result. A PAN is stored (payroll deducts tax against it)
but only ever returned masked. ``PayrollSandbox`` is the payroll connector over it.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from services.skills.connectors.payroll import FILING_STATUSES, Enrolment, FinalPay, PayrollError, Payslip, mask_pan, normalise_pan, pan_problem
from deploy.sandbox import paycalc, tokens
from deploy.sandbox.tokens import Caller, SandboxConnector

SYSTEM = "payroll"

UAN_FORMAT = re.compile(r"^[0-9]{12}$")
CURRENCY = {"US": "USD", "IN": "INR"}


def _invalid(message: str, field: str) -> PayrollError:
    return PayrollError(400, "VALIDATION_ERROR", message, field=field)


def _require(caller: Caller, scope: str) -> None:
    if not caller.may(scope):
        raise PayrollError(403, "FORBIDDEN", f"The API client is not authorised for this operation ({caller.coworker}'s token lacks {scope})")


async def authenticate(conn: asyncpg.Connection, token: str | None) -> Caller:
    caller = await tokens.authenticate(conn, SYSTEM, token)
    if caller is None:
        raise PayrollError(401, "UNAUTHORIZED", "Missing or invalid access token")
    return caller


_ENROLMENT = (
    "SELECT id, worker_id, employee_id, country, currency, status, hire_date, w4_filing_status, w4_furnished, i9_status, i9_section2_due,"
    " pan, uan, pf_member FROM payroll_employees"
)


def _enrolment(row: asyncpg.Record) -> Enrolment:
    data = dict(row)
    data["pan_masked"] = mask_pan(data.pop("pan"))
    return Enrolment(**data)


def _business_days_after(day: date, count: int) -> date:
    while count:
        day += timedelta(days=1)
        count -= day.weekday() < 5
    return day


def new_uan(worker_id: str) -> str:
    """The UAN EPFO allots a first-time member (here: derived from the worker, so a retry gets the same)."""
    return "10" + str(int(hashlib.sha256(f"uan:{worker_id}".encode()).hexdigest(), 16))[:10]


async def enrol(
    conn: asyncpg.Connection,
    caller: Caller,
    *,
    worker_id: str,
    employee_id: str,
    name: str,
    country: str,
    location: str,
    hire_date: date,
    annual_salary: Decimal,
    currency: str,
    w4_filing_status: str | None = None,
    pan: str | None = None,
    uan: str | None = None,
    idempotency_key: str,
    ticket_id: str,
) -> Enrolment:
    """Enrol a new hire in payroll with their country's forms.

    US: the W-4 elections (no W-4 furnished yet: withheld as single with no adjustments, as the IRS
    requires) and the I-9 (Section 1 due on the first day, Section 2 within three business days).
    India: PAN (validated), provident fund membership and UAN (an existing one kept, else a new one)."""
    _require(caller, "enrolments.create")
    if (earlier := await conn.fetchrow(f"{_ENROLMENT} WHERE idempotency_key = $1", idempotency_key)) is not None:
        return _enrolment(earlier)
    if country not in CURRENCY:
        raise _invalid(f"country {country!r} is not paid by this payroll (US, IN)", "country")
    if currency != CURRENCY[country]:
        raise _invalid(f"{country} employees are paid in {CURRENCY[country]}, not {currency}", "currency")
    if annual_salary <= 0:
        raise _invalid("annual salary must be greater than zero", "annualSalary")
    fields: dict[str, Any] = {}
    if country == "US":
        if w4_filing_status is not None and w4_filing_status not in FILING_STATUSES:
            raise _invalid(f"W-4 filing status {w4_filing_status!r} is not one of {', '.join(FILING_STATUSES)}", "w4.filingStatus")
        fields = {
            "w4_filing_status": w4_filing_status or "single",
            "w4_furnished": w4_filing_status is not None,
            "i9_status": "Section 1 due on the first day of work",
            "i9_section2_due": _business_days_after(hire_date, 3),
        }
    else:
        if not pan:
            raise _invalid("PAN is required for an employee in India (income tax is deducted against it)", "pan")
        pan = normalise_pan(pan)
        if problem := pan_problem(pan):
            raise _invalid(f"PAN {mask_pan(pan)} is not valid: {problem}", "pan")
        if uan is not None and not UAN_FORMAT.match(uan):
            raise _invalid("a UAN is 12 digits", "uan")
        fields = {"pan": pan, "uan": uan or new_uan(worker_id), "pf_member": True}
    if (enrolled := await conn.fetchval("SELECT id FROM payroll_employees WHERE worker_id = $1 AND status = 'Active'", worker_id)) is not None:
        raise PayrollError(409, "CONFLICT", f"worker {worker_id} is already enrolled as payroll employee {enrolled}", field="workerId")
    if pan and (holder := await conn.fetchval("SELECT id FROM payroll_employees WHERE pan = $1 AND status = 'Active'", pan)) is not None:
        raise PayrollError(409, "CONFLICT", f"PAN {mask_pan(pan)} is already registered to active payroll employee {holder}", field="pan")
    employee = f"PR-{country}-{employee_id}"
    await conn.execute(
        "INSERT INTO payroll_employees (id, worker_id, employee_id, name, country, currency, location, annual_salary, hire_date, status,"
        " w4_filing_status, w4_furnished, i9_status, i9_section2_due, pan, uan, pf_member, idempotency_key, enrolled_by, ticket_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'Active', $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        employee,
        worker_id,
        employee_id,
        name,
        country,
        currency,
        location,
        annual_salary,
        hire_date,
        fields.get("w4_filing_status"),
        fields.get("w4_furnished"),
        fields.get("i9_status"),
        fields.get("i9_section2_due"),
        fields.get("pan"),
        fields.get("uan"),
        fields.get("pf_member"),
        idempotency_key,
        caller.coworker,
        ticket_id,
    )
    row = await conn.fetchrow(f"{_ENROLMENT} WHERE id = $1", employee)
    assert row is not None
    return _enrolment(row)


async def payslips(conn: asyncpg.Connection, caller: Caller, worker_id: str, *, limit: int = 3) -> list[Payslip]:
    """The worker's most recent payslips, newest first (none yet for someone newly enrolled)."""
    _require(caller, "payslips.read")
    employee = await conn.fetchval("SELECT id FROM payroll_employees WHERE worker_id = $1 ORDER BY status = 'Active' DESC, hire_date DESC LIMIT 1", worker_id)
    if employee is None:
        raise PayrollError(404, "NOT_FOUND", f"no payroll employee for worker {worker_id}", field="workerId")
    rows = await conn.fetch(
        "SELECT id, period, pay_date, currency, gross, deductions, total_deductions, net FROM payroll_payslips WHERE employee = $1 ORDER BY period DESC LIMIT $2",
        employee,
        limit,
    )
    return [Payslip(r["id"], r["period"], r["pay_date"], r["currency"], r["gross"], {k: Decimal(v) for k, v in json.loads(r["deductions"]).items()}, r["total_deductions"], r["net"]) for r in rows]


_FINAL = (
    "SELECT id, employee, kind, last_day, pay_date, currency, earnings, gross, total_deductions, net, years_of_service, gratuity_eligible,"
    " cobra_notice_due, relieving_letter_date, documents, status FROM payroll_final_pay"
)


def _final(row: asyncpg.Record) -> FinalPay:
    data = dict(row)
    data["earnings"] = {k: Decimal(v) for k, v in json.loads(data["earnings"]).items()}
    data["documents"] = list(data["documents"])
    return FinalPay(**data)


async def create_final_pay(conn: asyncpg.Connection, caller: Caller, worker_id: str, *, last_day: date, leave_units: Decimal, idempotency_key: str, ticket_id: str) -> FinalPay:
    """Calculate a leaver's final pay (US final paycheck with the COBRA notice; India full and final
    settlement with gratuity when due and the relieving letter); the employee's payroll record ends."""
    _require(caller, "final_pay.create")
    if (earlier := await conn.fetchrow(f"{_FINAL} WHERE idempotency_key = $1", idempotency_key)) is not None:
        return _final(earlier)
    employee = await conn.fetchrow(
        "SELECT id, country, currency, location, annual_salary, hire_date, w4_filing_status FROM payroll_employees WHERE worker_id = $1 AND status = 'Active' FOR UPDATE",
        worker_id,
    )
    if employee is None:
        done = await conn.fetchval("SELECT f.id FROM payroll_final_pay f JOIN payroll_employees e ON e.id = f.employee WHERE e.worker_id = $1 ORDER BY f.created_at DESC LIMIT 1", worker_id)
        if done is not None:
            raise PayrollError(409, "CONFLICT", f"final pay {done} was already made for worker {worker_id}", field="workerId")
        raise PayrollError(404, "NOT_FOUND", f"no active payroll employee for worker {worker_id}", field="workerId")
    if last_day < employee["hire_date"]:
        raise _invalid(f"last day {last_day.isoformat()} is before the hire date {employee['hire_date'].isoformat()}", "lastDay")
    if leave_units < 0:
        raise _invalid("unused leave cannot be negative", "leaveUnits")
    final = paycalc.final_pay(
        employee["country"],
        employee["annual_salary"],
        hired=employee["hire_date"],
        last_day=last_day,
        leave_units=leave_units,
        location=employee["location"],
        filing_status=employee["w4_filing_status"],
    )
    final_id = uuid.uuid4().hex
    await conn.execute(
        "INSERT INTO payroll_final_pay (id, employee, kind, last_day, pay_date, currency, earnings, gross, deductions, total_deductions, net, leave_units,"
        " years_of_service, gratuity_eligible, cobra_notice_due, relieving_letter_date, documents, status, idempotency_key, created_by, ticket_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'Calculated', $18, $19, $20)",
        final_id,
        employee["id"],
        "Final Paycheck" if employee["country"] == "US" else "Full and Final Settlement",
        last_day,
        final.pay_date,
        employee["currency"],
        json.dumps({k: str(v) for k, v in final.pay.earnings.items()}),
        final.pay.gross,
        json.dumps({k: str(v) for k, v in final.pay.deductions.items()}),
        final.pay.total_deductions,
        final.pay.net,
        leave_units,
        final.years_of_service,
        final.gratuity_eligible,
        final.cobra_notice_due,
        final.relieving_letter_date,
        final.documents,
        idempotency_key,
        caller.coworker,
        ticket_id,
    )
    await conn.execute("UPDATE payroll_employees SET status = 'Terminated' WHERE id = $1", employee["id"])
    row = await conn.fetchrow(f"{_FINAL} WHERE id = $1", final_id)
    assert row is not None
    return _final(row)


class PayrollSandbox(SandboxConnector):
    """The payroll connector over the sandbox, in the step's transaction, as the coworker its token names."""

    authenticate = staticmethod(authenticate)

    async def enrol(
        self,
        *,
        worker_id: str,
        employee_id: str,
        name: str,
        country: str,
        location: str,
        hire_date: date,
        annual_salary: Decimal,
        currency: str,
        w4_filing_status: str | None = None,
        pan: str | None = None,
        uan: str | None = None,
        idempotency_key: str,
        ticket_id: str,
    ) -> Enrolment:
        return await enrol(
            self.conn,
            await self.caller(),
            worker_id=worker_id,
            employee_id=employee_id,
            name=name,
            country=country,
            location=location,
            hire_date=hire_date,
            annual_salary=annual_salary,
            currency=currency,
            w4_filing_status=w4_filing_status,
            pan=pan,
            uan=uan,
            idempotency_key=idempotency_key,
            ticket_id=ticket_id,
        )

    async def payslips(self, worker_id: str, *, limit: int = 3) -> list[Payslip]:
        return await payslips(self.conn, await self.caller(), worker_id, limit=limit)

    async def create_final_pay(self, worker_id: str, *, last_day: date, leave_units: Decimal, idempotency_key: str, ticket_id: str) -> FinalPay:
        return await create_final_pay(self.conn, await self.caller(), worker_id, last_day=last_day, leave_units=leave_units, idempotency_key=idempotency_key, ticket_id=ticket_id)
