"""The service-desk connector: Jira, ServiceNow and Zendesk webhooks in (``POST /webhooks/<system>``,
published as ``ticket.created`` / ``ticket.answered``), and our ``ticket.question``,
``ticket.resolved``, ``ticket.escalated`` and ``ticket.split`` written back to the requester's ticket
(``ticket.written_back``, or ``ticket.write_back_failed`` when it cannot be).

It is the upstream adapter of the registry (it signs as ``upstream``): the one component that
speaks for the ticketing systems and their users. The webhook routes share the service's HTTP
port with ``/health`` and ``/ready``; expose only ``/webhooks/`` through your ingress."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from aiokafka import ConsumerRecord

from contracts.envelope import Envelope
from contracts.events import TicketAnswered, TicketCreated, TicketEscalated, TicketQuestion, TicketResolved, TicketSplit
from contracts.topics import (
    TICKET_ANSWERED,
    TICKET_CREATED,
    TICKET_ESCALATED,
    TICKET_QUESTION,
    TICKET_RESOLVED,
    TICKET_SPLIT,
    TICKET_WRITE_BACK_FAILED,
    TICKET_WRITTEN_BACK,
    UPSTREAM,
)
from runtime.deadletters import dead_letter
from runtime.service import Service
from services.desk import config as desk_config
from services.desk import tickets
from services.desk.settings import DeskSettings
from services.desk.intake.inbound import Inbound
from services.desk.webhooks import Deliveries, Receiver, create_app
from services.desk.writeback.clients import Clients, NotConfigured
from services.desk.writeback.plan import UpstreamTicket
from services.desk.writeback.run import WriteBacks

SCHEMA = "desk"

settings = DeskSettings()
service = Service(
    "desk",
    settings,
    signs_as=UPSTREAM,
    description="The service-desk connector: tickets and answers in from Jira, ServiceNow and Zendesk webhooks; questions, resolutions, escalations and splits written back to the ticket.",
)
service.publishes(TICKET_CREATED, TICKET_ANSWERED, TICKET_WRITTEN_BACK, TICKET_WRITE_BACK_FAILED)
database = service.database(SCHEMA, Path(__file__).parent / "migrations", pool_size=settings.db_pool_size)


class _Wired:
    config: desk_config.DeskConfig
    http: httpx.AsyncClient
    clients: Clients
    writebacks: WriteBacks


wired = _Wired()


def _configure() -> desk_config.DeskConfig:
    """The file, with ``DESK_SYSTEMS`` overriding each system's API URL."""
    loaded = desk_config.load(settings.desk_config)
    systems = {
        name: system.model_copy(update={"api": system.api.model_copy(update={"url": settings.desk_systems[name]})}) if name in settings.desk_systems else system
        for name, system in loaded.systems.items()
    }
    return loaded.model_copy(update={"systems": systems})


async def _publish(event: Envelope[Any], inbound: Inbound) -> None:
    """Publish what a webhook brought, after recording the ticket a new one is about."""
    if isinstance(event, TicketCreated):
        await tickets.remember(database.pool, tickets.Registered(ticket_id=event.data.ticket_id, team=event.team, ticket=upstream_ticket(inbound)))
    elif isinstance(event, TicketAnswered) and (registered := await tickets.by_upstream(database.pool, inbound.system, inbound.native_id or "")) is not None:
        event = tickets.in_flow(event, registered)
    await service.publish(event)


def upstream_ticket(inbound: Inbound) -> UpstreamTicket:
    """The ticket a webhook is about, with what creating its split's parts there needs."""
    return UpstreamTicket(
        system=inbound.system,
        native_id=inbound.native_id,
        key=inbound.key if inbound.system != "zendesk" else inbound.native_id,
        project=inbound.project,
        requester_id=inbound.requester.user_id if inbound.system == "zendesk" else None,
        caller_id=inbound.requester.user_id if inbound.system == "servicenow" else None,
    )


