"""The desk's HTTP door: one webhook route per upstream system, publishing ``ticket.created`` and
``ticket.answered`` only after the broker acknowledged them.

Per delivery: refuse a body over ``max_bytes`` before reading it whole (413) -> verify the
signature (401, nothing published, nothing dead-lettered) -> parse (400 not JSON / 422 wrong shape,
dead-lettered with the raw body) -> a delivery already published answers 200 ``duplicate`` -> map
(``Skip`` 200, ``Unmappable`` 422 dead-lettered) -> publish, then 202. A broker that fails or
does not acknowledge in ``publish_timeout_s`` answers 503 with ``Retry-After`` and records nothing,
so the sender's retry publishes it (with the same derived id). Every answer is JSON; every outcome
is counted in ``workforce_webhooks_total{system,outcome}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.envelope import Envelope
from runtime import logs
from services.desk.config import SYSTEMS, DeskConfig
from services.desk.intake import PARSERS
from services.desk.intake.events import Lookup, Skip, Unmappable, to_event
from services.desk.intake.inbound import Inbound, Malformed, Unprocessable
from services.desk.intake.jira import JiraWebhook
from services.desk.intake.servicenow import ServiceNowIncident
from services.desk.intake.signatures import JIRA_HEADER, ZENDESK_HEADER, Unauthorized, verify
from services.desk.intake.zendesk import ZendeskWebhook

log = logs.get(__name__)

MAX_BYTES = 1024 * 1024
RETRY_AFTER_S = 5
#: Headers never kept with a dead letter: they prove who sent it, and would let anyone replay it.
_SECRET_HEADERS = {"authorization", "cookie", JIRA_HEADER.lower(), ZENDESK_HEADER.lower()}

#: Publish an event (after recording what it is about), returning once the broker acknowledged it.
Publish = Callable[[Envelope[Any], Inbound], Awaitable[None]]
DeadLetter = Callable[[str, str, str, bytes, dict[str, str]], Awaitable[None]]
Asked = Callable[[str, str], Awaitable[bool]]


@dataclass(frozen=True)
class Delivery:
    event_id: str | None
    ticket_id: str | None
    outcome: str


class DeliveryStore(Protocol):
    async def seen(self, system: str, delivery_id: str) -> Delivery | None: ...

    async def record(self, system: str, delivery_id: str, *, event_id: str | None, ticket_id: str | None, outcome: str) -> None: ...


class Deliveries:
    """The deliveries taken in (``migrations/0002_deliveries.sql``), over the desk's own pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def seen(self, system: str, delivery_id: str) -> Delivery | None:
        row = await self.pool.fetchrow("SELECT event_id, ticket_id, outcome FROM deliveries WHERE system = $1 AND delivery_id = $2", system, delivery_id)
        return Delivery(row["event_id"], row["ticket_id"], row["outcome"]) if row else None

    async def record(self, system: str, delivery_id: str, *, event_id: str | None, ticket_id: str | None, outcome: str) -> None:
        await self.pool.execute(
            "INSERT INTO deliveries (system, delivery_id, event_id, ticket_id, outcome) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (system, delivery_id) DO UPDATE SET"
            " event_id = coalesce(excluded.event_id, deliveries.event_id),"
            " ticket_id = coalesce(excluded.ticket_id, deliveries.ticket_id),"
            " outcome = CASE WHEN deliveries.outcome = 'published' THEN 'published' ELSE excluded.outcome END,"
            " deliveries = deliveries.deliveries + 1, updated_at = now()",
            system, delivery_id, event_id, ticket_id, outcome,
        )


_COUNTERS: dict[int, Counter] = {}


def _counter(registry: CollectorRegistry) -> Counter:
    """One counter per registry (a second Receiver on the same registry shares it)."""
    if id(registry) not in _COUNTERS:
        _COUNTERS[id(registry)] = Counter(
            "workforce_webhooks", "Webhook deliveries received, by upstream system and outcome.", ["system", "outcome"], registry=registry
        )
    return _COUNTERS[id(registry)]


async def _no_lookup(system: str, user_id: str) -> str | None:
    return None


