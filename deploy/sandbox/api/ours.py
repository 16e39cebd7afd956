"""What the two APIs we define ourselves (payroll, facilities) share, since no vendor standard fixes
them: ``Authorization: Bearer <token>``, one error body ``{"error": {"code", "message", "field"?}}``,
request bodies validated by pydantic (a bad one is a 400 naming the field), and Stripe's
``Idempotency-Key`` on every POST.

Idempotency, as Stripe documents it: the first successful answer to a key (its status and body) is
kept, with a fingerprint of the request it answered (method, path, JSON body) and the caller; the
same request under the same key gets that answer again, with ``Idempotent-Replayed: true``, and acts
no more; a different request under the key is a 422. The record is written in the write's own
transaction, and concurrent requests with one key are serialised, so two deliveries cannot both
act. Unlike Stripe, a refused request (4xx) keeps nothing: it changed nothing, so repeating it is
judged afresh. Keys are kept 30 days. Without the header a write is done as asked, every time.

Not a vendor module (``server.available()`` mounts only the modules named for a system)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ValidationError

from deploy.sandbox.tokens import Caller
from runtime.vendor.errors import ApiError

#: How long a key's answer is kept (Stripe: at least 24 hours).
KEY_RETENTION_DAYS = 30
MAX_KEY_LENGTH = 255

Model = TypeVar("Model", bound=BaseModel)
ErrorFactory = Callable[..., ApiError]


def bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def error_response(exc: ApiError) -> web.Response:
    field = getattr(exc, "field", None)
    body = {"code": exc.code, "message": exc.summary, **({"field": field} if field else {})}
    headers = {"WWW-Authenticate": 'Bearer realm="api"'} if exc.status == 401 else None
    return web.json_response({"error": body}, status=exc.status, headers=headers)


def errors_middleware(error_class: type[ApiError]) -> Any:
    """Every ``error_class`` a handler raises (its transaction already rolled back) as the error body;
    an unknown path or method in the same shape."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except error_class as exc:
            return error_response(exc)
        except web.HTTPNotFound:
            return error_response(error_class(404, "not_found", f"No route {request.method} {request.path}"))
        except web.HTTPMethodNotAllowed:
            return error_response(error_class(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}"))

    return middleware


async def parse(request: web.Request, model: type[Model], invalid: Callable[[str, str], ApiError]) -> tuple[Model, Any]:
    """The request's JSON body as ``model`` and as plain JSON (the fingerprint's); a body that is
    not JSON, or does not fit, is ``invalid(message, field)``."""
    raw = await request.read()
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise invalid("the request body is not JSON", "body") from None
    try:
        return model.model_validate(data), data
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise invalid(f"{field}: {first['msg']}", field) from None


def fingerprint(request: web.Request, data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()


async def once(
    request: web.Request,
    conn: asyncpg.Connection,
    caller: Caller,
    data: Any,
    act: Callable[[str], Awaitable[tuple[int, Any]]],
    *,
    error: ErrorFactory,
    location: Callable[[Any], str] | None = None,
) -> web.Response:
    """Answer a POST at most once per ``Idempotency-Key``: ``act(key)`` does the write (given the
    client's key, or a fresh one without it) and returns the status and body to answer;
    ``location(body)`` is the created resource's path, for the ``Location`` header."""

    def answer(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
        headers = {**(headers or {}), **({"Location": location(body)} if location and status == 201 else {})}
        return web.json_response(body, status=status, headers=headers)

    key = request.headers.get("Idempotency-Key")
    if key is None:
        return answer(*await act(uuid.uuid4().hex))
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise error(400, "invalid_idempotency_key", f"an Idempotency-Key is 1 to {MAX_KEY_LENGTH} characters (this one has {len(key)})")
    system = caller.system
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"idempotency:{system}:{key}")
    earlier = await conn.fetchrow(
        "SELECT coworker, fingerprint, status, body FROM sandbox_idempotency_keys WHERE system = $1 AND key = $2 AND created_at > now() - make_interval(days => $3)",
        system,
        key,
        KEY_RETENTION_DAYS,
    )
    seen = fingerprint(request, data)
    if earlier is not None:
        if earlier["coworker"] != caller.coworker or earlier["fingerprint"] != seen:
            raise error(422, "idempotency_key_reused", f"Idempotency-Key {key!r} was used for a different request; a retry must repeat the first request exactly, and a new request needs a new key")
        return answer(earlier["status"], json.loads(earlier["body"]), {"Idempotent-Replayed": "true"})
    status, body = await act(key)
    await conn.execute(
        "INSERT INTO sandbox_idempotency_keys (system, key, coworker, fingerprint, status, body) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (system, key) DO UPDATE SET coworker = excluded.coworker, fingerprint = excluded.fingerprint, status = excluded.status, body = excluded.body, created_at = now()",
        system,
        key,
        caller.coworker,
        seen,
        status,
        json.dumps(body),
    )
    return answer(status, body)
