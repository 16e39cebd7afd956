"""Okta's Management API over the Okta sandbox, in Okta's own shapes, so the one Okta client
(``services/skills/connectors/okta_http.py``) talks to this and to a real org alike.

``Authorization: SSWS <token>``; Okta's error body (``errorCode``, ``errorSummary``, ``errorLink``,
``errorId``, ``errorCauses``) for every refusal; ``X-Rate-Limit-Limit/-Remaining/-Reset`` on every
answer, per endpoint family and minute, and 429 E0000047 past the limit; ``X-Okta-Request-Id``;
lists paged by ``limit`` and an ``after`` cursor with ``Link: <...>; rel="next"``. Resources: users
(``/api/v1/users[/{idOrLogin}]``, ``POST /api/v1/users?activate=``, ``/lifecycle/{activate|
deactivate|suspend|unsuspend|reset_password}?sendEmail=``), their groups and factors, apps and app
users, groups' members, and the System Log (``/api/v1/logs`` with ``since``, ``until``, ``filter``).

Like Okta, this API takes no idempotency key: each request hands the state logic a fresh one, so the
sandbox never deduplicates on a client's behalf. What a client needs to reconcile after a crash is
what Okta offers too: the resources' state, and the System Log, where every write is recorded with
the caller's raw ``User-Agent`` and the request id, as Okta records them.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web
from multidict import CIMultiDict

from deploy.sandbox import okta as state_logic
from deploy.sandbox.okta import OktaSandbox
from deploy.sandbox.tokens import Caller
from runtime.vendor.http import TICKET_HEADER
from services.skills.connectors.okta import FACTOR_NAMES, App, AppUser, NewUser, OktaError, User

STATE = web.AppKey("okta_state", Any)
COUNTERS = web.AppKey("okta_rate_counters", dict)
REQUEST_ID = web.RequestKey("okta_request_id", str)

#: Requests per minute per endpoint family (Okta limits per org and endpoint; these are its
#: documented defaults' order of magnitude). Tests may lower one to reach the limit.
LIMITS: dict[str, int] = {"/api/v1/users": 600, "/api/v1/apps": 500, "/api/v1/groups": 500, "/api/v1/logs": 120}
DEFAULT_LIMIT = 600


def lift_limits() -> None:
    """No rate limit at all (``SANDBOX_RATE_LIMITS=off``): for benchmarks of our own throughput,
    which a real org's Okta would cap at its limits (600 directory calls a minute is ~2.5 tickets/s)."""
    global DEFAULT_LIMIT
    for family in LIMITS:
        LIMITS[family] = 10**9
    DEFAULT_LIMIT = 10**9
#: ``limit``: (default, maximum) items per page, by list.
PAGES = {"users": (200, 200), "apps": (20, 200), "app_users": (50, 500), "groups": (10000, 10000), "factors": (200, 200), "logs": (100, 1000)}


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z" if when else None