async def _dead_letter(system: str, code: str, reason: str, body: bytes, headers: dict[str, str]) -> None:
    """A webhook the intake refused, on the dead-letter topic with its raw body (as a record the
    desk read from ``webhooks/<system>``: a webhook has no topic, partition or offset of its own)."""
    now_ms = int(time.time() * 1000)
    record = ConsumerRecord(
        topic=f"webhooks/{system}", partition=0, offset=0, timestamp=now_ms, timestamp_type=0, key=None, value=body,
        checksum=None, serialized_key_size=-1, serialized_value_size=len(body), headers=[(k, v.encode()) for k, v in headers.items()],
    )
    event = dead_letter(record, code, reason, service=service.name, actor=service.actor)  # type: ignore[arg-type]
    service.log.warning("webhook dead-lettered", system=system, reason_code=code, reason=reason[:300])
    await service.publish(event)


async def _asked(system: str, native_id: str) -> bool:
    return await tickets.is_asked(database.pool, system, native_id)


async def _lookup(system: str, user_id: str) -> str | None:
    """A requester's email from the system itself, when its webhook carried only an id (Zendesk)."""
    if system != "zendesk":
        return None
    try:
        return await wired.clients.zendesk().user_email(user_id)
    except NotConfigured:
        return None


@service.on_startup
async def wire() -> None:
    """Read the configuration, then mount the webhook routes (they need the database, open by now)."""
    wired.config = _configure()
    wired.http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
    service.on_shutdown(wired.http.aclose)
    wired.clients = Clients(wired.config, wired.http, rates={system: settings.desk_rate_limit_per_s for system in desk_config.SYSTEMS})
    wired.writebacks = WriteBacks(database.pool, wired.clients, wired.config, attempts=settings.desk_write_attempts, cap_s=settings.desk_write_wait_cap_s)
    receiver = Receiver(
        config=wired.config,
        publish=_publish,
        dead_letter=_dead_letter,
        asked=_asked,
        deliveries=Deliveries(database.pool),
        lookup=_lookup,
        max_bytes=settings.desk_max_body_bytes,
        publish_timeout_s=settings.desk_publish_timeout_s,
        registry=service.progress.registry,
    )
    # The service's HTTP server routes exact paths, each to its app, which sees the path whole.
    webhooks = create_app(receiver)
    for route in webhooks.routes:
        if (path := getattr(route, "path", "")).startswith("/webhooks/"):
            service.app.mount(path, webhooks)
    configured = [name for name in desk_config.SYSTEMS if wired.config.system(name) is not None]
    service.log.info("desk wired", systems=configured, config=str(settings.desk_config))


Written = TicketQuestion | TicketResolved | TicketEscalated | TicketSplit


@service.consumer(TICKET_QUESTION, TICKET_RESOLVED, TICKET_ESCALATED, TICKET_SPLIT, max_records=settings.batch_max_records)
async def on_outcome(events: list[Written]) -> None:
    """Write each event of a ticket that came from upstream back to it: tickets side by side, the
    events of one ticket in the order they happened."""
    per_ticket: dict[str, list[Written]] = defaultdict(list)
    for event in events:
        per_ticket[event.data.ticket_id].append(event)
    await asyncio.gather(*(_write_ticket(sorted(batch, key=lambda e: e.time)) for batch in per_ticket.values()))


async def _write_ticket(events: list[Written]) -> None:
    for event in events:
        registered = await tickets.by_id(database.pool, event.data.ticket_id)
        if registered is None:
            continue  # not a ticket the desk took in (a file's, the CLI's): nothing upstream to write to
        if isinstance(event, TicketQuestion):
            await tickets.asked(database.pool, event.data.ticket_id, event.id)
        elif isinstance(event, TicketResolved | TicketEscalated):
            await tickets.settled(database.pool, event.data.ticket_id)
        outcome = await wired.writebacks.write(event, registered.ticket)
        if isinstance(event, TicketSplit):  # its parts are tickets upstream now: their outcomes go there
            for child, made in zip(event.data.children, await wired.writebacks.children(event.id, registered.ticket), strict=False):
                await tickets.remember(database.pool, tickets.Registered(ticket_id=child.ticket_id, team=registered.team, parent_id=registered.ticket_id, ticket=made))
        service.emit(outcome)