@dataclass
class Receiver:
    """What the webhook routes need, injected: the app wires the broker and stores, tests fakes."""

    config: DeskConfig
    publish: Publish
    dead_letter: DeadLetter
    asked: Asked
    deliveries: DeliveryStore
    lookup: Lookup | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    max_bytes: int = MAX_BYTES
    publish_timeout_s: float = 10.0
    registry: CollectorRegistry | None = None

    def __post_init__(self) -> None:
        self.counter = _counter(self.registry or REGISTRY)

    def count(self, system: str, outcome: str) -> None:
        self.counter.labels(system=system, outcome=outcome).inc()

    async def receive(self, system: str, request: Request) -> JSONResponse:
        bound = log.bind(system=system)
        settings = self.config.system(system)
        if settings is None:
            self.count(system, "disabled")
            return _error(404, f"{system} webhooks are not enabled on this desk")
        body = await self._read(request)
        if isinstance(body, JSONResponse):
            self.count(system, "oversized")
            return body
        headers = dict(request.headers.items())
        try:
            verify(system, body, request.headers, settings.webhook, now=self.clock())
        except Unauthorized as exc:
            self.count(system, "unauthorized")
            bound.warning("webhook refused: not authenticated", reason=exc.reason)
            return _error(401, exc.reason)
        try:
            inbound = PARSERS[system](body, request.headers)
        except Malformed as exc:
            return await self._refuse(system, 400, "not_json", "malformed", exc.reason, body, headers)
        except Unprocessable as exc:
            return await self._refuse(system, 422, "schema", "unprocessable", exc.reason, body, headers)
        bound = bound.bind(delivery_id=inbound.delivery_id, ticket_id=inbound.key)
        if inbound.kind == "ignored":
            self.count(system, "ignored")
            return JSONResponse({"skipped": f"{system} event {inbound.event!r} is not one we take in"}, status_code=200)
        delivery = inbound.delivery_id or ""
        try:
            done = await self.deliveries.seen(system, delivery)
        except Exception as exc:  # noqa: BLE001 - the store down: publish again, ids are derived
            bound.warning("deliveries store unavailable; processing the delivery afresh", error=type(exc).__name__)
            done = None
        if done is not None and done.outcome == "published":
            self.count(system, "duplicate")
            await self._record(bound, system, delivery, event_id=done.event_id, ticket_id=done.ticket_id, outcome="published")  # counts the redelivery
            bound.info("webhook already published", event_id=done.event_id)
            return JSONResponse({"event_id": done.event_id, "ticket_id": done.ticket_id, "duplicate": True}, status_code=200)
        try:
            asked = await self.asked(system, inbound.native_id or "") if inbound.kind == "comment" else False
            event = await to_event(inbound, self.config, now=self.clock(), asked=asked, lookup=self.lookup or _no_lookup)
        except Unmappable as exc:
            return await self._refuse(system, 422, "schema", "unmappable", exc.reason, body, headers)
        except Exception as exc:  # noqa: BLE001 - asked or lookup failed: the sender retries
            self.count(system, "unavailable")
            bound.error("webhook not mapped: a dependency failed", error=type(exc).__name__)
            return _error(503, "a dependency of the desk is unavailable; retry later", retry=True)
        if isinstance(event, Skip):
            self.count(system, "skipped")
            await self._record(bound, system, delivery, event_id=None, ticket_id=inbound.key, outcome="skipped")
            return JSONResponse({"skipped": event.reason}, status_code=200)
        bound = bound.bind(event_id=event.id)
        try:
            await asyncio.wait_for(self.publish(event, inbound), timeout=self.publish_timeout_s)
        except Exception as exc:  # noqa: BLE001 - broker down or slow: nothing recorded, the sender retries
            self.count(system, "unavailable")
            bound.error("webhook not published: the broker did not acknowledge", error=type(exc).__name__)
            return _error(503, "the event broker is unavailable; the delivery was not taken, retry later", retry=True)
        await self._record(bound, system, delivery, event_id=event.id, ticket_id=inbound.key, outcome="published")
        self.count(system, "published")
        bound.info("webhook published", event_type=event.type)
        return JSONResponse({"event_id": event.id, "ticket_id": inbound.key, "duplicate": False}, status_code=202)

    async def _read(self, request: Request) -> bytes | JSONResponse:
        """The body, or 413 as soon as it is known to exceed ``max_bytes`` (declared or streamed)."""
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                return _error(400, f"the Content-Length header is not a number: {declared[:20]!r}")
            if length > self.max_bytes:
                return _error(413, f"the body is {length:,} bytes; the limit is {self.max_bytes:,}")
        received = bytearray()
        async for chunk in request.stream():
            received += chunk
            if len(received) > self.max_bytes:
                return _error(413, f"the body exceeds the limit of {self.max_bytes:,} bytes")
        return bytes(received)

    async def _refuse(self, system: str, status: int, code: str, outcome: str, reason: str, body: bytes, headers: dict[str, str]) -> JSONResponse:
        secret_headers = _SECRET_HEADERS | {self.config.systems[system].webhook.header.lower()}  # type: ignore[index]
        kept = {k: v for k, v in headers.items() if k.lower() not in secret_headers}
        try:
            await asyncio.wait_for(self.dead_letter(system, code, reason, body, kept), timeout=self.publish_timeout_s)
        except Exception as exc:  # noqa: BLE001 - not recorded: the sender retries until it is
            self.count(system, "unavailable")
            log.error("webhook refused but not dead-lettered: the broker did not acknowledge", system=system, error=type(exc).__name__)
            return _error(503, "the event broker is unavailable; retry later", retry=True)
        self.count(system, outcome)
        log.warning("webhook refused and dead-lettered", system=system, status=status, reason=reason)
        return _error(status, reason)

    async def _record(self, bound: Any, system: str, delivery: str, **row: Any) -> None:
        try:
            await self.deliveries.record(system, delivery, **row)
        except Exception as exc:  # noqa: BLE001 - the event is safe on the broker; a retry re-publishes the same id
            bound.warning("delivery not recorded", error=type(exc).__name__)


