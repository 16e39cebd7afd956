"""Workday's documented response shapes (tests/fixtures/vendors/workday, written from the public
REST API reference) hold both ends together: the client reads each documented body, and the
simulator answers with every documented key, of the documented type, so it cannot drift from the docs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from deploy.sandbox import hr_org
from services.skills.connectors.workday_http import WorkdayError, WorkdayHttp

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "workday"
BASE = "/ccx/api"
LOGAN = "3aa5550b7fe348b98d7b5741afc65534"
EVENT = "5e7a9c1e3a5c7e9a1c3e5a7c9e1a3c5e"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
async def documented() -> AsyncIterator[str]:
    """A tenant that answers each call with the documented example body."""
    routes = {
        f"{BASE}/staffing/v6/acme/workers": ("workers", 200),
        f"{BASE}/absenceManagement/v1/acme/balances": ("balances", 200),
        f"{BASE}/absenceManagement/v1/acme/workers/{LOGAN}/eligibleAbsenceTypes": ("eligible_absence_types", 200),
        f"{BASE}/absenceManagement/v1/acme/workers/{LOGAN}/timeOffDetails": ("time_off_details", 200),
        f"{BASE}/businessProcess/v1/acme/events/{EVENT}": ("event", 200),
        f"{BASE}/businessProcess/v1/acme/events/{EVENT}/inProgressSteps": ("in_progress_steps", 200),
        f"{BASE}/absenceManagement/v1/acme/workers/{LOGAN}/requestTimeOff": ("error_400", 400),
    }

    async def answer(request: web.Request) -> web.Response:
        name, status = routes.get(request.path, ("", 404))
        return web.json_response(fixture(name) if name else {"error": "Resource not found."}, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_the_client_reads_workdays_documented_bodies(documented: str) -> None:
    async with httpx.AsyncClient() as http:
        api = WorkdayHttp(documented, "token", http)
        [logan] = await api.find_workers("Logan")
        assert (logan.id, logan.employee_id, logan.email, logan.name, logan.country) == (LOGAN, "21001", "lmcneil@workday.net", "Logan McNeil", "US")
        assert (logan.department, logan.job_title, logan.location) == ("Human Resources", "Vice President, Human Resources", "San Francisco")
        [vacation] = await api.get_balances(LOGAN)
        assert (vacation.plan, vacation.unit, vacation.daily_quantity, vacation.balance, vacation.scheduled, vacation.available) == ("Vacation", "Hours", 8, 56, 16, 40)
        [request] = await api.list_time_off(LOGAN)
        assert (request.start_date, request.end_date, request.quantity, request.status) == (date(2024, 7, 1), date(2024, 7, 2), Decimal(16), "Submitted")
        with pytest.raises(WorkdayError) as refused:
            await api.request_time_off(LOGAN, "Vacation", date(2024, 7, 1), date(2024, 7, 1), idempotency_key="k", ticket_id="T-1")
        assert (refused.value.status, refused.value.code, refused.value.body["errors"][0]["field"]) == (400, "A1011", "days")


def same_shape(documented: Any, served: Any, where: str = "$") -> list[str]:
    """Where ``served`` lacks a documented key or holds another type (numbers are numbers)."""
    if isinstance(documented, dict):
        if not isinstance(served, dict):
            return [f"{where}: {type(served).__name__}, documented object"]
        return [p for k, v in documented.items() for p in (same_shape(v, served[k], f"{where}.{k}") if k in served else [f"{where}.{k}: missing"])]
    if isinstance(documented, list):
        if not isinstance(served, list) or (documented and not served):
            return [f"{where}: {served!r}, documented a non-empty list"]
        return [p for item in served for p in same_shape(documented[0], item, f"{where}[]")] if documented else []
    number = (int, float)
    if isinstance(documented, bool) or not isinstance(documented, number):
        return [] if type(served) is type(documented) else [f"{where}: {type(served).__name__}, documented {type(documented).__name__}"]
    return [] if isinstance(served, number) and not isinstance(served, bool) else [f"{where}: {type(served).__name__}, documented a number"]


async def test_the_simulator_answers_with_every_documented_key(simulator: Any) -> None:
    ana, start = hr_org.wid("ana.silva"), date.today() + timedelta(days=14 - date.today().weekday())
    token = await simulator.token("workday", "hr-bot", ["workers.read", "time_off.read", "time_off.request"])
    root = simulator.urls()["workday"] + BASE
    async with httpx.AsyncClient(base_url=root, headers={"Authorization": f"Bearer {token}"}) as http:
        created = await http.post(f"/absenceManagement/v1/acme/workers/{ana}/requestTimeOff", json={
            "days": [{"date": (start + timedelta(days=i)).isoformat(), "dailyQuantity": 8, "timeOffType": {"id": (await http.get(f"/absenceManagement/v1/acme/workers/{ana}/eligibleAbsenceTypes")).json()["data"][0]["id"]}, "comment": "Family trip"} for i in range(2)],
            "businessProcessParameters": {"action": {"id": "d9e4223e446c11de98360015c5e6daf6"}}})
        assert created.status_code == 201
        event = created.json()["businessProcessParameters"]["overallBusinessProcess"]["id"]
        served = {
            "workers": await http.get("/staffing/v6/acme/workers", params={"search": "Ana Silva"}),
            "balances": await http.get("/absenceManagement/v1/acme/balances", params={"worker": ana}),
            "eligible_absence_types": await http.get(f"/absenceManagement/v1/acme/workers/{ana}/eligibleAbsenceTypes"),
            "time_off_details": await http.get(f"/absenceManagement/v1/acme/workers/{ana}/timeOffDetails"),
            "event": await http.get(f"/businessProcess/v1/acme/events/{event}"),
            "in_progress_steps": await http.get(f"/businessProcess/v1/acme/events/{event}/inProgressSteps"),
            "error_400": await http.post(f"/absenceManagement/v1/acme/workers/{ana}/requestTimeOff", json={"days": created.json()["days"]}),
        }
    served["request_time_off"] = created
    for name, response in served.items():
        assert response.status_code == (400 if name == "error_400" else 201 if name == "request_time_off" else 200), name
        assert same_shape(fixture(name), response.json()) == [], name
