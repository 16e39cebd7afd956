"""The real Okta connector against a local HTTP server that speaks Okta's Management API (request and
response shapes, ``SSWS`` tokens, Okta's error bodies and rate-limit headers, ``Link`` paging): the
password reset runs end to end over HTTP, a 429 is retried by the runner, a 401 is a refusal that is
not retried, the token never reaches an event or a record, and apps, factors and the System Log
read as the skills need them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from cryptography.fernet import Fernet
from pydantic import SecretStr

from contracts import codec
from contracts.catalog import load_catalog
from contracts.events import SkillCompleted, SkillStep, TicketResolved
from runtime.db import Database
from services.skills import credentials, identity
from deploy.sandbox.cases import Case, Played, Workbench
from runtime.vendor.errors import ApiError
from services.skills.connectors.okta_http import OktaHttp
from services.skills.credentials import Vault
from services.skills.library import SKILLS
from services.skills.rules import is_stale
from services.skills.settings import DEFAULT_CATALOG
from services.skills.systems import Systems

TOKEN = "00" + "Qx7TvLb2mKp9RzW4dYc1NfHs8GjE5aUo3iVnXe6Bw"


def _error(status: int, code: str, summary: str, causes: list[str] | None = None, headers: dict[str, str] | None = None) -> web.Response:
    body = {"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oae" + secrets.token_hex(8), "errorCauses": [{"errorSummary": c} for c in causes or []]}
    return web.json_response(body, status=status, headers=headers)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeOkta:
    """An Okta org's Management API, as much of it as the connector speaks, with faults on demand."""

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.users: dict[str, dict[str, Any]] = {}
        for uid, login, status, number in [("00u1ana", "ana.silva", "ACTIVE", "100001"), ("00u2lisa", "lisa.wong", "SUSPENDED", "100004"), ("00u3john", "john.miller", "ACTIVE", "100003")]:
            first, last = login.split(".")
            self.users[uid] = {"id": uid, "status": status, "created": _iso(now - timedelta(days=900)), "profile": {
                "login": f"{login}@acme.example", "email": f"{login}@acme.example", "firstName": first.title(), "lastName": last.title(),
                "countryCode": "US", "department": "Finance", "employeeNumber": number}}
        self.factors = {"00u1ana": [
            {"id": "opf1push", "factorType": "push", "provider": "OKTA", "vendorName": "OKTA", "status": "ACTIVE", "profile": {"name": "iPhone 14", "platform": "IOS"}},
            {"id": "mbl1sms", "factorType": "sms", "provider": "OKTA", "vendorName": "OKTA", "status": "ACTIVE", "profile": {"phoneNumber": "+15125550123"}},
        ]}
        self.apps = [
            {"id": "0oa1gh", "name": "github", "label": "GitHub Enterprise Cloud", "status": "ACTIVE", "signOnMode": "SAML_2_0"},
            {"id": "0oa2tb", "name": "tableau", "label": "Tableau Cloud", "status": "ACTIVE", "signOnMode": "SAML_2_0"},
        ]
        old, recent = _iso(now - timedelta(days=400)), _iso(now - timedelta(days=3))
        self.app_users: dict[str, dict[str, dict[str, Any]]] = {"0oa1gh": {}, "0oa2tb": {
            uid: {"id": uid, "scope": "USER", "status": "PROVISIONED", "syncState": "SYNCHRONIZED", "created": old, "credentials": {"userName": self.users[uid]["profile"]["login"]}}
            for uid in self.users}}
        # ana signed in to Tableau three days ago; nobody else within the log's 90 days.
        self.logs = [{"eventType": "user.authentication.sso", "published": recent, "actor": {"id": "00u1ana"}, "target": [{"id": "0oa2tb", "type": "AppInstance"}]}]
        self.resets: list[tuple[str, str]] = []
        self.faults: list[tuple[str, str, int]] = []
        self.requests: list[tuple[str, str]] = []
        self.authorizations: set[str] = set()
        self.url = ""

    def fail(self, method: str, path: str, status: int, *, times: int = 1) -> None:
        self.faults += [(method, path, status)] * times

    @web.middleware
    async def gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        self.authorizations.add(request.headers.get("Authorization", ""))
        for fault in self.faults:
            if fault[:2] == (request.method, request.path):
                self.faults.remove(fault)
                if fault[2] == 429:
                    reset = str(int(datetime.now(UTC).timestamp()) + 1)
                    return _error(429, "E0000047", "API call exceeded rate limit due to too many requests.", headers={"X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": reset})
                return web.Response(status=fault[2], text="<html>Service Unavailable</html>", content_type="text/html")
        if request.headers.get("Authorization") != f"SSWS {TOKEN}":
            return _error(401, "E0000011", "Invalid token provided")
        return await handler(request)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.gate])
        r = app.router
        r.add_get("/api/v1/users/{id}", self.get_user)
        r.add_post("/api/v1/users/{id}/lifecycle/{operation}", self.lifecycle)
        r.add_get("/api/v1/users/{id}/factors", self.list_factors)
        r.add_get("/api/v1/users/{id}/factors/{fid}", self.get_factor)
        r.add_delete("/api/v1/users/{id}/factors/{fid}", self.delete_factor)
        r.add_get("/api/v1/apps", self.list_apps)
        r.add_get("/api/v1/apps/{app}/users", self.list_app_users)
        r.add_post("/api/v1/apps/{app}/users", self.assign)
        r.add_get("/api/v1/apps/{app}/users/{id}", self.get_app_user)
        r.add_delete("/api/v1/apps/{app}/users/{id}", self.unassign)
        r.add_get("/api/v1/logs", self.list_logs)
        return app

    def _user(self, ref: str) -> dict[str, Any] | None:
        ref = ref.lower()
        return next((u for u in self.users.values() if ref in (u["id"].lower(), u["profile"]["login"], u["profile"]["login"].split("@")[0])), None)

    async def get_user(self, request: web.Request) -> web.Response:
        user = self._user(request.match_info["id"])
        if user is None:
            return _error(404, "E0000007", f"Not found: Resource not found: {request.match_info['id']} (User)")
        return web.json_response(user)

    async def lifecycle(self, request: web.Request) -> web.Response:
        user = self._user(request.match_info["id"])
        if user is None:
            return _error(404, "E0000007", f"Not found: Resource not found: {request.match_info['id']} (User)")
        operation = request.match_info["operation"]
        if operation == "reset_password":
            if user["status"] not in {"ACTIVE", "RECOVERY", "LOCKED_OUT", "PASSWORD_EXPIRED"}:
                return _error(403, "E0000038", f"This operation is not allowed in the user's current status: {user['status']}")
            self.resets.append((user["id"], request.query.get("sendEmail", "")))
            user["status"] = "RECOVERY"
            return web.json_response({} if request.query.get("sendEmail") == "true" else {"resetPasswordUrl": f"{self.url}/reset_password/drpt{secrets.token_hex(10)}"})
        if operation == "suspend":
            if user["status"] != "ACTIVE":
                return _error(400, "E0000001", "Api validation failed: user", ["Cannot suspend a user that is not active"])
            user["status"] = "SUSPENDED"
            return web.json_response({})
        return _error(404, "E0000022", "The endpoint does not support the provided HTTP method")

    async def list_factors(self, request: web.Request) -> web.Response:
        return web.json_response(self.factors.get(request.match_info["id"], []))

    def _factor(self, request: web.Request) -> dict[str, Any] | None:
        return next((f for f in self.factors.get(request.match_info["id"], []) if f["id"] == request.match_info["fid"]), None)

    async def get_factor(self, request: web.Request) -> web.Response:
        factor = self._factor(request)
        return web.json_response(factor) if factor else _error(404, "E0000007", f"Not found: Resource not found: {request.match_info['fid']} (UserFactor)")

    async def delete_factor(self, request: web.Request) -> web.Response:
        factor = self._factor(request)
        if factor is None:
            return _error(404, "E0000007", f"Not found: Resource not found: {request.match_info['fid']} (UserFactor)")
        self.factors[request.match_info["id"]].remove(factor)
        return web.Response(status=204)

    async def list_apps(self, request: web.Request) -> web.Response:
        q = request.query.get("q", "").lower()
        return web.json_response([a for a in self.apps if a["name"].startswith(q) or a["label"].lower().startswith(q)])

    async def list_app_users(self, request: web.Request) -> web.Response:
        """Paged as Okta pages: ``limit`` items, and a ``Link: rel="next"`` with an ``after`` cursor."""
        users = sorted(self.app_users.get(request.match_info["app"], {}).values(), key=lambda u: u["id"])
        limit, after = int(request.query.get("limit", 200)), request.query.get("after", "")
        page = [u for u in users if u["id"] > after][:limit]
        headers = {}
        if page and page[-1] is not users[-1]:
            headers["Link"] = f'<{self.url}{request.path}?limit={limit}&after={page[-1]["id"]}>; rel="next"'
        return web.json_response(page, headers=headers)

    async def get_app_user(self, request: web.Request) -> web.Response:
        found = self.app_users.get(request.match_info["app"], {}).get(request.match_info["id"])
        return web.json_response(found) if found else _error(404, "E0000007", f"Not found: Resource not found: {request.match_info['id']} (AppUser)")

    async def assign(self, request: web.Request) -> web.Response:
        body = await request.json()
        user = self._user(body.get("id", ""))
        if user is None:
            return _error(400, "E0000001", "Api validation failed: id", ["id: The user does not exist"])
        made = {"id": user["id"], "scope": body.get("scope", "USER"), "status": "PROVISIONED", "syncState": "SYNCHRONIZED", "created": _iso(datetime.now(UTC)), "credentials": {"userName": user["profile"]["login"]}}
        self.app_users[request.match_info["app"]][user["id"]] = made
        return web.json_response(made)

    async def unassign(self, request: web.Request) -> web.Response:
        if self.app_users.get(request.match_info["app"], {}).pop(request.match_info["id"], None) is None:
            return _error(404, "E0000007", f"Not found: Resource not found: {request.match_info['id']} (AppUser)")
        return web.Response(status=204)

    async def list_logs(self, request: web.Request) -> web.Response:
        wanted = request.query.get("filter", "")
        return web.json_response([e for e in self.logs if e["eventType"] in wanted and any(t["id"] in wanted for t in e["target"])])


