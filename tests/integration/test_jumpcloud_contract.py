"""JumpCloud's documented response shapes (tests/fixtures/vendors/jumpcloud, written from the API
reference's examples) against both sides: the connector reads each as a real JumpCloud answers it,
and the simulator answers with the documented keys, of the documented types, so it cannot drift."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from services.skills.connectors.jumpcloud import JumpCloudError
from services.skills.connectors.jumpcloud_http import JumpCloudHttp

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "jumpcloud"
KEY = "jc-documented-key"
SYSTEM = "5c9e51a13c5146f89bae12d9"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
async def documented() -> AsyncIterator[tuple[str, list[tuple[str, str, Any]]]]:
    """A JumpCloud that answers each call with its documented example (and records what it was sent)."""
    seen: list[tuple[str, str, Any]] = []
    tables = {"system_info", "uptime", "battery", "mounts", "apps"}

    async def answer(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        seen.append((request.method, request.path, body))
        if request.headers.get("x-api-key") != KEY:
            return web.json_response(fixture("error_401"), status=401)
        path = request.path
        if path == "/api/systemusers":
            return web.json_response(fixture("systemusers_list"))
        if path.endswith("/systems") and path.startswith("/api/v2/users/"):
            return web.json_response(fixture("user_systems"))
        if path == f"/api/systems/{SYSTEM}":
            return web.json_response(fixture("system"))
        if path.startswith("/api/v2/systeminsights/"):
            table = path.rsplit("/", 1)[-1]
            return web.json_response(fixture(f"systeminsights_{table}") if table in tables else [])
        if path == "/api/commands" and request.method == "GET":
            return web.json_response(fixture("commands_list"))
        if path == "/api/commands":
            return web.json_response(fixture("command") | {"name": body["name"], "command": body["command"]})
        if path == "/api/runCommand":
            return web.json_response(fixture("run_command"))
        if path.endswith("/results"):
            return web.json_response(fixture("command_results"))
        return web.json_response({"code": 404, "message": "Not Found", "status": "Not Found"}, status=404)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    await runner.cleanup()


async def test_the_connector_reads_jumpclouds_documented_answers(documented) -> None:  # noqa: ANN001
    url, seen = documented
    async with httpx.AsyncClient() as client:
        jc = JumpCloudHttp(url, KEY, client)
        [laptop] = await jc.systems_of("jdoe@example.com")
        assert (laptop.id, laptop.os, laptop.os_version, laptop.active, laptop.fde_active) == (SYSTEM, "Mac OS X", "14.4.1", True, True)
        health = await jc.health(SYSTEM)
        assert (health.memory_total_gb, health.uptime_days, health.battery_cycles, health.battery_health_pct) == (16, 3.25, 212, 90.0)
        assert health.disk_total_gb == 466 and health.disk_free_gb == pytest.approx(155.2, abs=0.1)
        assert [a.name for a in health.apps] == ["App Store"] and health.processes == ()  # no live-load tables at a real JumpCloud
        done = await jc.run_command(SYSTEM, "clear_cache", None, idempotency_key="T-1:k", ticket_id="T-1")
        assert (done.id, done.status, done.exit_code) == ("6a0b1c2d3e4f5a6b7c8d9e0f", "finished", 0)
        created = next(body for method, path, body in seen if (method, path) == ("POST", "/api/commands"))
        assert created["commandType"] == "mac" and created["user"] == "000000000000000000000000" and "[wf-" in created["name"]
        assert ("POST", "/api/runCommand", {"_id": "5f1a2b3c4d5e6f7a8b9c0d1e", "systemIds": [SYSTEM]}) in seen
        with pytest.raises(JumpCloudError) as refused:
            await JumpCloudHttp(url, "wrong", client).health(SYSTEM)
        assert (refused.value.status, refused.value.code, refused.value.summary) == (401, "Unauthorized", "Unauthorized")


def assert_shaped_like(documented: Any, answered: Any, where: str) -> None:
    """Every documented key is in the answer, with a value of the documented JSON type."""
    if isinstance(documented, dict):
        assert isinstance(answered, dict), f"{where}: {type(answered).__name__} instead of an object"
        for key, value in documented.items():
            assert key in answered, f"{where}: no {key!r}"
            assert_shaped_like(value, answered[key], f"{where}.{key}")
    elif isinstance(documented, list):
        assert isinstance(answered, list), f"{where}: {type(answered).__name__} instead of an array"
        if documented and answered:
            assert_shaped_like(documented[0], answered[0], f"{where}[0]")
    elif documented is not None and answered is not None:
        number = (int, float)
        same = isinstance(answered, number) and not isinstance(answered, bool) if isinstance(documented, number) and not isinstance(documented, bool) else type(answered) is type(documented)
        assert same, f"{where}: {answered!r} is not a {type(documented).__name__}"


async def test_the_simulator_answers_in_jumpclouds_documented_shapes(simulator) -> None:  # noqa: ANN001
    key = await simulator.token("jumpcloud", "device-agent", ["devices.read", "devices.run_command"])
    pool = simulator.database.pool
    mac, email, user = await pool.fetchrow(
        "SELECT s.id, u.email, u.id FROM jumpcloud_systems s JOIN jumpcloud_system_users su ON su.system_id = s.id JOIN jumpcloud_users u ON u.id = su.user_id"
        " WHERE s.os = 'Mac OS X' AND s.active AND u.username = 'james.martinez'"
    )
    base = simulator.urls()["jumpcloud"]
    async with httpx.AsyncClient(base_url=base, headers={"x-api-key": key}) as http:
        async def get(path: str, **params: Any) -> Any:
            response = await http.get(path, params=params)
            assert response.status_code == 200, (path, response.text)
            return response.json()

        assert_shaped_like(fixture("system"), await get(f"/api/systems/{mac}"), "system")
        assert_shaped_like(fixture("systemusers_list"), await get("/api/systemusers", filter=f"email:$eq:{email}"), "systemusers")
        assert_shaped_like(fixture("user_systems"), await get(f"/api/v2/users/{user}/systems"), "user systems")
        for table in ("system_info", "uptime", "battery", "mounts", "apps"):
            rows = await get(f"/api/v2/systeminsights/{table}", filter=f"system_id:eq:{mac}")
            assert rows, table
            assert_shaped_like(fixture(f"systeminsights_{table}"), rows, table)
        made = await http.post("/api/commands", json={"name": "contract check", "command": "clear_cache", "commandType": "mac", "user": "000000000000000000000000"})
        assert made.status_code == 200
        assert_shaped_like(fixture("command"), made.json(), "command")
        assert_shaped_like(fixture("commands_list") | {"results": [{"_id": "", "name": ""}]}, await get("/api/commands", filter="name:$eq:contract check"), "commands")
        run = await http.post("/api/runCommand", json={"_id": made.json()["_id"], "systemIds": [mac]})
        assert_shaped_like(fixture("run_command"), run.json(), "runCommand")
        assert_shaped_like(fixture("command_results"), await get(f"/api/commands/{made.json()['_id']}/results"), "results")
        refused = await http.get(f"/api/systems/{mac}", headers={"x-api-key": "nope"})
        assert refused.status_code == 401
        assert_shaped_like(fixture("error_401"), refused.json(), "401")
        offline = await pool.fetchval("SELECT id FROM jumpcloud_systems WHERE os = 'Mac OS X' AND NOT active LIMIT 1")
        if offline is not None:  # seeded offline agents are on the named people's OS; a Mac one may not exist
            await http.post("/api/runCommand", json={"_id": made.json()["_id"], "systemIds": [offline]})
            queued = await get("/api/v2/queuedcommand/workflows", filter=f"command:eq:{made.json()['_id']}")
            assert_shaped_like(fixture("queued_workflows"), queued, "queued")
