"""The building access system's REST API, as we define it (physical access control has no public
standard; LenelS2 and Genetec each have their own): JSON over HTTPS, base URL ``.../facilities``,
resources under ``/v1``.

Auth: ``Authorization: Bearer <API token>``; the token's scopes decide what it may do
(``badges.read``, ``badges.create``, ``badges.update``, ``badges.suspend``).

- ``GET /v1/cardholders/{login}`` — a person (``name@domain``, ``name`` or the cardholder id):
  ``{"id", "login", "name", "homeSite", "status", "clearance"}``.
- ``GET /v1/cardholders/{login}/badges`` — ``{"data": [Badge]}``: the badge in use (active or
  suspended), if any; returned badges are history and not listed.
- ``GET /v1/badges/{id}`` — a Badge ``{"id", "holderId", "holderLogin", "status", "issuedAt",
  "zones": [...]}``.
- ``POST /v1/badges`` ``{"holder": login, "reference"?}`` — issue an active badge opening nothing
  yet: 201, ``Location: /v1/badges/{id}``.
- ``POST /v1/badges/{id}/zones`` ``{"zone", "reference"?}`` — let the badge open a zone's doors.
- ``DELETE /v1/badges/{id}/zones/{zone}?reference=`` — no longer (idempotent: a zone not there
  is "already so").
- ``POST /v1/badges/{id}/suspend`` | ``/reactivate`` | ``/return`` ``{"reason", "reference"?}``.

Every write answers a BadgeChange ``{"badgeId", "operation", "status", "zones", "changed"}``:
``changed`` false when the badge already was so (a zone already granted, a badge already
suspended). ``reference`` is the requester's ticket, kept with the change.

Errors: ``{"error": {"code", "message"}}``: 400 ``zone_unknown`` / ``invalid_request``, 401
``unauthorized`` (with ``WWW-Authenticate: Bearer``), 403 ``forbidden`` (a scope the token lacks) /
``clearance_required``, 404 ``cardholder_not_found`` / ``badge_not_found``, 409 ``badge_exists`` /
``badge_not_active`` / ``cardholder_inactive``, 422 ``idempotency_key_reused``; 429 with
``Retry-After``. Every POST takes ``Idempotency-Key`` (``deploy/sandbox/api/ours.py``: Stripe's
semantics).
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from deploy.sandbox import facilities
from deploy.sandbox.api import ours
from deploy.sandbox.facilities import FacilitiesSandbox
from deploy.sandbox.server import SandboxState
from services.skills.connectors.facilities import Badge, BadgeChange, Cardholder, FacilitiesError

PREFIX = "/v1"


def _invalid(message: str, field: str) -> FacilitiesError:
    return FacilitiesError(400, "invalid_request", message)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str = Field(default="", max_length=100)


class NewBadge(_Body):
    holder: str = Field(min_length=1, max_length=200)


class ZoneGrant(_Body):
    zone: str = Field(min_length=1, max_length=40)


class StatusChange(_Body):
    reason: str = Field(min_length=1, max_length=500)


def cardholder_json(c: Cardholder) -> dict[str, Any]:
    return {"id": c.id, "login": c.login, "name": c.name, "homeSite": c.home_site, "status": c.status, "clearance": c.clearance}


def badge_json(b: Badge) -> dict[str, Any]:
    return {"id": b.id, "holderId": b.holder_id, "holderLogin": b.holder_login, "status": b.status, "issuedAt": b.issued_at.isoformat(), "zones": list(b.zones)}


def change_json(c: BadgeChange) -> dict[str, Any]:
    return {"badgeId": c.badge_id, "operation": c.operation, "status": c.status, "zones": list(c.zones), "changed": c.changed}


def create_app(state: SandboxState) -> web.Application:
    app = web.Application(middlewares=[ours.errors_middleware(FacilitiesError)])

    async def cardholder(request: web.Request) -> web.Response:
        async with state.session(FacilitiesSandbox, ours.bearer(request)) as api:
            return web.json_response(cardholder_json(await api.get_cardholder(request.match_info["login"])))

    async def badges_of(request: web.Request) -> web.Response:
        async with state.session(FacilitiesSandbox, ours.bearer(request)) as api:
            badge = await api.current_badge(request.match_info["login"])
        return web.json_response({"data": [badge_json(badge)] if badge else []})

    async def badge(request: web.Request) -> web.Response:
        async with state.session(FacilitiesSandbox, ours.bearer(request)) as api:
            return web.json_response(badge_json(await api.get_badge(request.match_info["id"])))

    async def issue(request: web.Request) -> web.Response:
        spec, data = await ours.parse(request, NewBadge, _invalid)
        async with state.session(FacilitiesSandbox, ours.bearer(request)) as api:
            caller = await api.caller()

            async def act(key: str) -> tuple[int, Any]:
                return 201, change_json(await facilities.issue_badge(api.conn, caller, spec.holder, idempotency_key=key, ticket_id=spec.reference))

            return await ours.once(request, api.conn, caller, data, act, error=FacilitiesError, location=lambda body: f"{PREFIX}/badges/{body['badgeId']}")

    async def add_zone(request: web.Request) -> web.Response:
        spec, data = await ours.parse(request, ZoneGrant, _invalid)
        async with state.session(FacilitiesSandbox, ours.bearer(request)) as api:
            caller = await api.caller()

            async def act(key: str) -> tuple[int, Any]:
                done = await facilities.add_zone(api.conn, caller, request.match_info["id"], spec.zone, idempotency_key=key, ticket_id=spec.reference)
                return 200, change_json(done)

            return await ours.once(request, api.conn, caller, data, act, error=FacilitiesError)

    async def remove_zone(request: web.Request) -> web.Response:
        async with state.session(FacilitiesSandbox, ours.bearer(request)) as api:
            done = await facilities.remove_zone(api.conn, await api.caller(), request.match_info["id"], request.match_info["zone"], idempotency_key=uuid.uuid4().hex, ticket_id=request.query.get("reference", ""))
        return web.json_response(change_json(done))

    def status_change(operation: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            spec, data = await ours.parse(request, StatusChange, _invalid)
            async with state.session(FacilitiesSandbox, ours.bearer(request)) as api:
                caller = await api.caller()

                async def act(key: str) -> tuple[int, Any]:
                    done = await facilities.change_status(api.conn, caller, request.match_info["id"], operation, reason=spec.reason, idempotency_key=key, ticket_id=spec.reference)
                    return 200, change_json(done)

                return await ours.once(request, api.conn, caller, data, act, error=FacilitiesError)

        return handler

    app.router.add_get(f"{PREFIX}/cardholders/{{login}}", cardholder)
    app.router.add_get(f"{PREFIX}/cardholders/{{login}}/badges", badges_of)
    app.router.add_get(f"{PREFIX}/badges/{{id}}", badge)
    app.router.add_post(f"{PREFIX}/badges", issue)
    app.router.add_post(f"{PREFIX}/badges/{{id}}/zones", add_zone)
    app.router.add_delete(f"{PREFIX}/badges/{{id}}/zones/{{zone}}", remove_zone)
    for operation in ("suspend", "reactivate", "return"):
        app.router.add_post(f"{PREFIX}/badges/{{id}}/{operation}", status_change(operation))
    return app
