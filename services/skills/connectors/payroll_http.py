"""The payroll connector over the payroll provider's REST API (the shape we define, documented in
``deploy/sandbox/api/payroll.py``): ``POST /v1/employees`` (enrol), ``GET /v1/payslips?workerId=``,
``POST /v1/final-pays``, with ``Authorization: Bearer <token>``. Money travels as decimal strings,
dates as ISO 8601. The provider's errors (``{"error": {"code", "message", "field"}}``) become
``PayrollError``s with its code and the field at fault (the onboarding skill tells a PAN that is
someone else's from a second enrolment by it); a 429's ``Retry-After`` is ``retry_after``.

Both writes are made safe to repeat by the provider's own idempotency: each POST carries the step's
idempotency key as ``Idempotency-Key``, and the provider answers a repeat of the same request with
its first answer instead of acting again (Stripe's semantics; kept 30 days). So a redelivery, or a
retry after we crashed between the provider's answer and our outcome record, gets the same
enrolment or the same final pay. The key is bound to the request: the client sends exactly the same
body each time (the ticket as ``reference``), so a retry is never refused as a different request.
After the key is forgotten, the writes are still refused rather than repeated: a worker already
enrolled, or whose final pay was made, is a 409 ``CONFLICT``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from runtime.vendor.http import VendorHttp
from services.skills.connectors.payroll import Enrolment, FinalPay, PayrollError, Payslip


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _amounts(values: dict[str, Any] | None) -> dict[str, Decimal]:
    return {name: Decimal(str(amount)) for name, amount in (values or {}).items()}


def enrolment_from(body: dict[str, Any]) -> Enrolment:
    w4, i9 = body.get("w4") or {}, body.get("i9") or {}
    return Enrolment(
        id=body["id"],
        worker_id=body["workerId"],
        employee_id=body["employeeId"],
        country=body["country"],
        currency=body["currency"],
        status=body["status"],
        hire_date=date.fromisoformat(body["hireDate"]),
        w4_filing_status=w4.get("filingStatus"),
        w4_furnished=w4.get("furnished"),
        i9_status=i9.get("status"),
        i9_section2_due=_day(i9.get("section2Due")),
        pan_masked=body.get("panMasked"),
        uan=body.get("uan"),
        pf_member=body.get("pfMember"),
    )


def payslip_from(body: dict[str, Any]) -> Payslip:
    return Payslip(
        id=body["id"],
        period=date.fromisoformat(body["period"]),
        pay_date=date.fromisoformat(body["payDate"]),
        currency=body["currency"],
        gross=Decimal(str(body["gross"])),
        deductions=_amounts(body.get("deductions")),
        total_deductions=Decimal(str(body["totalDeductions"])),
        net=Decimal(str(body["net"])),
    )


def final_pay_from(body: dict[str, Any]) -> FinalPay:
    return FinalPay(
        id=body["id"],
        employee=body["employeeId"],
        kind=body["kind"],
        last_day=date.fromisoformat(body["lastDay"]),
        pay_date=date.fromisoformat(body["payDate"]),
        currency=body["currency"],
        earnings=_amounts(body.get("earnings")),
        gross=Decimal(str(body["gross"])),
        total_deductions=Decimal(str(body["totalDeductions"])),
        net=Decimal(str(body["net"])),
        years_of_service=int(body["yearsOfService"]),
        gratuity_eligible=bool(body["gratuityEligible"]),
        cobra_notice_due=_day(body.get("cobraNoticeDue")),
        relieving_letter_date=_day(body.get("relievingLetterDate")),
        documents=list(body.get("documents") or []),
        status=body["status"],
    )


class PayrollHttp(VendorHttp):
    """The payroll connector over HTTP, as the coworker whose API token it holds."""

    system = "payroll"

    def error_from(self, response: httpx.Response) -> PayrollError:
        """The provider's error body, or what a proxy answered instead, as a ``PayrollError``."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or f"HTTP{response.status_code}")
        message = str(error.get("message") or response.reason_phrase or "error")
        return PayrollError(response.status_code, code, message[:500], field=error.get("field"))

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
        body: dict[str, Any] = {
            "workerId": worker_id,
            "employeeId": employee_id,
            "name": name,
            "country": country,
            "location": location,
            "hireDate": hire_date.isoformat(),
            "annualSalary": str(annual_salary),
            "currency": currency,
            "reference": ticket_id,
        }
        if w4_filing_status is not None:
            body["w4"] = {"filingStatus": w4_filing_status}
        if pan is not None:
            body["pan"] = pan
        if uan is not None:
            body["uan"] = uan
        response = await self.call("POST", "/v1/employees", json=body, headers={"Idempotency-Key": idempotency_key})
        return enrolment_from(response.json())

    async def payslips(self, worker_id: str, *, limit: int = 3) -> list[Payslip]:
        response = await self.call("GET", "/v1/payslips", params={"workerId": worker_id, "limit": limit})
        return [payslip_from(item) for item in response.json().get("data", [])]

    async def create_final_pay(self, worker_id: str, *, last_day: date, leave_units: Decimal, idempotency_key: str, ticket_id: str) -> FinalPay:
        body = {"workerId": worker_id, "lastDay": last_day.isoformat(), "leaveUnits": str(leave_units), "reference": ticket_id}
        response = await self.call("POST", "/v1/final-pays", json=body, headers={"Idempotency-Key": idempotency_key})
        return final_pay_from(response.json())