@pytest.fixture
async def okta() -> AsyncIterator[FakeOkta]:
    fake = FakeOkta()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield fake
    await runner.cleanup()


@pytest.fixture
async def bench(service_database, workforce, okta: FakeOkta) -> AsyncIterator[Workbench]:  # noqa: ANN001
    database: Database = await service_database("skills")
    systems = Systems({"okta": okta.url})
    workbench = Workbench(database, Vault(SecretStr(Fernet.generate_key().decode())), workforce, SKILLS, load_catalog(DEFAULT_CATALOG), systems=systems)
    await workbench.hire_all()
    await give(workbench, identity.READER, version=identity.READER_VERSION)  # the skills service's own, to look requesters up
    yield workbench
    await systems.close()


async def give(bench: Workbench, coworker: str, secret: str = TOKEN, *, version: int = 1) -> None:
    """The API token an Okta administrator issued to ``coworker`` (a real system gets no sandbox token)."""
    async with bench.database.pool.acquire() as conn:
        await credentials.store(conn, bench.vault, coworker, "okta", version, secret)


#: The skills service looking the requester up (by email, then by id) before the first step.
LOOKUP = [("GET", "/api/v1/users/ana.silva@acme.example"), ("GET", "/api/v1/users/ana.silva")]


async def no_token_anywhere(bench: Workbench, played: Played) -> None:
    """The token is in no event the case produced and in no record the runner kept."""
    assert all(TOKEN not in codec.encode(e).decode(errors="replace") for e in played.events)
    rows = await bench.database.pool.fetch("SELECT outputs::text, coalesce(error, '') AS error, coalesce(decision::text, '') AS decision FROM step_runs")
    assert rows and all(TOKEN not in "".join(r) for r in rows)


