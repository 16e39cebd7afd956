"""Payroll's documented response shapes (tests/fixtures/vendors/payroll, written from the API we
define in deploy/sandbox/api/payroll.py) hold both ends together: the client reads each documented
body and sends what the API documents (a bearer token, an Idempotency-Key on every POST, money as
decimal strings), and the simulator answers with every documented key, of the documented type, and
no other, so neither end can drift from the documentation."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiohttp import web

from deploy.sandbox import hr_org
from services.skills.connectors.payroll import PayrollError
from services.skills.connectors.payroll_http import PayrollHttp
from tests.vendor_shapes import differences, documented, serving

COUNT = 120
MAPS = frozenset({"deductions", "earnings"})
ALL = ["payslips.read", "enrolments.create", "final_pay.create"]


def doc(name: str) -> Any:
    return documented("payroll", name)


class DocumentedPayroll:
    """A payroll provider that answers with the documented examples and records what it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, str], Any]] = []

    async def answer(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.sent.append((request.method, request.path, dict(request.headers), body))
        if request.path == "/v1/employees":
            if body.get("pan") == "ABCDE1234F":
                return web.json_response(doc("errors")["400"], status=400)
            if body.get("pan") == "ABCPK1234D" and body.get("employeeId") == "300099":
                return web.json_response(doc("errors")["409"], status=409)
            example = doc("enrol_us" if body["country"] == "US" else "enrol_in")
        elif request.path == "/v1/payslips":
            example = doc("payslips")
        elif request.path == "/v1/final-pays":
            example = doc("final_pay_us" if body["workerId"] == "us-leaver" else "final_pay_in")
        else:
            return web.json_response(doc("errors")["404"], status=404)
        return web.json_response(example["body"], status=example["status"])


async def test_the_client_reads_payrolls_documented_bodies() -> None:
    fake = DocumentedPayroll()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.answer)
    async with serving(app) as url, httpx.AsyncClient() as http:
        api = PayrollHttp(url, "token-1", http)
        us = await api.enrol(
            worker_id="w", employee_id="100245", name="Jane Lee", country="US", location="Austin", hire_date=date(2025, 3, 3),
            annual_salary=Decimal("98000.00"), currency="USD", w4_filing_status="married_filing_jointly", idempotency_key="k-1", ticket_id="T-1",
        )
        assert (us.id, us.w4_filing_status, us.w4_furnished, us.i9_section2_due, us.pan_masked) == ("PR-US-100245", "married_filing_jointly", True, date(2025, 3, 6), None)
        india = await api.enrol(
            worker_id="w", employee_id="300001", name="Meera Krishnan", country="IN", location="Bengaluru", hire_date=date(2025, 3, 3),
            annual_salary=Decimal("1800000.00"), currency="INR", pan="ABCPK1234D", idempotency_key="k-2", ticket_id="T-2",
        )
        assert (india.pan_masked, india.uan, india.pf_member, india.w4_filing_status, india.i9_status) == ("XXXXXX234D", "101234567890", True, None, None)
        newest, older = await api.payslips("w", limit=2)
        assert (newest.period, older.period, newest.gross, newest.net) == (date(2025, 2, 1), date(2025, 1, 1), Decimal("8750.00"), Decimal("6286.87"))
        assert newest.deductions["Medicare"] == Decimal("126.88") and sum(newest.deductions.values()) == newest.total_deductions
        settled = await api.create_final_pay("in-leaver", last_day=date(2025, 4, 30), leave_units=Decimal(28), idempotency_key="k-3", ticket_id="T-3")
        assert (settled.kind, settled.gratuity_eligible, settled.relieving_letter_date, settled.cobra_notice_due) == ("Full and Final Settlement", True, date(2025, 4, 30), None)
        assert settled.earnings["Gratuity"] == Decimal("519230.77") and settled.gross == sum(settled.earnings.values())
        paycheck = await api.create_final_pay("us-leaver", last_day=date(2025, 4, 30), leave_units=Decimal(80), idempotency_key="k-4", ticket_id="T-4")
        assert (paycheck.kind, paycheck.cobra_notice_due, paycheck.documents) == ("Final Paycheck", date(2025, 6, 13), ["Final pay statement", "COBRA election notice"])
        with pytest.raises(PayrollError) as invalid:
            await api.enrol(**_india(pan="ABCDE1234F"))
        assert (invalid.value.status, invalid.value.code, invalid.value.field) == (400, "VALIDATION_ERROR", "pan")
        with pytest.raises(PayrollError) as taken:
            await api.enrol(**_india(pan="ABCPK1234D", employee_id="300099"))
        assert (taken.value.status, taken.value.code, taken.value.field) == (409, "CONFLICT", "pan")
    posts = [(path, headers, body) for method, path, headers, body in fake.sent if method == "POST"]
    assert all(headers.get("Authorization") == "Bearer token-1" for _, headers, _ in posts)
    assert [headers.get("Idempotency-Key") for _, headers, _ in posts[:4]] == ["k-1", "k-2", "k-3", "k-4"]
    assert posts[0][2]["annualSalary"] == "98000.00" and posts[0][2]["w4"] == {"filingStatus": "married_filing_jointly"} and posts[0][2]["reference"] == "T-1"


