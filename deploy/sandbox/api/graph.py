"""What the two Microsoft Graph v1.0 simulators (Entra, SharePoint) share, as Graph does it:
``Authorization: Bearer <token>``; the OData error body ``{"error": {"code", "message",
"innerError": {"date", "request-id", "client-request-id"}}}`` with a ``request-id`` header on every
answer; ``WWW-Authenticate`` on a 401; ``@odata.context`` naming the entity set an answer comes from;
``$select`` checked against the entity's properties (an unknown one is a 400, as Graph answers).

Not a vendor module (``server.available()`` mounts only the modules named for a system)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from runtime.vendor.errors import ApiError


REQUEST_ID = web.RequestKey("graph_request_id", str)

def bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def root(request: web.Request) -> str:
    """The service root the request came to, ``http://host:port/<vendor>/v1.0`` (Graph's is
    ``https://graph.microsoft.com/v1.0``): what ``@odata.context`` and ``@odata.nextLink`` start with."""
    path = request.path
    return f"{request.url.origin()}{path[: path.index('/v1.0') + len('/v1.0')]}"


def context(request: web.Request, fragment: str) -> str:
    return f"{root(request)}/$metadata#{fragment}"


def when(value: datetime | None) -> str | None:
    """Graph's timestamps: UTC, whole seconds, ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _request_ids(request: web.Request) -> tuple[str, str]:
    request_id = request.get(REQUEST_ID) or str(uuid.uuid4())
    request[REQUEST_ID] = request_id
    return request_id, request.headers.get("client-request-id", request_id)


def error_response(request: web.Request, status: int, code: str, message: str) -> web.Response:
    request_id, client_request_id = _request_ids(request)
    inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": request_id, "client-request-id": client_request_id}
    headers = {"request-id": request_id, "client-request-id": client_request_id}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'
    return web.json_response({"error": {"code": code, "message": message, "innerError": inner}}, status=status, headers=headers)


def errors_middleware(error_class: type[ApiError], *, not_found: str) -> Any:
    """Every ``error_class`` a handler raises (its transaction already rolled back) as Graph's error
    body; an unknown path (``not_found`` code) or method in the same shape; ``request-id`` on all."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response = await handler(request)
        except error_class as exc:
            return error_response(request, exc.status, exc.code, exc.summary)
        except web.HTTPNotFound:
            return error_response(request, 404, not_found, f"Resource not found for the segment '{request.path.rsplit('/', 1)[-1]}'.")
        except web.HTTPMethodNotAllowed:
            return error_response(request, 405, "Request_BadRequest", f"The HTTP method '{request.method}' is not allowed on '{request.path}'.")
        request_id, client_request_id = _request_ids(request)
        response.headers.setdefault("request-id", request_id)
        response.headers.setdefault("client-request-id", client_request_id)
        return response

    return middleware


def selected(request: web.Request, entity: str, known: Iterable[str], default: Iterable[str], error_class: type[ApiError]) -> list[str]:
    """The properties ``$select`` asks for (``default`` without it); an unknown one is Graph's 400."""
    raw = request.query.get("$select")
    if not raw:
        return list(default)
    names = [n.strip() for n in raw.split(",") if n.strip()]
    known = set(known)
    for name in names:
        if name not in known:
            raise error_class(400, "Request_BadRequest", f"Could not find a property named '{name}' on type 'microsoft.graph.{entity}'.")
    return names


def project(entity: dict[str, Any], names: list[str]) -> dict[str, Any]:
    return {n: entity[n] for n in names}


async def json_body(request: web.Request, error_class: type[ApiError]) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise error_class(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.") from None
    if not isinstance(body, dict):
        raise error_class(400, "BadRequest", "The request body must be a JSON object.")
    return body