RESET = Case("active user resets over http", "password-reset", "jordan", "ana.silva", "I forgot my password", "resolved")


async def test_a_password_reset_runs_end_to_end_against_okta_over_its_rest_api(bench: Workbench, okta: FakeOkta) -> None:
    await give(bench, "jordan")
    played = await bench.play(RESET)
    assert bench.verdict(played) is None, bench.verdict(played)
    done = next(e for e in played.events if isinstance(e, SkillCompleted))
    assert "ana.silva@acme.example" in done.data.summary and "a***@acme.example" in done.data.summary
    assert okta.resets == [("00u1ana", "true")]  # one reset, Okta emails the link; played again, it is not repeated
    assert okta.users["00u1ana"]["status"] == "RECOVERY"
    assert okta.authorizations == {f"SSWS {TOKEN}"}
    await no_token_anywhere(bench, played)


async def test_a_429_is_retried_by_the_runner_and_the_reset_still_happens_once(bench: Workbench, okta: FakeOkta) -> None:
    await give(bench, "jordan")
    requested = bench.request(RESET)
    await bench.runner.identify(requested)  # the requester is looked up first, then find-user meets the 429
    okta.fail("GET", "/api/v1/users/ana.silva@acme.example", 429)
    events = await bench.runner.run(requested)
    assert isinstance(events[-1], TicketResolved), [e.type for e in events]
    find = next(e for e in events if isinstance(e, SkillStep) and e.data.name == "find-user")
    assert (find.data.status, find.data.attempts) == ("done", 2)
    assert okta.resets == [("00u1ana", "true")]


