"""The payroll connector interface: what steps may ask of payroll. ``PayrollSandbox``
(services/skills/sandbox/payroll.py) speaks it over PostgreSQL; a real client would speak it over
the payroll provider's API. Errors are ``ApiError``s with the provider's codes: 400
VALIDATION_ERROR (with the field), 404 NOT_FOUND, 409 CONFLICT, 403 FORBIDDEN, 401 UNAUTHORIZED."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Protocol

from services.skills.sandbox.payroll import Enrolment, FinalPay, Payslip


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
