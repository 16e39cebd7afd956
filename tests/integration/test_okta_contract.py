"""Okta's documented response bodies (tests/fixtures/vendors/okta, written from Okta's API reference)
against both sides: the client reads each as the skills need it (served by a fake that answers only
the fixtures), and the simulator answers with the same keys and JSON types, so neither can drift
from what Okta documents."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from deploy.sandbox.api import okta as okta_api
from runtime.vendor.errors import ApiError
from services.skills.connectors.okta import NewUser
from services.skills.connectors.okta_http import OktaHttp

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "okta"
SCOPES = ["users.read", "users.reset_password", "apps.read", "factors.read", "groups.read"]  # not users.create: its 403 is checked


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def same_shape(documented: Any, answered: Any, where: str = "$") -> list[str]:
    """Where ``answered`` lacks a documented key or holds another JSON type (null documents nothing)."""
    if documented is None or answered is None:
        return []
    if isinstance(documented, dict):
        if not isinstance(answered, dict):
            return [f"{where}: an object, not {type(answered).__name__}"]
        return [p for key, value in documented.items() for p in ([f"{where}.{key}: missing"] if key not in answered else same_shape(value, answered[key], f"{where}.{key}"))]
    if isinstance(documented, list):
        if not isinstance(answered, list):
            return [f"{where}: an array, not {type(answered).__name__}"]
        return same_shape(documented[0], answered[0], f"{where}[0]") if documented and answered else []
    kinds = (bool,) if isinstance(documented, bool) else (int, float) if isinstance(documented, (int, float)) else (str,)
    return [] if isinstance(answered, kinds) and not (isinstance(answered, bool) and kinds != (bool,)) else [f"{where}: {type(answered).__name__}, documented {type(documented).__name__}"]


# --- the client reads the documented bodies ------------------------------------------------------


@pytest.fixture
async def documented() -> AsyncIterator[str]:
    """An Okta that answers only with the documented bodies."""
    errors = {"nobody": (404, "error_404"), "expired": (401, "error_401"), "forbidden": (403, "error_403"), "busy": (429, "error_429")}

    async def user(request: web.Request) -> web.Response:
        if request.match_info["id"] in errors:
            status, name = errors[request.match_info["id"]]
            headers = {"X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": str(int(time.time()) + 30)} if status == 429 else None
            return web.json_response(fixture(name), status=status, headers=headers)
        return web.json_response(fixture("user"))

    def serve(name: str, status: int = 200) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return web.json_response(fixture(name), status=status)
        return handler

    app = web.Application()
    app.router.add_get("/api/v1/users/{id}", user)
    app.router.add_post("/api/v1/users", serve("error_400", 400))
    app.router.add_post("/api/v1/users/{id}/lifecycle/reset_password", serve("reset_password"))
    app.router.add_get("/api/v1/users/{id}/groups", serve("groups"))
    app.router.add_get("/api/v1/users/{id}/factors", serve("factors"))
    app.router.add_get("/api/v1/apps", serve("apps"))
    app.router.add_get("/api/v1/apps/{app}/users", serve("app_users"))
    app.router.add_get("/api/v1/logs", serve("log_events"))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def test_the_client_reads_oktas_documented_resources(documented: str, client: httpx.AsyncClient) -> None:
    o = OktaHttp(documented, "00documented", client)
    user = await o.get_user("isaac.brock")
    assert (user.id, user.login, user.status, user.country, user.department, user.title, user.employee_number, user.manager_id) == (
        "00ub0oNGTSWTBKOLGLNR", "isaac.brock@example.com", "ACTIVE", "US", "Engineering", "Software Engineer", "1001", "00ub0oNGTSWTBKOLGLNQ")
    [app] = await o.list_apps()
    assert (app.id, app.label, app.status, app.sign_on_mode) == ("0oa1gjh63g214q0Hq0g4", "Custom Saml 2.0 App", "ACTIVE", "SAML_2_0")
    [member] = await o.list_app_users(app.id)
    assert (member.user_id, member.login, member.scope, member.status, member.sync_state, member.created.year) == ("00u15s1KDETTQMQYABRL", "saml.jackie@example.com", "USER", "PROVISIONED", "SYNCHRONIZED", 2014)
    assert [(g.id, g.name, g.description) for g in await o.list_user_groups(user.id)] == [("00g1emaKYZTWRYYRRTSK", "West Coast Users", "Straight Outta Compton")]
    assert [(f.factor_type, f.name, f.device) for f in await o.list_factors(user.id)] == [("push", "Okta Verify (push)", "Gibson"), ("sms", "SMS", "+XXXXXXX1337")]
    reset = await o.reset_password(user.id, idempotency_key="k", ticket_id="T-1", send_email=False)
    assert reset.token == "XE6wE17zmphl3KqAPFxO"


async def test_the_client_keeps_oktas_documented_error_codes(documented: str, client: httpx.AsyncClient) -> None:
    o = OktaHttp(documented, "00documented", client)
    for who, status, code in (("nobody", 404, "E0000007"), ("expired", 401, "E0000011"), ("forbidden", 403, "E0000006"), ("busy", 429, "E0000047")):
        with pytest.raises(ApiError) as refused:
            await o.get_user(who)
        assert (refused.value.status, refused.value.code, refused.value.transient) == (status, code, status == 429)
    assert 0 < (refused.value.retry_after or 0) <= 30  # X-Rate-Limit-Reset, an epoch second
    with pytest.raises(ApiError) as invalid:
        await o.create_user(NewUser("isaac@example.com", "isaac@example.com", "Isaac", "Brock", "US", "Eng"), idempotency_key="k", ticket_id="T-1")
    assert invalid.value.code == "E0000001" and "An object with this field already exists" in invalid.value.summary


async def test_a_documented_reset_event_is_found_again_only_by_the_key_that_made_it(documented: str, client: httpx.AsyncClient) -> None:
    """The documented event came from another client (no marker of ours): it proves nothing for this key."""
    o = OktaHttp(documented, "00documented", client)
    assert await o._done_by("k", "user.account.reset_password", "00u8xst93qEWYx65sx1d8") is None


# --- the simulator answers in the documented shapes ----------------------------------------------


async def test_the_simulators_answers_have_the_documented_keys_and_types(simulator, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    token = await simulator.token("okta", "jordan", SCOPES)
    base, auth = simulator.urls()["okta"], {"Authorization": f"SSWS {token}"}
    pool = simulator.database.pool
    login = await pool.fetchval("SELECT u.login FROM okta_users u WHERE u.status = 'ACTIVE' AND EXISTS (SELECT 1 FROM okta_factors f WHERE f.user_id = u.id AND f.factor_type = 'push')"
                                " AND EXISTS (SELECT 1 FROM okta_factors f WHERE f.user_id = u.id AND f.factor_type = 'sms') ORDER BY login LIMIT 1")
    user_id = await pool.fetchval("SELECT id FROM okta_users WHERE login = $1", login)
    app_id = await pool.fetchval("SELECT app_id FROM okta_app_users GROUP BY app_id ORDER BY count(*) DESC LIMIT 1")

    async def get(path: str, **params: str) -> Any:
        response = await client.get(f"{base}{path}", params=params, headers=auth)
        assert response.status_code == 200, response.text
        return response.json()

    answers = {
        "user": await get(f"/api/v1/users/{login}"),
        "apps": await get("/api/v1/apps"),
        "app_users": await get(f"/api/v1/apps/{app_id}/users"),
        "groups": await get(f"/api/v1/users/{user_id}/groups"),
    }
    factors = await get(f"/api/v1/users/{user_id}/factors")
    for documented_factor in fixture("factors"):
        answered = next(f for f in factors if f["factorType"] == documented_factor["factorType"])
        assert same_shape(documented_factor, answered) == [], documented_factor["factorType"]
    reset = await client.post(f"{base}/api/v1/users/{user_id}/lifecycle/reset_password", params={"sendEmail": "false"}, headers=auth)
    answers["reset_password"] = reset.json()
    answers["log_events"] = await get("/api/v1/logs", filter=f'eventType eq "user.account.reset_password" and target.id eq "{user_id}"', since="2000-01-01T00:00:00.000Z", until="2999-01-01T00:00:00.000Z")
    for name, answered in answers.items():
        assert answered, name
        assert same_shape(fixture(name), answered) == [], name

    async def refused(status: int, method: str, path: str, headers: dict[str, str] = auth, **kwargs: Any) -> None:
        response = await client.request(method, f"{base}{path}", headers=headers, **kwargs)
        assert response.status_code == status and same_shape(fixture(f"error_{status}"), response.json()) == [], response.text
        assert response.json()["errorCode"] == fixture(f"error_{status}")["errorCode"]

    await refused(404, "GET", "/api/v1/users/nobody.here@acme.example")
    await refused(401, "GET", f"/api/v1/users/{login}", {"Authorization": "SSWS 00expired"})
    await refused(403, "POST", "/api/v1/users", params={"activate": "false"}, json={"profile": {"login": login, "email": login, "firstName": "A", "lastName": "B", "countryCode": "US"}})
    creator = {"Authorization": f"SSWS {await simulator.token('okta', 'casey', ['users.create'])}"}
    await refused(400, "POST", "/api/v1/users", creator, params={"activate": "false"}, json={"profile": {"login": login, "email": login, "firstName": "A", "lastName": "B", "countryCode": "US"}})
    monkeypatch.setitem(okta_api.LIMITS, "/api/v1/apps", 1)  # the apps family's minute: one request, then E0000047
    await client.get(f"{base}/api/v1/apps", headers=auth)
    await refused(429, "GET", "/api/v1/apps")
