"""What an upstream ticketing system does: publish ``ticket.created`` events, keyed by ticket."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from contracts.envelope import Actor
from contracts.events import Attachment, Requester, Ticket, TicketCreated
from contracts.topics import UPSTREAM
from deploy import producing

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
    """Publish as the upstream adapter does: each record signed with the adapter's key."""
    return await producing.send(bootstrap, producing.signer_for(UPSTREAM), events, client_id="workforce-upstream")