def _error(status: int, reason: str, *, retry: bool = False) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers={"Retry-After": str(RETRY_AFTER_S)} if retry else None)


class Accepted(BaseModel):
    event_id: str
    ticket_id: str
    duplicate: bool


class Skipped(BaseModel):
    skipped: str


class Refused(BaseModel):
    error: str


_PAYLOADS: dict[str, tuple[type[BaseModel], str]] = {
    "jira": (JiraWebhook, "Jira Cloud webhook (jira:issue_created, comment_created), signed with X-Hub-Signature: sha256=<hex HMAC of the body>; the delivery is X-Atlassian-Webhook-Identifier."),
    "servicenow": (ServiceNowIncident, "An incident insert or update posted by the business rule deploy/desk/servicenow_business_rule.js, signed with the HMAC-SHA256 of the body in the configured header (hex or base64), or HTTP Basic."),
    "zendesk": (ZendeskWebhook, "Zendesk event webhook (zen:event-type:ticket.created, zen:event-type:ticket.comment_added), signed with X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(timestamp + body)) and X-Zendesk-Webhook-Signature-Timestamp."),
}

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A duplicate delivery (the event was published before), or skipped: not an event we publish.", "model": Accepted | Skipped},
    202: {"description": "Published: the broker acknowledged the event.", "model": Accepted},
    400: {"description": "Not a JSON object in UTF-8 (dead-lettered).", "model": Refused},
    401: {"description": "The signature or credentials do not prove the sender (nothing published).", "model": Refused},
    404: {"description": "This system's webhooks are not enabled.", "model": Refused},
    413: {"description": "The body is over the size limit.", "model": Refused},
    422: {"description": "Valid JSON but not the documented payload, or not mappable to a ticket (dead-lettered).", "model": Refused},
    503: {"description": "The broker did not acknowledge: retry after Retry-After seconds.", "model": Refused},
}


def create_app(receiver: Receiver) -> FastAPI:
    """The webhook app: ``POST /webhooks/{jira,servicenow,zendesk}``, its OpenAPI document at
    ``/webhooks/openapi.json`` and docs at ``/webhooks/docs``."""
    app = FastAPI(
        title="Workforce service-desk webhooks",
        version="1",
        description="Tickets and requesters' answers from Jira Cloud, ServiceNow and Zendesk.",
        openapi_url="/webhooks/openapi.json",
        docs_url="/webhooks/docs",
        redoc_url=None,
    )
    components: dict[str, Any] = {}
    for system in SYSTEMS:
        model, summary = _PAYLOADS[system]
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema

        async def route(request: Request, _system: str = system) -> JSONResponse:
            return await receiver.receive(_system, request)

        app.add_api_route(
            f"/webhooks/{system}",
            route,
            methods=["POST"],
            name=f"{system}_webhook",
            summary=f"Receive a {system} webhook",
            description=summary,
            responses=_RESPONSES,
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}},
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            document.setdefault("components", {}).setdefault("schemas", {}).update(components)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "the request is not valid"}, status_code=422)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        log.error("webhook failed", path=request.url.path, error=type(exc).__name__)
        return JSONResponse({"error": "internal error; retry later"}, status_code=500)

    return app