def _india(**changes: Any) -> dict[str, Any]:
    return {
        "worker_id": "w", "employee_id": "300001", "name": "Meera Krishnan", "country": "IN", "location": "Bengaluru", "hire_date": date(2025, 3, 3),
        "annual_salary": Decimal("1800000.00"), "currency": "INR", "idempotency_key": "k-5", "ticket_id": "T-5",
    } | changes


async def test_the_simulator_answers_in_payrolls_documented_shapes(simulator: Any) -> None:
    base = simulator.urls()["payroll"]
    token = await simulator.token("payroll", "hr-agent", ALL)
    jane, meera, ana = (hr_org.person(login, COUNT) for login in ("jane.lee", "meera.krishnan", "ana.silva"))
    last = (date.today() + timedelta(days=20)).isoformat()
    calls = [
        ("enrol_us", "POST", "/v1/employees", {"workerId": jane.wid, "employeeId": "100900", "name": "Jane Lee", "country": "US", "location": jane.location, "hireDate": jane.hire_date.isoformat(), "annualSalary": str(jane.annual_salary), "currency": "USD", "w4": {"filingStatus": "single"}}),
        ("enrol_in", "POST", "/v1/employees", {"workerId": meera.wid, "employeeId": "300001", "name": "Meera Krishnan", "country": "IN", "location": meera.location, "hireDate": meera.hire_date.isoformat(), "annualSalary": str(meera.annual_salary), "currency": "INR", "pan": "ABCPK1234D"}),
        ("payslips", "GET", f"/v1/payslips?workerId={ana.wid}&limit=2", None),
        ("final_pay_in", "POST", "/v1/final-pays", {"workerId": hr_org.wid("diya.bose"), "lastDay": last, "leaveUnits": "28"}),
        ("final_pay_us", "POST", "/v1/final-pays", {"workerId": hr_org.wid("james.martinez"), "lastDay": last, "leaveUnits": "40"}),
    ]
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        for name, method, path, body in calls:
            served = await http.request(method, path, json=body)
            example = doc(name)
            assert served.status_code == example["status"], (name, served.text)
            assert differences(served.json(), example["body"], maps=MAPS) == [], name
            assert served.json().get("data", True), name  # a list example is checked against a non-empty list
        refusals = {
            400: await http.post("/v1/employees", json=calls[1][3] | {"pan": "ABCDE1234F"}),
            401: await http.get(f"/v1/payslips?workerId={ana.wid}", headers={"Authorization": "Bearer revoked-or-never-issued"}),
            403: await http.post("/v1/final-pays", json=calls[3][3], headers={"Authorization": f"Bearer {await simulator.token('payroll', 'reader', ['payslips.read'])}"}),
            404: await http.get("/v1/payslips?workerId=" + "0" * 32),
            409: await http.post("/v1/employees", json=calls[1][3]),  # meera is enrolled already
        }
        first = await http.post("/v1/final-pays", json={"workerId": hr_org.wid("jane.lee"), "lastDay": last, "leaveUnits": "0"}, headers={"Idempotency-Key": "k-422"})
        assert first.status_code == 201, first.text  # jane was enrolled above
        refusals[422] = await http.post("/v1/final-pays", json={"workerId": hr_org.wid("jane.lee"), "lastDay": last, "leaveUnits": "1"}, headers={"Idempotency-Key": "k-422"})
    for status, served in refusals.items():
        example = doc("errors")[str(status)]
        assert served.status_code == status, (status, served.text)
        assert differences(served.json(), example) == [], status
        assert (served.json()["error"]["code"], "field" in served.json()["error"]) == (example["error"]["code"], "field" in example["error"]), status
