"""The payroll connector interface: what steps may ask of payroll. ``PayrollHttp``
(``payroll_http.py``) speaks it over the payroll provider's REST API, to the simulator
(deploy/sandbox/api/payroll.py) or a real provider alike. Errors are ``PayrollError``s with the
provider's codes: 400 VALIDATION_ERROR (with the field), 404 NOT_FOUND, 409 CONFLICT, 403 FORBIDDEN,
401 UNAUTHORIZED."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from runtime.vendor.errors import ApiError

#: A W-4's filing statuses, as payroll takes them (``w4.filingStatus``).
FILING_STATUSES = ("single", "married_filing_jointly", "head_of_household")

#: Ten characters: five letters, four digits, a letter; the fourth letter is the holder's type (P: a person).
PAN_FORMAT = re.compile(r"^[A-Z]{5}[0-9]{4}[A-Z]$")


class PayrollError(ApiError):
    """An error as the payroll API reports it (``{"error": {"code", "message", "field"}}``): ``field``
    names the request field at fault (``pan``, ``workerId``...), which the skills tell apart."""

    def __init__(self, status: int, code: str, summary: str, *, field: str | None = None) -> None:
        super().__init__(status, code, summary)
        self.field = field
        self.body: dict[str, Any] = {"code": code, "message": summary, **({"field": field} if field else {})}


def pan_problem(pan: str) -> str | None:
    """Why ``pan`` is not an individual's PAN, or None when it is one (the format, not the register)."""
    if not PAN_FORMAT.match(pan):
        return "a PAN is 10 characters: five letters, four digits and a letter (AAAAA9999A)"
    if pan[3] != "P":
        return f"the fourth character of an individual's PAN is P (this one is {pan[3]}: not a person's PAN)"
    return None


def mask_pan(pan: str | None) -> str | None:
    """``XXXXXX234F``: enough to recognise a PAN, not enough to use it."""
    return None if pan is None else "X" * 6 + pan[-4:]


def normalise_pan(value: str) -> str:
    return re.sub(r"[\s-]", "", value).upper()


@dataclass(frozen=True)
class Enrolment:
    id: str
    worker_id: str
    employee_id: str
    country: str
    currency: str
    status: str
    hire_date: date
    w4_filing_status: str | None
    w4_furnished: bool | None
    i9_status: str | None
    i9_section2_due: date | None
    pan_masked: str | None
    uan: str | None
    pf_member: bool | None


@dataclass(frozen=True)
class Payslip:
    id: str
    period: date
    pay_date: date
    currency: str
    gross: Decimal
    deductions: dict[str, Decimal]
    total_deductions: Decimal
    net: Decimal


@dataclass(frozen=True)
class FinalPay:
    id: str
    employee: str
    kind: str  # Final Paycheck | Full and Final Settlement
    last_day: date
    pay_date: date
    currency: str
    earnings: dict[str, Decimal]
    gross: Decimal
    total_deductions: Decimal
    net: Decimal
    years_of_service: int
    gratuity_eligible: bool
    cobra_notice_due: date | None
    relieving_letter_date: date | None
    documents: list[str]
    status: str


class Payroll(Protocol):
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
    ) -> Enrolment: ...

    async def payslips(self, worker_id: str, *, limit: int = 3) -> list[Payslip]: ...

    async def create_final_pay(self, worker_id: str, *, last_day: date, leave_units: Decimal, idempotency_key: str, ticket_id: str) -> FinalPay: ...