def _when(value: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise OktaError(400, "E0000001", f"Api validation failed: {name}: {value!r} is not an ISO 8601 date") from None


def error_body(error: OktaError) -> dict[str, Any]:
    """Okta's error JSON. A validation failure lists its causes, as Okta does."""
    summary, causes = error.summary, []
    if error.code == "E0000001" and summary.startswith("Api validation failed: "):
        causes = [c.strip() for c in summary.removeprefix("Api validation failed: ").split("; ") if c.strip()]
        summary = "Api validation failed: " + ", ".join(dict.fromkeys(c.split(":")[0] for c in causes))
    return {"errorCode": error.code, "errorSummary": summary, "errorLink": error.code, "errorId": "oae" + secrets.token_urlsafe(16)[:22], "errorCauses": [{"errorSummary": c} for c in causes]}


def _family(path: str) -> str:
    match = re.match(r"^(/api/v1/[a-z]+)", path[path.find("/api/v1/"):] if "/api/v1/" in path else path)
    return match.group(1) if match else "/"


@web.middleware
async def okta_gate(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Around every call: the rate limit and its headers, the request id, errors in Okta's body."""
    family = _family(request.path)
    limit = LIMITS.get(family, DEFAULT_LIMIT)
    window = int(time.time() // 60)
    counters = request.app[COUNTERS]
    used = counters[(family, window)] = counters.get((family, window), 0) + 1
    headers = {"X-Rate-Limit-Limit": str(limit), "X-Rate-Limit-Remaining": str(max(0, limit - used)), "X-Rate-Limit-Reset": str((window + 1) * 60), "X-Okta-Request-Id": request[REQUEST_ID]}
    if used > limit:
        response: web.StreamResponse = web.json_response(error_body(OktaError(429, "E0000047", "API call exceeded rate limit due to too many requests.")), status=429)
    else:
        try:
            response = await handler(request)
        except OktaError as exc:
            response = web.json_response(error_body(exc), status=exc.status)
        except web.HTTPNotFound:
            response = web.json_response(error_body(OktaError(404, "E0000007", f"Not found: Resource not found: {request.path} (Endpoint)")), status=404)
        except web.HTTPMethodNotAllowed:
            response = web.json_response(error_body(OktaError(405, "E0000022", "The endpoint does not support the provided HTTP method")), status=405)
    response.headers.update(headers)
    return response


@web.middleware
async def request_id(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    request[REQUEST_ID] = secrets.token_urlsafe(18)
    return await handler(request)


# --- the wire: who is calling, in one transaction ---------------------------------------------------


def _token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme == "SSWS" and token.strip() else None


@asynccontextmanager
async def _session(request: web.Request) -> AsyncIterator[tuple[asyncpg.Connection, Caller]]:
    """The caller's transaction: the token is checked (401 E0000011) before anything is read."""
    async with request.app[STATE].session(OktaSandbox, _token(request)) as okta:
        yield okta.conn, await okta.caller()


def _key() -> str:
    """A fresh idempotency key per request: Okta deduplicates nothing, so neither does its stand-in."""
    return uuid.uuid4().hex


def _ticket(request: web.Request) -> str:
    """The ticket the caller says it works on (our header; Okta ignores it), kept beside the write
    for tests to ask what a ticket did - never used to deduplicate."""
    return request.headers.get(TICKET_HEADER, "")[:200]


def _base(request: web.Request) -> str:
    path = request.url.path
    return f"{request.url.origin()}{path[: path.find('/api/v1/')] if '/api/v1/' in path else ''}"


async def _log(conn: asyncpg.Connection, caller: Caller, request: web.Request, event_type: str, message: str, targets: list[dict[str, str]]) -> None:
    await state_logic.record_event(
        conn, caller, event_type, message, targets, user_agent=request.headers.get("User-Agent", ""), request_id=request[REQUEST_ID], request_uri=request.path_qs
    )


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise OktaError(400, "E0000003", "The request body was not well-formed.")
    return body


def _flag(request: web.Request, name: str, default: bool) -> bool:
    value = request.query.get(name)
    return default if value is None else value.lower() == "true"


def _page(request: web.Request, kind: str, items: list[dict[str, Any]], cursor: Callable[[dict[str, Any]], str] = lambda item: item["id"]) -> web.Response:
    """One page of ``items`` (in cursor order) after ``after``, with Okta's ``Link`` headers."""
    default, most = PAGES[kind]
    try:
        limit = max(1, min(int(request.query.get("limit", default)), most))
    except ValueError:
        raise OktaError(400, "E0000001", f"Api validation failed: limit: {request.query['limit']!r} is not a number") from None
    after = request.query.get("after")
    rest = [item for item in items if after is None or cursor(item) > after]
    page = rest[:limit]
    return _paged(request, page, cursor(page[-1]) if len(rest) > limit else None)


def _paged(request: web.Request, page: list[dict[str, Any]], next_after: str | None) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict()
    url = request.url
    headers.add("Link", f'<{url}>; rel="self"')
    if next_after is not None:
        headers.add("Link", f'<{url.update_query(after=next_after)}>; rel="next"')
    return web.json_response(page, headers=headers)


# --- Okta's resources, as Okta renders them ------------------------------------------------------


def user_json(base: str, user: User, created: datetime, status_changed: datetime, mobile_phone: str | None = None) -> dict[str, Any]:
    profile = {
        "firstName": user.first_name, "lastName": user.last_name, "mobilePhone": mobile_phone, "secondEmail": None, "login": user.login, "email": user.email,
        "countryCode": user.country.strip() or None, "department": user.department, "title": user.title, "employeeNumber": user.employee_number, "managerId": user.manager_id,
    }
    active = user.status not in {"STAGED", "PROVISIONED", "DEPROVISIONED"}
    return {
        "id": user.id, "status": user.status, "created": _iso(created), "activated": _iso(created) if active else None, "statusChanged": _iso(status_changed),
        "lastLogin": None, "lastUpdated": _iso(max(created, status_changed)), "passwordChanged": None, "type": {"id": "oty1sandboxdefault0"},
        "profile": profile, "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": f"{base}/api/v1/users/{user.id}"}},
    }


def app_json(base: str, app: App) -> dict[str, Any]:
    return {
        "id": app.id, "name": app.name, "label": app.label, "status": app.status, "signOnMode": app.sign_on_mode, "features": [],
        "visibility": {"autoSubmitToolbar": False, "hide": {"iOS": False, "web": False}}, "accessibility": {"selfService": False},
        "_links": {"users": {"href": f"{base}/api/v1/apps/{app.id}/users"}, "self": {"href": f"{base}/api/v1/apps/{app.id}"}},
    }


def app_user_json(base: str, au: AppUser) -> dict[str, Any]:
    return {
        "id": au.user_id, "externalId": None, "created": _iso(au.created), "lastUpdated": _iso(au.created), "scope": au.scope, "status": au.status,
        "statusChanged": _iso(au.created), "passwordChanged": None, "syncState": au.sync_state, "lastSync": _iso(au.created) if au.sync_state != "DISABLED" else None,
        "credentials": {"userName": au.login}, "profile": {},
        "_links": {"app": {"href": f"{base}/api/v1/apps/{au.app_id}"}, "user": {"href": f"{base}/api/v1/users/{au.user_id}"}},
    }


def group_json(base: str, group: Any) -> dict[str, Any]:
    return {
        "id": group.id, "objectClass": ["okta:user_group"], "type": "BUILT_IN" if group.name == "Everyone" else "OKTA_GROUP",
        "profile": {"name": group.name, "description": group.description}, "_links": {"users": {"href": f"{base}/api/v1/groups/{group.id}/users"}},
    }


def factor_json(base: str, user_id: str, row: dict[str, Any], login: str | None = None) -> dict[str, Any]:
    profile = dict(row["profile"])
    if row["factor_type"] == "push":  # what Okta Verify reports of the device at enrolment
        profile = {"credentialId": login, "deviceType": "SmartPhone_Android" if profile.get("platform") == "ANDROID" else "SmartPhone_IPhone", "version": "17.4", **profile}
    return {
        "id": row["id"], "factorType": row["factor_type"], "provider": row["provider"], "vendorName": row["provider"], "status": row["status"],
        "created": _iso(row["created"]), "lastUpdated": _iso(row["last_updated"]), "profile": profile,
        "_links": {"self": {"href": f"{base}/api/v1/users/{user_id}/factors/{row['id']}"}, "user": {"href": f"{base}/api/v1/users/{user_id}"}},
    }


def event_json(row: dict[str, Any]) -> dict[str, Any]:
    load = lambda v: json.loads(v) if isinstance(v, str) else v  # noqa: E731
    return {
        "uuid": row["uuid"], "published": _iso(row["published"]), "eventType": row["event_type"], "version": "0", "severity": row["severity"], "legacyEventType": None,
        "displayMessage": row["display_message"], "actor": load(row["actor"]), "client": load(row["client"]), "outcome": load(row["outcome"]), "target": load(row["target"]),
        "transaction": load(row["transaction"]), "debugContext": load(row["debug_context"]), "authenticationContext": {"authenticationStep": 0, "externalSessionId": None},
        "securityContext": {}, "request": {"ipChain": []},
    }


def _user_target(user: User) -> dict[str, str]:
    return {"id": user.id, "type": "User", "alternateId": user.login, "displayName": f"{user.first_name} {user.last_name}"}


# --- handlers ------------------------------------------------------------------------------------


async def get_user(request: web.Request) -> web.Response:
    async with _session(request) as (conn, caller):
        record = await state_logic.user_record(conn, caller, request.match_info["id"])
    return web.json_response(user_json(_base(request), record["user"], record["created"], record["status_changed"], record["mobile_phone"]))


def _new_user(body: dict[str, Any]) -> NewUser:
    profile = body.get("profile")
    if not isinstance(profile, dict):
        raise OktaError(400, "E0000001", "Api validation failed: profile: The field cannot be left blank")
    text = lambda name: str(profile.get(name) or "")  # noqa: E731
    if not text("countryCode"):
        raise OktaError(400, "E0000001", "Api validation failed: countryCode: The field cannot be left blank")
    return NewUser(
        login=text("login"), email=text("email"), first_name=text("firstName"), last_name=text("lastName"), country=text("countryCode"), department=text("department"),
        title=profile.get("title"), employee_number=profile.get("employeeNumber"), manager_id=profile.get("managerId"),
    )


async def create_user(request: web.Request) -> web.Response:
    """``POST /api/v1/users?activate=``: STAGED with ``activate=false``; activated (and emailed) otherwise, as Okta's default."""
    profile = _new_user(await _json(request))
    async with _session(request) as (conn, caller):
        user = await state_logic.create_user(conn, caller, profile, idempotency_key=_key(), ticket_id=_ticket(request))
        await _log(conn, caller, request, "user.lifecycle.create", "Create Okta user", [_user_target(user)])
        if _flag(request, "activate", True):
            await state_logic.change_status(conn, caller, user.id, "activate", idempotency_key=_key(), ticket_id=_ticket(request))
            await _log(conn, caller, request, "user.lifecycle.activate", "Activate Okta user", [_user_target(user)])
        record = await state_logic.user_record(conn, caller, user.id)
    return web.json_response(user_json(_base(request), record["user"], record["created"], record["status_changed"], record["mobile_phone"]))


_LIFECYCLE_MESSAGES = {"activate": "Activate Okta user", "deactivate": "Deactivate Okta user", "suspend": "Suspend Okta user", "unsuspend": "Unsuspend Okta user"}


async def lifecycle(request: web.Request) -> web.Response:
    operation = request.match_info["operation"]
    send_email = _flag(request, "sendEmail", operation in {"activate", "reset_password"})
    base = _base(request)
    async with _session(request) as (conn, caller):
        user = await state_logic.get_user(conn, caller, request.match_info["id"]) if caller.may("users.read") else None
        user_id = user.id if user else request.match_info["id"]
        if operation == "reset_password":
            reset = await state_logic.reset_password(conn, caller, user_id, idempotency_key=_key(), ticket_id=_ticket(request), send_email=send_email)
            target = _user_target(user) if user else {"id": reset.user_id, "type": "User"}
            await _log(conn, caller, request, "user.account.reset_password", "Reset password for user", [target])
            return web.json_response({} if send_email else {"resetPasswordUrl": f"{base}/reset_password/{reset.token}"})
        if operation not in _LIFECYCLE_MESSAGES:
            raise OktaError(404, "E0000022", f"The endpoint does not support the provided HTTP method (lifecycle/{operation})")
        done = await state_logic.change_status(conn, caller, user_id, operation, idempotency_key=_key(), ticket_id=_ticket(request), send_email=send_email)
        target = _user_target(user) if user else {"id": done.user_id, "type": "User"}
        await _log(conn, caller, request, f"user.lifecycle.{operation}", _LIFECYCLE_MESSAGES[operation], [target])
    if operation == "activate" and not send_email:
        token = secrets.token_urlsafe(15)
        return web.json_response({"activationUrl": f"{base}/welcome/{token}", "activationToken": token})
    return web.json_response({})


async def list_user_groups(request: web.Request) -> web.Response:
    async with _session(request) as (conn, caller):
        groups = await state_logic.list_user_groups(conn, caller, request.match_info["id"])
    return _page(request, "groups", sorted((group_json(_base(request), g) for g in groups), key=lambda g: g["id"]))


async def list_group_users(request: web.Request) -> web.Response:
    base = _base(request)
    async with _session(request) as (conn, caller):
        logins = await state_logic.list_group_members(conn, caller, request.match_info["gid"])
        users = [await state_logic.user_record(conn, caller, login) for login in logins]
    rendered = [user_json(base, r["user"], r["created"], r["status_changed"], r["mobile_phone"]) for r in users]
    return _page(request, "users", sorted(rendered, key=lambda u: u["id"]))


async def list_factors(request: web.Request) -> web.Response:
    async with _session(request) as (conn, caller):
        rows = await state_logic.factor_records(conn, caller, request.match_info["id"])
        login = (await state_logic._user_row(conn, request.match_info["id"]))["login"]
    return web.json_response([factor_json(_base(request), request.match_info["id"], r, login) for r in rows])


async def get_factor(request: web.Request) -> web.Response:
    async with _session(request) as (conn, caller):
        rows = await state_logic.factor_records(conn, caller, request.match_info["id"], request.match_info["fid"])
        login = (await state_logic._user_row(conn, request.match_info["id"]))["login"]
    return web.json_response(factor_json(_base(request), request.match_info["id"], rows[0], login))


async def delete_factor(request: web.Request) -> web.Response:
    """``DELETE /api/v1/users/{id}/factors/{fid}``: 204; the System Log names the user and the enrolment."""
    async with _session(request) as (conn, caller):
        done = await state_logic.reset_factor(conn, caller, request.match_info["id"], request.match_info["fid"], idempotency_key=_key(), ticket_id=_ticket(request))
        user = await state_logic._user_row(conn, done.user_id)
        name = FACTOR_NAMES.get((done.factor_type, done.provider), done.factor_type)
        targets = [{"id": user["id"], "type": "User", "alternateId": user["login"], "displayName": f"{user['first_name']} {user['last_name']}"},
                   {"id": done.factor_id, "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": name}]
        await _log(conn, caller, request, "user.mfa.factor.deactivate", "Reset factor for user", targets)
    return web.Response(status=204)


_USER_FILTER = re.compile(r'^\s*user\.id\s+eq\s+"([^"]+)"\s*$')


async def list_apps(request: web.Request) -> web.Response:
    """``GET /api/v1/apps?q=`` or ``?filter=user.id eq "{id}"&expand=user/{id}`` (each app with the user's assignment embedded)."""
    base = _base(request)
    wanted = request.query.get("filter")
    async with _session(request) as (conn, caller):
        if wanted is None:
            apps = [app_json(base, a) for a in await state_logic.list_apps(conn, caller, request.query.get("q"))]
        else:
            match = _USER_FILTER.match(wanted)
            if match is None:
                raise OktaError(400, "E0000031", f"Invalid search criteria: {wanted}")
            apps = []
            expand = request.query.get("expand") == f"user/{match.group(1)}"
            for au in await state_logic.list_user_apps(conn, caller, match.group(1)):
                rendered = app_json(base, await state_logic.get_app(conn, caller, au.app_id))
                if expand:
                    rendered["_embedded"] = {"user": app_user_json(base, au)}
                apps.append(rendered)
    return _page(request, "apps", sorted(apps, key=lambda a: a["id"]))


async def get_app(request: web.Request) -> web.Response:
    async with _session(request) as (conn, caller):
        app = await state_logic.get_app(conn, caller, request.match_info["app"])
    return web.json_response(app_json(_base(request), app))


async def list_app_users(request: web.Request) -> web.Response:
    async with _session(request) as (conn, caller):
        users = await state_logic.list_app_users(conn, caller, request.match_info["app"])
    return _page(request, "app_users", sorted((app_user_json(_base(request), u) for u in users), key=lambda u: u["id"]))


async def get_app_user(request: web.Request) -> web.Response:
    async with _session(request) as (conn, caller):
        au = await state_logic.get_app_user(conn, caller, request.match_info["app"], request.match_info["uid"])
    return web.json_response(app_user_json(_base(request), au))


async def assign_user(request: web.Request) -> web.Response:
    """``POST /api/v1/apps/{id}/users`` with ``{"id": uid, "scope": "USER"}``: the app user, 200."""
    body = await _json(request)
    if not isinstance(body.get("id"), str) or not body["id"]:
        raise OktaError(400, "E0000001", "Api validation failed: id: The field cannot be left blank")
    app_id = request.match_info["app"]
    async with _session(request) as (conn, caller):
        done = await state_logic.assign_user(conn, caller, app_id, body["id"], idempotency_key=_key(), ticket_id=_ticket(request))
        if done.changed:
            app = await state_logic.get_app(conn, caller, app_id)
            await _log(conn, caller, request, "application.user_membership.add", "Add user to application membership",
                       [{"id": done.user_id, "type": "User"}, {"id": app.id, "type": "AppInstance", "alternateId": app.label, "displayName": app.label}])
        au = await state_logic.get_app_user(conn, caller, app_id, done.user_id)
    return web.json_response(app_user_json(_base(request), au))


async def unassign_user(request: web.Request) -> web.Response:
    app_id = request.match_info["app"]
    async with _session(request) as (conn, caller):
        done = await state_logic.unassign_user(conn, caller, app_id, request.match_info["uid"], idempotency_key=_key(), ticket_id=_ticket(request))
        await _log(conn, caller, request, "application.user_membership.remove", "Remove user from application membership",
                   [{"id": done.user_id, "type": "User"}, {"id": app_id, "type": "AppInstance"}])
    return web.Response(status=204)


_CLAUSE = re.compile(r'^\s*([A-Za-z.]+)\s+eq\s+"([^"]*)"\s*$')


def _filters(text: str | None) -> dict[str, str]:
    """The System Log's ``filter`` as ``field eq "value"`` clauses joined by ``and`` (what the sandbox evaluates)."""
    where: dict[str, str] = {}
    for clause in re.split(r"\s+and\s+", text or "") if text else []:
        match = _CLAUSE.match(clause)
        if match is None or match.group(1) not in state_logic.LOG_FILTER_FIELDS:
            raise OktaError(400, "E0000031", f"Invalid search criteria: {clause.strip()} (the sandbox evaluates {', '.join(state_logic.LOG_FILTER_FIELDS)} with eq)")
        where[match.group(1)] = match.group(2)
    return where


async def list_logs(request: web.Request) -> web.Response:
    """``GET /api/v1/logs``: a bounded request (``until`` given) pages until the events run out; a
    polling request (no ``until``) always answers a next link, as Okta's does, for the client to poll."""
    now = datetime.now(UTC)
    since = _when(request.query["since"], "since") if "since" in request.query else now - timedelta(days=7)
    until = _when(request.query["until"], "until") if "until" in request.query else now
    default, most = PAGES["logs"]
    try:
        limit = max(1, min(int(request.query.get("limit", default)), most))
    except ValueError:
        raise OktaError(400, "E0000001", f"Api validation failed: limit: {request.query['limit']!r} is not a number") from None
    after = None
    if cursor := request.query.get("after"):
        stamp, _, last = cursor.partition("_")
        after = (datetime.fromtimestamp(int(stamp) / 1_000_000, UTC), last)
    async with _session(request) as (conn, caller):
        rows = await state_logic.list_events(conn, caller, since=since, until=until, where=_filters(request.query.get("filter")), limit=limit, after=after)
    page, more = rows[:limit], len(rows) > limit
    last_row = page[-1] if page else None
    next_after = f"{int(last_row['published'].timestamp() * 1_000_000)}_{last_row['uuid']}" if last_row else (cursor or f"{int(now.timestamp() * 1_000_000)}_")
    return _paged(request, [event_json(r) for r in page], next_after if more or "until" not in request.query else None)


def create_app(state: Any) -> web.Application:
    """Okta's Management API, mounted under ``/okta`` by the simulator."""
    app = web.Application(middlewares=[request_id, okta_gate])
    app[STATE], app[COUNTERS] = state, {}
    r = app.router
    r.add_post("/api/v1/users", create_user)
    r.add_get("/api/v1/users/{id}", get_user)
    r.add_post("/api/v1/users/{id}/lifecycle/{operation}", lifecycle)
    r.add_get("/api/v1/users/{id}/groups", list_user_groups)
    r.add_get("/api/v1/users/{id}/factors", list_factors)
    r.add_get("/api/v1/users/{id}/factors/{fid}", get_factor)
    r.add_delete("/api/v1/users/{id}/factors/{fid}", delete_factor)
    r.add_get("/api/v1/groups/{gid}/users", list_group_users)
    r.add_get("/api/v1/apps", list_apps)
    r.add_get("/api/v1/apps/{app}", get_app)
    r.add_get("/api/v1/apps/{app}/users", list_app_users)
    r.add_post("/api/v1/apps/{app}/users", assign_user)
    r.add_get("/api/v1/apps/{app}/users/{uid}", get_app_user)
    r.add_delete("/api/v1/apps/{app}/users/{uid}", unassign_user)
    r.add_get("/api/v1/logs", list_logs)
    return app
