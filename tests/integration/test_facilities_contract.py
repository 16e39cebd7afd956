"""The access control system's documented response shapes (tests/fixtures/vendors/facilities,
written from the API we define in deploy/sandbox/api/facilities.py) hold both ends together: the
client reads each documented body and sends what the API documents (a bearer token, an
Idempotency-Key on every POST, none on the DELETE), and the simulator answers with every documented
key, of the documented type, and no other."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiohttp import web

from services.skills.connectors.facilities import FacilitiesError
from services.skills.connectors.facilities_http import FacilitiesHttp
from tests.vendor_shapes import differences, documented, serving

ALL = ["badges.read", "badges.create", "badges.update", "badges.suspend"]
ANA = "ana.silva@acme.example"


def doc(name: str) -> Any:
    return documented("facilities", name)


class DocumentedAccessControl:
    """An access control system answering with the documented examples, recording what it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, str]]] = []
        self.routes = {
            ("GET", f"/v1/cardholders/{ANA}"): "cardholder",
            ("GET", f"/v1/cardholders/{ANA}/badges"): "cardholder_badges",
            ("GET", "/v1/badges/4821937"): "badge",
            ("POST", "/v1/badges"): "issue_badge",
            ("POST", "/v1/badges/7305512/zones"): "add_zone",
            ("POST", "/v1/badges/4821937/suspend"): "suspend_badge",
        }

    async def answer(self, request: web.Request) -> web.Response:
        self.sent.append((request.method, request.path, dict(request.headers)))
        name = self.routes.get((request.method, request.path))
        if name == "issue_badge" and (await request.json())["holder"] == "ana.silva":
            return web.json_response(doc("errors")["409"], status=409)
        if name is None:
            return web.json_response(doc("errors")["404"], status=404)
        return web.json_response(doc(name)["body"], status=doc(name)["status"])


async def test_the_client_reads_the_documented_bodies() -> None:
    fake = DocumentedAccessControl()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.answer)
    async with serving(app) as url, httpx.AsyncClient() as http:
        api = FacilitiesHttp(url, "token-1", http)
        ana = await api.get_cardholder(ANA)
        assert (ana.id, ana.login, ana.name, ana.home_site, ana.status, ana.clearance) == ("CH-3F9A01BC", ANA, "Ana Silva", "HQ", "active", False)
        badge = await api.current_badge(ANA)
        assert badge is not None and (badge.id, badge.holder_id, badge.status, badge.zones) == ("4821937", "CH-3F9A01BC", "active", ("HQ-L1", "HQ-L3", "HQ-PARK"))
        assert badge.issued_at == datetime(2022, 9, 14, 8, 30, tzinfo=UTC)
        assert (await api.get_badge("4821937")).status == "suspended"
        issued = await api.issue_badge("jane.lee", idempotency_key="k-1", ticket_id="T-1")
        assert (issued.badge_id, issued.operation, issued.status, issued.zones, issued.changed) == ("7305512", "issue", "active", (), True)
        zone = await api.add_zone("7305512", "HQ-L2", idempotency_key="k-2", ticket_id="T-1")
        assert (zone.zones, zone.changed) == (("HQ-L1", "HQ-L2"), False)
        suspended = await api.suspend_badge("4821937", reason="leaver", idempotency_key="k-3", ticket_id="T-2")
        assert (suspended.operation, suspended.status, suspended.changed) == ("suspend", "suspended", True)
        with pytest.raises(FacilitiesError) as exists:
            await api.issue_badge("ana.silva", idempotency_key="k-4", ticket_id="T-3")
        assert (exists.value.status, exists.value.code) == (409, "badge_exists") and "4821937" in exists.value.summary
        with pytest.raises(FacilitiesError) as missing:
            await api.get_badge("0000000")
        assert (missing.value.status, missing.value.code) == (404, "badge_not_found")
    assert all(headers.get("Authorization") == "Bearer token-1" for _, _, headers in fake.sent)
    assert [headers.get("Idempotency-Key") for method, _, headers in fake.sent if method == "POST"] == ["k-1", "k-2", "k-3", "k-4"]


async def test_the_simulator_answers_in_the_documented_shapes(simulator: Any) -> None:
    token = await simulator.token("facilities", "onboarding-manager", ALL)
    pool = simulator.database.pool
    holder = await pool.fetchval(
        "SELECT c.login FROM facilities_cardholders c JOIN facilities_badges b ON b.holder_id = c.id AND b.status = 'active'"
        " WHERE EXISTS (SELECT 1 FROM facilities_badge_zones z WHERE z.badge_id = b.id) ORDER BY c.login LIMIT 1"
    )
    async with httpx.AsyncClient(base_url=simulator.urls()["facilities"], headers={"Authorization": f"Bearer {token}"}) as http:
        badges = (await http.get(f"/v1/cardholders/{holder}/badges")).json()
        badge_id = badges["data"][0]["id"]
        issued = await http.post("/v1/badges", json={"holder": "jane.lee"}, headers={"Idempotency-Key": "k-1"})
        new = issued.json()["badgeId"]
        assert issued.headers["Location"] == f"/v1/badges/{new}"
        served = {
            "cardholder": await http.get(f"/v1/cardholders/{holder}"),
            "cardholder_badges": await http.get(f"/v1/cardholders/{holder}/badges"),
            "badge": await http.get(f"/v1/badges/{badge_id}"),
            "issue_badge": issued,
            "add_zone": await http.post(f"/v1/badges/{new}/zones", json={"zone": "HQ-L2"}),
            "suspend_badge": await http.post(f"/v1/badges/{badge_id}/suspend", json={"reason": "leaver"}),
        }
        refusals = {
            400: await http.post(f"/v1/badges/{new}/zones", json={"zone": "HQ-L9"}),
            401: await http.get(f"/v1/badges/{badge_id}", headers={"Authorization": "Bearer revoked-or-never-issued"}),
            403: await http.post(f"/v1/badges/{new}/suspend", json={"reason": "x"}, headers={"Authorization": f"Bearer {await simulator.token('facilities', 'reader', ['badges.read'])}"}),
            404: await http.get("/v1/badges/0000000"),
            409: await http.post("/v1/badges", json={"holder": "jane.lee"}),
            422: await http.post("/v1/badges", json={"holder": holder}, headers={"Idempotency-Key": "k-1"}),
        }
    for name, response in served.items():
        example = doc(name)
        assert response.status_code == example["status"], (name, response.text)
        assert differences(response.json(), example["body"]) == [], name
    for status, response in refusals.items():
        example = doc("errors")[str(status)]
        assert response.status_code == status, (status, response.text)
        assert differences(response.json(), example) == [] and response.json()["error"]["code"] == example["error"]["code"], status
    assert refusals[401].headers.get("WWW-Authenticate", "").startswith("Bearer")
