"""What an upstream ticketing system does: publish ``ticket.created`` events, keyed by ticket."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from contracts import codec
from contracts.envelope import Actor
from contracts.events import Attachment, Requester, Ticket, TicketCreated
from contracts.topics import TICKET_CREATED

SAMPLES = Path(__file__).parent / "samples" / "tickets.json"


def ticket_event(raw: dict[str, Any], *, system: str = "servicenow") -> TicketCreated:
    """A ``ticket.created`` event for one ticket as an upstream system describes it."""
    ticket = Ticket(
        ticket_id=raw["ticket_id"],
        title=raw["title"],
        description=raw.get("description", ""),
        requester=Requester(**raw["requester"]),
        channel=raw.get("channel", "portal"),
        attachments=[Attachment(**a) for a in raw.get("attachments", [])],
    )
    return TicketCreated.create(
        ticket,
        source=f"/upstream/{system}",
        team=raw["team"],
        actor=Actor.system(system),
        correlation_id=ticket.ticket_id,
        subject=ticket.ticket_id,
    )


def load(path: Path = SAMPLES) -> list[dict[str, Any]]:
    return json.loads(path.read_text())


async def publish(bootstrap: str, events: Iterable[TicketCreated]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, client_id="workforce-upstream")
    await producer.start()
    try:
        sent = [await producer.send(TICKET_CREATED.name, codec.encode(e), key=TICKET_CREATED.key(e), headers=codec.HEADERS) for e in events]
        for future in sent:
            await future
        return len(sent)
    finally:
        await producer.stop()