async def test_okta_down_for_every_attempt_is_an_outage_not_a_refusal(bench: Workbench, okta: FakeOkta) -> None:
    await give(bench, "jordan")
    okta.fail("POST", "/api/v1/users/00u1ana/lifecycle/reset_password", 503, times=3)
    played = await bench.play(RESET)
    assert played.failure is not None and played.failure.data.error_code == "system_unavailable"
    assert okta.resets == []


async def test_a_401_is_a_refusal_and_is_not_retried(bench: Workbench, okta: FakeOkta) -> None:
    await give(bench, "jordan", "00" + "RevokedTokenRevokedTokenRevokedToken12")
    played = await bench.play(RESET)
    assert played.failure is not None and played.failure.data.error_code == "credential_refused"
    assert "Invalid token provided" in played.failure.data.reason and "E0000011" in played.failure.data.reason
    assert okta.requests == [*LOOKUP, ("GET", "/api/v1/users/ana.silva@acme.example")]  # jordan's call refused once, never retried
    assert okta.resets == []
    await no_token_anywhere(bench, played)


async def test_a_suspended_user_is_refused_before_okta_is_asked_to_reset(bench: Workbench, okta: FakeOkta) -> None:
    await give(bench, "jordan")
    played = await bench.play(Case("suspended", "password-reset", "jordan", "lisa.wong", "reset my password", "escalated", error_code="user_not_active"))
    assert bench.verdict(played) is None, bench.verdict(played)
    assert okta.resets == [] and okta.users["00u2lisa"]["status"] == "SUSPENDED"


async def test_an_app_is_assigned_through_okta_over_http_after_approval(bench: Workbench, okta: FakeOkta) -> None:
    await give(bench, "enterprise-app-agent")
    case = Case("github over http", "app-access", "enterprise-app-agent", "john.miller", "please give me github", "resolved", inputs={"app": "github"}, approve=True)
    played = await bench.play(case)
    assert bench.verdict(played) is None, bench.verdict(played)
    assert played.approvals == 1
    assert okta.app_users["0oa1gh"]["00u3john"]["scope"] == "USER"
    assert [r for r in okta.requests if r[0] == "POST"] == [("POST", "/api/v1/apps/0oa1gh/users")]


