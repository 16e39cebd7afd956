"""The customer's systems, simulated: one HTTP server holding every vendor's API under its own prefix
(``/okta``, ``/entra``, ``/workday``, ...), over its own PostgreSQL schema (``sandbox``), so the
skills service reaches each exactly as it would reach the real one: a base URL and a credential.

Each vendor is a sub-application (``deploy/sandbox/api/<vendor>.py``, ``create_app(state)``) that
speaks the vendor's REST shapes, auth scheme, status codes and error bodies; its state logic is the
vendor's module here (``deploy/sandbox/okta.py`` ...), run in one transaction per HTTP request.

Around the vendors, an administration API under ``/_sandbox`` (``Authorization: Bearer <admin
token>``): ``POST /_sandbox/tokens`` issues a coworker's API token on a system (the local stand-in for
the customer's administrator issuing one) and ``POST /_sandbox/tokens/revoke`` revokes them; test hooks
make the next matching requests fail (``/_sandbox/faults``: a status, ``Retry-After``, a delay, or a
dropped connection) or hold them open before or after they act (``/_sandbox/holds``), for fault tests.
``/_sandbox/webhooks`` registers the webhooks Jira, ServiceNow and Zendesk send on a change
(``deploy/sandbox/webhooks.py``: ``POST {"system", "url", "secret", "events"?}``, ``GET``,
``DELETE /{id}``, ``GET /deliveries``), kept in the schema and sent after each change commits.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib
import importlib.util
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from deploy.sandbox import tokens, webhooks
from runtime.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA = "sandbox"

#: The systems skills act on, by the name manifests grant tools on: each has a connector
#: (``services/skills/systems.py``), and these are the URLs ``urls()`` gives the skills service.
SKILL_SYSTEMS = ("okta", "entra", "sharepoint", "workday", "payroll", "jumpcloud", "jira", "slack", "facilities")
#: The service desks tickets come from and are written back to (issue 16): simulated here, no skill's.
UPSTREAM = ("servicenow", "zendesk")
#: Every simulated system, by its URL prefix and the name its tokens are issued for.
SYSTEMS = SKILL_SYSTEMS + UPSTREAM

STATE = web.AppKey("state", "SandboxState")


class SandboxState:
    """The simulator's store: its own schema and pool. ``session`` is one request's transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database
        #: Called after a transaction committed (the webhook dispatcher's wake-up: an outbox row may be new).
        self.committed: Callable[[], None] = lambda: None

    @property
    def pool(self) -> asyncpg.Pool:
        return self.database.pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                yield conn
            self.committed()

    @asynccontextmanager
    async def session(self, connector: Callable[[asyncpg.Connection, str | None], Any], token: str | None) -> AsyncIterator[Any]:
        """The vendor's state logic as the caller ``token`` names, in one transaction."""
        async with self.transaction() as conn:
            yield connector(conn, token)


# -- test hooks -----------------------------------------------------------------------------------


class FaultSpec(BaseModel):
    system: str
    status: int = Field(default=503, ge=100, le=599)
    times: int = Field(default=1, ge=1)
    method: str | None = None
    path: str | None = None  # a substring of the path under the system's prefix
    retry_after: float | None = None  # seconds, sent as Retry-After (and Okta's X-Rate-Limit-Reset)
    delay_s: float = Field(default=0.0, ge=0, le=300)  # answer slowly (before acting)
    drop: bool = False  # close the connection without an answer


class HoldSpec(BaseModel):
    system: str
    method: str | None = None
    path: str | None = None
    when: Literal["before", "after"] = "before"  # before the request acts, or after it acted and before the answer


@dataclass
class Hold:
    id: int
    spec: HoldSpec
    state: str = "armed"  # armed -> taken -> holding (acted, for "after") -> released
    released: asyncio.Event = field(default_factory=asyncio.Event)
    caught: asyncio.Event = field(default_factory=asyncio.Event)


def _matches(spec: FaultSpec | HoldSpec, system: str, request: web.Request, rest: str) -> bool:
    return spec.system == system and (spec.method is None or spec.method.upper() == request.method) and (spec.path is None or spec.path in rest)


class Hooks:
    def __init__(self) -> None:
        self.faults: list[FaultSpec] = []
        self.holds: dict[int, Hold] = {}
        self._ids = itertools.count(1)
        self.calls: dict[str, int] = {}

    def fault(self, system: str, request: web.Request, rest: str) -> FaultSpec | None:
        for fault in self.faults:
            if _matches(fault, system, request, rest):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def hold(self, system: str, request: web.Request, rest: str) -> Hold | None:
        return next((h for h in self.holds.values() if h.state == "armed" and _matches(h.spec, system, request, rest)), None)


HOOKS = web.AppKey("hooks", Hooks)


