"""Microsoft Entra ID as Microsoft Graph v1.0 serves it, mounted under ``/entra`` (base URL
``http://host:port/entra``, standing for ``https://graph.microsoft.com``):

- ``GET /v1.0/users/{id | userPrincipalName}`` (``$select``; Graph's default properties without it)
- ``PATCH /v1.0/users/{id}`` ``{"accountEnabled": false}`` -> 204 No Content
- ``POST /v1.0/users/{id}/revokeSignInSessions`` -> 200 ``{"value": true}``
- ``GET /v1.0/users/{id}/memberOf`` (and ``/memberOf/microsoft.graph.group``), ``$top`` pages with
  ``@odata.nextLink``
- ``GET /v1.0/identityProtection/riskyUsers/{id}``: 404 for a user Identity Protection never flagged
- open extensions, ``POST /v1.0/users/{id}/extensions``, ``GET``/``PATCH .../extensions/{name}``:
  where a client keeps its own data on a user (the skills' client keeps its idempotency keys there)

Each request runs the state logic (``deploy/sandbox/entra.py``) in one transaction. Graph takes no
idempotency key, so none is read here: the state logic's key is a fresh one per request, and a
repeated PATCH or revoke acts again, as it would on Graph.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from aiohttp import web

from deploy.sandbox.api import ticket_of
from deploy.sandbox.api.graph import bearer, context, errors_middleware, json_body, project, root, selected, when
from deploy.sandbox.entra import EntraSandbox
from services.skills.connectors.entra import EntraUser, GraphError

#: Graph's default user properties (what ``GET /users/{id}`` returns without ``$select``).
DEFAULT_USER = ("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id")
USER_PROPERTIES = DEFAULT_USER + ("accountEnabled", "department", "employeeId", "usageLocation", "signInSessionsValidFromDateTime", "createdDateTime")
#: ``$top`` of memberOf: Graph's default page and its maximum.
PAGE, MAX_PAGE = 100, 999


def _fresh_key() -> str:
    """The state logic's idempotency key for one request: Graph deduplicates nothing."""
    return uuid.uuid4().hex


async def _user_json(sandbox: EntraSandbox, user: EntraUser) -> dict[str, Any]:
    extra = await sandbox.conn.fetchrow("SELECT given_name, surname, created_date_time FROM entra_users WHERE id = $1", user.id)
    return {
        "businessPhones": [], "displayName": user.display_name, "givenName": extra["given_name"], "jobTitle": user.job_title, "mail": user.mail,
        "mobilePhone": None, "officeLocation": None, "preferredLanguage": "en-US", "surname": extra["surname"], "userPrincipalName": user.user_principal_name,
        "id": user.id, "accountEnabled": user.account_enabled, "department": user.department, "employeeId": user.employee_id,
        "usageLocation": user.usage_location, "signInSessionsValidFromDateTime": when(user.sign_in_sessions_valid_from),
        "createdDateTime": when(extra["created_date_time"]),
    }