# --- the connector alone ---------------------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as opened:
        yield opened


async def test_oktas_errors_keep_its_code_summary_and_causes(okta: FakeOkta, client: httpx.AsyncClient) -> None:
    connector = OktaHttp(okta.url, TOKEN, client)
    with pytest.raises(ApiError) as missing:
        await connector.get_user("nobody.here")
    assert (missing.value.status, missing.value.code, missing.value.transient) == (404, "E0000007", False)
    assert "Resource not found: nobody.here (User)" in missing.value.summary
    await connector.suspend_user("00u1ana", idempotency_key="k1", ticket_id="T-1")
    again = await connector.suspend_user("00u1ana", idempotency_key="k2", ticket_id="T-1")
    assert (again.status, again.changed) == ("SUSPENDED", False)  # already so: Okta is not asked twice
    assert okta.requests.count(("POST", "/api/v1/users/00u1ana/lifecycle/suspend")) == 1
    okta.users["00u3john"]["status"] = "STAGED"
    with pytest.raises(ApiError) as invalid:
        await connector.suspend_user("00u3john", idempotency_key="k3", ticket_id="T-1")
    assert (invalid.value.status, invalid.value.code) == (400, "E0000001") and "Cannot suspend a user that is not active" in invalid.value.summary


async def test_a_rate_limit_says_when_it_resets(okta: FakeOkta, client: httpx.AsyncClient) -> None:
    okta.fail("GET", "/api/v1/users/ana.silva", 429)
    with pytest.raises(ApiError) as limited:
        await OktaHttp(okta.url, TOKEN, client).get_user("ana.silva")
    assert (limited.value.status, limited.value.code, limited.value.transient) == (429, "E0000047", True)
    assert "the limit of 600 resets in" in limited.value.summary


async def test_a_lost_factor_is_listed_masked_and_reset_once(okta: FakeOkta, client: httpx.AsyncClient) -> None:
    connector = OktaHttp(okta.url, TOKEN, client)
    factors = await connector.list_factors("00u1ana")
    assert [(f.factor_type, f.name, f.device) for f in factors] == [("push", "Okta Verify (push)", "iPhone 14"), ("sms", "SMS", "+XXXXXXX0123")]
    reset = await connector.reset_factor("00u1ana", "opf1push", idempotency_key="k", ticket_id="T-1")
    assert (reset.factor_type, reset.provider) == ("push", "OKTA")
    assert [f["id"] for f in okta.factors["00u1ana"]] == ["mbl1sms"]
    with pytest.raises(ApiError) as gone:  # a repeat finds it gone, which the skill reads as done
        await connector.reset_factor("00u1ana", "opf1push", idempotency_key="k", ticket_id="T-1")
    assert (gone.value.status, gone.value.code) == (404, "E0000007")


async def test_app_users_are_read_across_pages_with_their_last_sign_in_from_the_system_log(okta: FakeOkta, client: httpx.AsyncClient) -> None:
    for n in range(4, 9):
        uid = f"00u{n}new"
        okta.app_users["0oa2tb"][uid] = {"id": uid, "scope": "USER", "status": "PROVISIONED", "syncState": "SYNCHRONIZED",
                                          "created": _iso(datetime.now(UTC) - timedelta(days=10)), "credentials": {"userName": f"user{n}@acme.example"}}
    users = await OktaHttp(okta.url, TOKEN, client, page_size=3).list_app_users("0oa2tb")
    assert len(users) == 8 and okta.requests.count(("GET", "/api/v1/apps/0oa2tb/users")) == 3  # three pages, by Link: rel="next"
    stale = sorted(u.login for u in users if is_stale(u, datetime.now(UTC)))
    assert stale == ["john.miller@acme.example", "lisa.wong@acme.example"]  # ana signed in 3 days ago; the others were assigned 10 days ago
    assert next(u for u in users if u.user_id == "00u1ana").last_sign_in is not None
    assert okta.requests.count(("GET", "/api/v1/logs")) == 1