def _fault_response(fault: FaultSpec) -> web.Response:
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
        headers["X-Rate-Limit-Reset"] = str(int(time.time() + fault.retry_after + 0.999))
        headers["X-Rate-Limit-Remaining"] = "0"
    reason = "Too Many Requests" if fault.status == 429 else "Service Unavailable"
    return web.Response(status=fault.status, text=f"<html><body><h1>{fault.status} {reason}</h1></body></html>", content_type="text/html", headers=headers)


def _system_of(path: str) -> tuple[str, str] | None:
    head, _, rest = path.lstrip("/").partition("/")
    return (head, "/" + rest) if head in SYSTEMS else None


@web.middleware
async def gate(request: web.Request, handler: Any) -> web.StreamResponse:
    """Test hooks in front of every vendor API: faults, slow answers, dropped connections, holds."""
    found = _system_of(request.path)
    if found is None:
        return await handler(request)
    system, rest = found
    hooks = request.app[HOOKS]
    hooks.calls[system] = hooks.calls.get(system, 0) + 1
    if (fault := hooks.fault(system, request, rest)) is not None:
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.drop:
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError
        if fault.status < 400:
            return await handler(request)  # a slow answer, not an error
        return _fault_response(fault)
    hold = hooks.hold(system, request, rest)
    if hold is None:
        started = time.perf_counter()
        response = await handler(request)
        # How long the system itself took (the W3C Server-Timing header): what a call costs beyond it is HTTP's.
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.3f}"
        return response
    hold.state = "taken"  # no other request takes this hold
    if hold.spec.when == "after":
        response = await handler(request)  # it acted (committed); its answer waits
    hold.state = "holding"
    hold.caught.set()
    await hold.released.wait()
    return await handler(request) if hold.spec.when == "before" else response


# -- administration -------------------------------------------------------------------------------


class TokenRequest(BaseModel):
    system: str
    coworker: str = Field(min_length=1, max_length=200)
    version: int = Field(ge=0)
    scopes: list[str]


class RevokeRequest(BaseModel):
    coworker: str = Field(min_length=1, max_length=200)
    system: str | None = None
    version: int | None = None


def admin_routes(admin_token: str) -> web.Application:
    admin = web.Application()

    def authorised(request: web.Request) -> None:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), admin_token.encode()):
            raise web.HTTPUnauthorized(text='{"error": "the sandbox administration API needs its admin token"}', content_type="application/json")

    async def body(request: web.Request, model: type[BaseModel]) -> Any:
        authorised(request)
        try:
            return model.model_validate_json(await request.read())
        except ValidationError as exc:
            raise web.HTTPBadRequest(text=exc.json(include_url=False), content_type="application/json") from None

    async def issue(request: web.Request) -> web.Response:
        spec: TokenRequest = await body(request, TokenRequest)
        if spec.system not in SYSTEMS:
            raise web.HTTPNotFound(text=f'{{"error": "no system {spec.system!r} here"}}', content_type="application/json")
        async with request.app[STATE].transaction() as conn:
            token = await tokens.issue(conn, spec.system, spec.coworker, spec.version, spec.scopes)
        return web.json_response({"token": token}, status=201)

    async def revoke(request: web.Request) -> web.Response:
        spec: RevokeRequest = await body(request, RevokeRequest)
        async with request.app[STATE].transaction() as conn:
            count = await tokens.revoke(conn, spec.coworker, system=spec.system, version=spec.version)
        return web.json_response({"revoked": count})

    async def add_fault(request: web.Request) -> web.Response:
        spec: FaultSpec = await body(request, FaultSpec)
        request.app[HOOKS].faults.append(spec)
        return web.json_response({"faults": len(request.app[HOOKS].faults)}, status=201)

    async def add_hold(request: web.Request) -> web.Response:
        spec: HoldSpec = await body(request, HoldSpec)
        hooks = request.app[HOOKS]
        hold = Hold(next(hooks._ids), spec)
        hooks.holds[hold.id] = hold
        return web.json_response({"id": hold.id, "state": hold.state}, status=201)

    async def get_hold(request: web.Request) -> web.Response:
        authorised(request)
        hold = request.app[HOOKS].holds.get(int(request.match_info["id"]))
        if hold is None:
            raise web.HTTPNotFound()
        wait = float(request.query.get("wait", "0"))
        if wait and hold.state in ("armed", "taken"):
            try:
                await asyncio.wait_for(hold.caught.wait(), min(wait, 60))
            except TimeoutError:
                pass
        return web.json_response({"id": hold.id, "state": hold.state})

    async def release(request: web.Request) -> web.Response:
        authorised(request)
        hold = request.app[HOOKS].holds.get(int(request.match_info["id"]))
        if hold is None:
            raise web.HTTPNotFound()
        hold.state = "released"
        hold.released.set()
        return web.json_response({"id": hold.id, "state": hold.state})

    async def clear(request: web.Request) -> web.Response:
        authorised(request)
        hooks = request.app[HOOKS]
        hooks.faults.clear()
        for hold in hooks.holds.values():
            hold.state = "released"
            hold.released.set()
        return web.Response(status=204)

    async def calls(request: web.Request) -> web.Response:
        authorised(request)
        return web.json_response(request.app[HOOKS].calls)

    async def subscribe(request: web.Request) -> web.Response:
        spec: webhooks.Subscription = await body(request, webhooks.Subscription)
        async with request.app[STATE].transaction() as conn:
            try:
                made = await webhooks.subscribe(conn, spec)
            except ValueError as exc:
                raise web.HTTPBadRequest(text=json.dumps({"error": str(exc)}), content_type="application/json") from None
        return web.json_response(made, status=201)

    async def list_subscriptions(request: web.Request) -> web.Response:
        authorised(request)
        async with request.app[STATE].transaction() as conn:
            return web.json_response(await webhooks.subscriptions(conn))

    async def unsubscribe(request: web.Request) -> web.Response:
        authorised(request)
        async with request.app[STATE].transaction() as conn:
            if not await webhooks.unsubscribe(conn, int(request.match_info["id"])):
                raise web.HTTPNotFound(text='{"error": "no such webhook"}', content_type="application/json")
        return web.Response(status=204)

    async def list_deliveries(request: web.Request) -> web.Response:
        authorised(request)
        webhook = request.query.get("webhook_id")
        async with request.app[STATE].transaction() as conn:
            found = await webhooks.deliveries(conn, system=request.query.get("system"), webhook_id=int(webhook) if webhook and webhook.isdigit() else None)
        return web.json_response(found)

    admin.router.add_post("/webhooks", subscribe)
    admin.router.add_get("/webhooks", list_subscriptions)
    admin.router.add_get("/webhooks/deliveries", list_deliveries)
    admin.router.add_delete("/webhooks/{id:[0-9]+}", unsubscribe)
    admin.router.add_post("/tokens", issue)
    admin.router.add_post("/tokens/revoke", revoke)
    admin.router.add_post("/faults", add_fault)
    admin.router.add_post("/holds", add_hold)
    admin.router.add_get("/holds/{id:[0-9]+}", get_hold)
    admin.router.add_post("/holds/{id:[0-9]+}/release", release)
    admin.router.add_post("/hooks/clear", clear)
    admin.router.add_get("/calls", calls)
    return admin