def create_app(state: Any) -> web.Application:
    app = web.Application(middlewares=[errors_middleware(GraphError, not_found="Request_ResourceNotFound")])

    def session(request: web.Request) -> Any:
        return state.session(EntraSandbox, bearer(request))

    async def get_user(request: web.Request) -> web.Response:
        names = selected(request, "user", USER_PROPERTIES, DEFAULT_USER, GraphError)
        async with session(request) as entra:
            body = project(await _user_json(entra, await entra.get_user(request.match_info["id"])), names)
        fragment = "users/$entity" if "$select" not in request.query else f"users({','.join(names)})/$entity"
        return web.json_response({"@odata.context": context(request, fragment), **body})

    async def update_user(request: web.Request) -> web.Response:
        body = await json_body(request, GraphError)
        if set(body) != {"accountEnabled"} or not isinstance(body["accountEnabled"], bool):
            raise GraphError(400, "Request_BadRequest", "This simulator updates only 'accountEnabled' (a boolean) on a user.")
        async with session(request) as entra:
            await entra.set_account_enabled(request.match_info["id"], body["accountEnabled"], idempotency_key=_fresh_key(), ticket_id=ticket_of(request))
        return web.Response(status=204)

    async def revoke(request: web.Request) -> web.Response:
        async with session(request) as entra:
            await entra.revoke_sign_in_sessions(request.match_info["id"], idempotency_key=_fresh_key(), ticket_id=ticket_of(request))
        return web.json_response({"@odata.context": context(request, "Edm.Boolean"), "value": True})

    async def member_of(request: web.Request) -> web.Response:
        try:
            top = int(request.query.get("$top", PAGE))
            skip = int(base64.urlsafe_b64decode(request.query["$skiptoken"]).decode()) if "$skiptoken" in request.query else 0
        except ValueError:
            raise GraphError(400, "Request_BadRequest", "Invalid $top or $skiptoken.") from None
        if not 1 <= top <= MAX_PAGE:
            raise GraphError(400, "Request_BadRequest", f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_PAGE} inclusive.")
        async with session(request) as entra:
            groups = await entra.member_of(request.match_info["id"])
            details = {r["id"]: r for r in await entra.conn.fetch("SELECT id, description, mail_nickname FROM entra_groups WHERE id = ANY($1::text[])", [g.id for g in groups])}
        page = groups[skip : skip + top]
        value = [{"@odata.type": "#microsoft.graph.group", "id": g.id, "displayName": g.display_name, "description": details[g.id]["description"],
                  "mailNickname": details[g.id]["mail_nickname"], "groupTypes": [], "securityEnabled": g.security_enabled, "mailEnabled": g.mail_enabled} for g in page]
        cast = request.path.endswith("/microsoft.graph.group")
        body: dict[str, Any] = {"@odata.context": context(request, "groups" if cast else "directoryObjects"), "value": value}
        if skip + top < len(groups):
            token = base64.urlsafe_b64encode(str(skip + top).encode()).decode()
            body["@odata.nextLink"] = f"{root(request)}{request.path[request.path.index('/v1.0') + 5:]}?$top={top}&$skiptoken={token}"
        return web.json_response(body)

    async def risky_user(request: web.Request) -> web.Response:
        async with session(request) as entra:
            risk = await entra.risky_user(request.match_info["id"])
            if risk.risk_last_updated is None:  # Identity Protection lists only users it has flagged
                raise GraphError(404, "ResourceNotFound", f"The riskyUser '{request.match_info['id']}' was not found.")
            who = await entra.conn.fetchrow("SELECT display_name, user_principal_name FROM entra_users WHERE id = $1", risk.user_id)
        return web.json_response({
            "@odata.context": context(request, "identityProtection/riskyUsers/$entity"), "id": risk.user_id, "isDeleted": False, "isProcessing": False,
            "riskLastUpdatedDateTime": when(risk.risk_last_updated), "riskLevel": risk.risk_level, "riskState": risk.risk_state, "riskDetail": risk.risk_detail,
            "userDisplayName": who["display_name"], "userPrincipalName": who["user_principal_name"],
        })

    def _extension(name: str, properties: dict[str, Any], request: web.Request, fragment: str) -> dict[str, Any]:
        return {"@odata.context": context(request, fragment), "@odata.type": "#microsoft.graph.openTypeExtension", "extensionName": name, "id": name, **properties}

    def _own(body: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in body.items() if k not in {"@odata.type", "extensionName", "id"}}

    async def create_extension(request: web.Request) -> web.Response:
        body = await json_body(request, GraphError)
        name = body.get("extensionName")
        if body.get("@odata.type", "").lstrip("#") != "microsoft.graph.openTypeExtension" or not isinstance(name, str) or not name:
            raise GraphError(400, "Request_BadRequest", "An extension needs '@odata.type': 'microsoft.graph.openTypeExtension' and an 'extensionName'.")
        async with session(request) as entra:
            made = await entra.create_extension(request.match_info["id"], name, _own(body))
        return web.json_response(_extension(name, made, request, f"users('{request.match_info['id']}')/extensions/$entity"), status=201)

    async def get_extension(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        async with session(request) as entra:
            found = await entra.get_extension(request.match_info["id"], name)
        return web.json_response(_extension(name, found, request, f"users('{request.match_info['id']}')/extensions/$entity"))

    async def update_extension(request: web.Request) -> web.Response:
        body = await json_body(request, GraphError)
        async with session(request) as entra:
            await entra.update_extension(request.match_info["id"], request.match_info["name"], _own(body))
        return web.Response(status=204)

    r = app.router
    r.add_get("/v1.0/users/{id}", get_user)
    r.add_patch("/v1.0/users/{id}", update_user)
    r.add_post("/v1.0/users/{id}/revokeSignInSessions", revoke)
    r.add_post("/v1.0/users/{id}/microsoft.graph.revokeSignInSessions", revoke)
    r.add_get("/v1.0/users/{id}/memberOf", member_of)
    r.add_get("/v1.0/users/{id}/memberOf/microsoft.graph.group", member_of)
    r.add_get("/v1.0/identityProtection/riskyUsers/{id}", risky_user)
    r.add_post("/v1.0/users/{id}/extensions", create_extension)
    r.add_get("/v1.0/users/{id}/extensions/{name}", get_extension)
    r.add_patch("/v1.0/users/{id}/extensions/{name}", update_extension)
    return app
