"""The payroll client against the payroll simulator over HTTP, as the HR skills meet it: a hire is
enrolled once however often the step is delivered, a leaver's final pay is made once and is what
payroll calculated, payslips read back newest first, and payroll's refusals (a bad or revoked
token, a missing scope, someone it does not pay, a malformed PAN, a rate limit) arrive as
``PayrollError``s a skill can tell apart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from deploy.sandbox import hr_org
from deploy.sandbox.payroll import PayrollSandbox
from runtime.vendor.errors import ApiError
from services.skills.connectors.payroll import PayrollError
from services.skills.connectors.payroll_http import PayrollHttp

COUNT = 120  # the simulator fixture's people
ALL = ["payslips.read", "enrolments.create", "final_pay.create"]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
async def payroll(simulator: Any, http: httpx.AsyncClient) -> PayrollHttp:
    return PayrollHttp(simulator.urls()["payroll"], await simulator.token("payroll", "hr-agent", ALL), http)


def _meera(**changes: Any) -> dict[str, Any]:
    meera = hr_org.person("meera.krishnan", COUNT)
    return {
        "worker_id": meera.wid,
        "employee_id": "300001",
        "name": "Meera Krishnan",
        "country": "IN",
        "location": meera.location,
        "hire_date": meera.hire_date,
        "annual_salary": meera.annual_salary,
        "currency": "INR",
        "pan": "ABCPK1234D",
        "idempotency_key": "T-1:hr-onboarding:4",
        "ticket_id": "T-1",
    } | changes


async def _count(simulator: Any, sql: str, *args: Any) -> int:
    return await simulator.database.pool.fetchval(sql, *args)


async def test_a_hire_in_india_is_enrolled_once_however_often_the_step_is_delivered(simulator: Any, payroll: PayrollHttp) -> None:
    first = await payroll.enrol(**_meera())
    again = await payroll.enrol(**_meera())
    assert again == first
    assert (first.country, first.currency, first.status, first.pan_masked, first.pf_member) == ("IN", "INR", "Active", "XXXXXX234D", True)
    assert first.uan is not None and len(first.uan) == 12 and first.w4_filing_status is None
    assert await _count(simulator, "SELECT count(*) FROM payroll_employees WHERE worker_id = $1", first.worker_id) == 1
    with pytest.raises(PayrollError) as reused:  # the key is bound to the request it first answered
        await payroll.enrol(**_meera(employee_id="300002"))
    assert (reused.value.status, reused.value.code) == (422, "idempotency_key_reused")
    with pytest.raises(PayrollError) as second:  # a new key for the same hire: payroll refuses, never enrols twice
        await payroll.enrol(**_meera(idempotency_key="T-2:hr-onboarding:4", ticket_id="T-2"))
    assert (second.value.status, second.value.code, second.value.field) == (409, "CONFLICT", "workerId")
    assert await _count(simulator, "SELECT count(*) FROM payroll_employees WHERE worker_id = $1", first.worker_id) == 1


async def test_a_us_hire_gets_the_w4_they_furnished_and_an_i9_deadline(payroll: PayrollHttp) -> None:
    jane = hr_org.person("jane.lee", COUNT)
    enrolled = await payroll.enrol(
        worker_id=jane.wid, employee_id="100900", name="Jane Lee", country="US", location=jane.location, hire_date=jane.hire_date,
        annual_salary=jane.annual_salary, currency="USD", w4_filing_status="married_filing_jointly", idempotency_key="T-3:hr-onboarding:4", ticket_id="T-3",
    )
    assert (enrolled.w4_filing_status, enrolled.w4_furnished, enrolled.pan_masked) == ("married_filing_jointly", True, None)
    assert enrolled.i9_section2_due is not None and enrolled.i9_section2_due > jane.hire_date


async def test_a_malformed_pan_is_refused_naming_the_field_and_never_echoed(payroll: PayrollHttp) -> None:
    with pytest.raises(PayrollError) as refused:
        await payroll.enrol(**_meera(pan="ABCDE1234F"))
    assert (refused.value.status, refused.value.code, refused.value.field) == (400, "VALIDATION_ERROR", "pan")
    assert "ABCDE1234F" not in refused.value.summary and "XXXXXX234F" in refused.value.summary


async def test_payslips_read_back_newest_first_and_add_up(payroll: PayrollHttp) -> None:
    ana = hr_org.person("ana.silva", COUNT)
    slips = await payroll.payslips(ana.wid, limit=2)
    assert len(slips) == 2 and slips[0].period > slips[1].period
    for slip in slips:
        assert slip.currency == ana.currency and slip.gross - slip.total_deductions == slip.net
        assert sum(slip.deductions.values()) == slip.total_deductions
    with pytest.raises(PayrollError) as nobody:
        await payroll.payslips("0" * 32)
    assert (nobody.value.status, nobody.value.code) == (404, "NOT_FOUND")


async def test_final_pay_is_made_once_and_is_what_payroll_calculated(simulator: Any, payroll: PayrollHttp) -> None:
    diya = hr_org.person("diya.bose", COUNT)
    last = date.today() + timedelta(days=20)
    ask = {"last_day": last, "leave_units": Decimal(28), "idempotency_key": "T-5:hr-offboarding:3", "ticket_id": "T-5"}
    final = await payroll.create_final_pay(diya.wid, **ask)
    assert await payroll.create_final_pay(diya.wid, **ask) == final
    assert await _count(simulator, "SELECT count(*) FROM payroll_final_pay f JOIN payroll_employees e ON e.id = f.employee WHERE e.worker_id = $1", diya.wid) == 1
    async with simulator.database.pool.acquire() as conn:  # the state logic's own answer for that key
        token = await simulator.token("payroll", "hr-agent", ALL)
        assert await PayrollSandbox(conn, token).create_final_pay(diya.wid, **ask) == final
    assert (final.kind, final.gratuity_eligible, final.relieving_letter_date) == ("Full and Final Settlement", True, last)
    assert final.gross == sum(final.earnings.values()) and final.gross - final.total_deductions == final.net
    with pytest.raises(PayrollError) as twice:
        await payroll.create_final_pay(diya.wid, **(ask | {"idempotency_key": "T-6:hr-offboarding:3"}))
    assert (twice.value.status, twice.value.code) == (409, "CONFLICT")
    with pytest.raises(PayrollError) as unpaid:
        await payroll.create_final_pay(hr_org.wid("jane.lee"), **(ask | {"idempotency_key": "T-7:hr-offboarding:3"}))
    assert (unpaid.value.status, unpaid.value.code) == (404, "NOT_FOUND")


async def test_a_bad_or_revoked_token_is_payrolls_401(simulator: Any, http: httpx.AsyncClient) -> None:
    ana = hr_org.person("ana.silva", COUNT)
    with pytest.raises(PayrollError) as bad:
        await PayrollHttp(simulator.urls()["payroll"], "not-a-token", http).payslips(ana.wid)
    assert (bad.value.status, bad.value.code, bad.value.transient) == (401, "UNAUTHORIZED", False)
    token = await simulator.token("payroll", "leaver-bot", ["payslips.read"])
    client = PayrollHttp(simulator.urls()["payroll"], token, http)
    assert await client.payslips(ana.wid, limit=1)
    async with simulator.admin as admin:
        (await admin.post("/tokens/revoke", json={"coworker": "leaver-bot"})).raise_for_status()
    with pytest.raises(PayrollError) as revoked:
        await client.payslips(ana.wid, limit=1)
    assert (revoked.value.status, revoked.value.code) == (401, "UNAUTHORIZED")


async def test_a_token_without_the_scope_is_refused_and_nothing_is_paid(simulator: Any, http: httpx.AsyncClient) -> None:
    diya = hr_org.person("diya.bose", COUNT)
    reader = PayrollHttp(simulator.urls()["payroll"], await simulator.token("payroll", "reader", ["payslips.read"]), http)
    with pytest.raises(PayrollError) as refused:
        await reader.create_final_pay(diya.wid, last_day=date.today(), leave_units=Decimal(0), idempotency_key="k", ticket_id="T-8")
    assert (refused.value.status, refused.value.code) == (403, "FORBIDDEN") and "final_pay.create" in refused.value.summary
    assert await _count(simulator, "SELECT count(*) FROM payroll_final_pay") == 0


async def test_a_rate_limit_arrives_as_a_transient_error_with_the_wait(simulator: Any, payroll: PayrollHttp) -> None:
    await simulator.hook("faults", system="payroll", status=429, retry_after=2)
    with pytest.raises(ApiError) as limited:
        await payroll.payslips(hr_org.wid("ana.silva"))
    assert limited.value.status == 429 and limited.value.transient
    assert limited.value.retry_after is not None and 1 <= limited.value.retry_after <= 2