def available() -> tuple[str, ...]:
    """The systems whose API module exists here."""
    return tuple(s for s in SYSTEMS if importlib.util.find_spec(f"deploy.sandbox.api.{s}") is not None)


def vendor_app(system: str, state: SandboxState) -> web.Application:
    module = importlib.import_module(f"deploy.sandbox.api.{system}")
    return module.create_app(state)


def create_app(state: SandboxState, *, admin_token: str, systems: tuple[str, ...] = SYSTEMS, webhook_settings: webhooks.WebhookSettings | None = None) -> web.Application:
    """The whole simulator: every vendor in ``systems`` under ``/<vendor>``, and ``/_sandbox``; its
    webhooks sent while it runs (``webhook_settings``, default from ``SANDBOX_WEBHOOK_*``)."""
    if not admin_token:
        raise ValueError("the sandbox needs an admin token (SANDBOX_ADMIN_TOKEN)")
    hooks = Hooks()
    app = web.Application(middlewares=[gate], client_max_size=1 << 20)
    app[STATE], app[HOOKS] = state, hooks

    async def health(request: web.Request) -> web.Response:
        await state.pool.fetchval("SELECT 1")
        return web.json_response({"status": "ok", "systems": list(systems)})

    async def send_webhooks(app: web.Application) -> AsyncIterator[None]:
        async with webhooks.dispatching(state.pool, webhook_settings) as dispatcher:
            state.committed = dispatcher.wake.set
            yield
            state.committed = lambda: None

    app.cleanup_ctx.append(send_webhooks)
    app.router.add_get("/_sandbox/health", health)
    admin = admin_routes(admin_token)
    admin[STATE], admin[HOOKS] = state, hooks
    app.add_subapp("/_sandbox", admin)
    for system in systems:
        sub = vendor_app(system, state)
        app.add_subapp(f"/{system}", sub)
    return app


def database(dsn: str | None, schema: str = SCHEMA) -> Database:
    return Database(dsn, schema, MIGRATIONS)


def urls(base: str, systems: tuple[str, ...] = SKILL_SYSTEMS) -> dict[str, str]:
    """Each system's base URL on a simulator at ``base`` (what ``SKILLS_SYSTEMS`` takes)."""
    return {system: f"{base.rstrip('/')}/{system}" for system in systems}
