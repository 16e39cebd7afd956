"""The topic registry: every topic, the one event type it carries, its key, partitions and retention.

One topic per event type, named after the type, so a consumer group subscribes to exactly what it
handles and a replay of one kind of event reads one topic. Ticket flows are keyed by the ticket
(the envelope's ``correlationid``) so all events of one ticket stay in order on one partition;
money is keyed by team so one team's spend is aggregated in order.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from contracts import events as ev
from contracts.envelope import Envelope

DAY_MS = 24 * 60 * 60 * 1000


class KeyBy(StrEnum):
    ticket = "ticket"
    team = "team"


class Topic(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    event: type[Envelope]
    key_by: KeyBy
    partitions: int
    retention_ms: int
    description: str

    def key(self, event: Envelope[Any]) -> bytes:
        """The record key for ``event`` on this topic."""
        return _KEYS[self.key_by](event).encode()

    @property
    def configs(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": "delete"}


_KEYS: dict[KeyBy, Callable[[Envelope[Any]], str]] = {
    KeyBy.ticket: lambda e: e.correlation_id,
    KeyBy.team: lambda e: e.team,
}


def _topic(event: type[Envelope], key_by: KeyBy, *, partitions: int = 6, days: int = 7) -> Topic:
    return Topic(
        name=event.event_type(),
        event=event,
        key_by=key_by,
        partitions=partitions,
        retention_ms=days * DAY_MS,
        description=(event.__doc__ or "").strip(),
    )


TICKET_CREATED = _topic(ev.TicketCreated, KeyBy.ticket)
TICKET_TRIAGED = _topic(ev.TicketTriaged, KeyBy.ticket)
TICKET_ESCALATED = _topic(ev.TicketEscalated, KeyBy.ticket, days=30)
TICKET_RESOLVED = _topic(ev.TicketResolved, KeyBy.ticket, days=30)
SKILL_REQUESTED = _topic(ev.SkillRequested, KeyBy.ticket)
SKILL_STEP = _topic(ev.SkillStep, KeyBy.ticket, days=30)
SKILL_COMPLETED = _topic(ev.SkillCompleted, KeyBy.ticket)
SKILL_FAILED = _topic(ev.SkillFailed, KeyBy.ticket)
LLM_USAGE = _topic(ev.LlmUsage, KeyBy.team, days=30)
MEMORY_RECORDED = _topic(ev.MemoryRecorded, KeyBy.ticket)
BUDGET_ALERT = _topic(ev.BudgetAlert, KeyBy.team, partitions=3, days=365)
DEADLETTER = _topic(ev.DeadLettered, KeyBy.ticket, partitions=3, days=30)

ALL: tuple[Topic, ...] = (
    TICKET_CREATED,
    TICKET_TRIAGED,
    TICKET_ESCALATED,
    TICKET_RESOLVED,
    SKILL_REQUESTED,
    SKILL_STEP,
    SKILL_COMPLETED,
    SKILL_FAILED,
    LLM_USAGE,
    MEMORY_RECORDED,
    BUDGET_ALERT,
    DEADLETTER,
)

BY_NAME: dict[str, Topic] = {t.name: t for t in ALL}
BY_EVENT: dict[type[Envelope], Topic] = {t.event: t for t in ALL}


def topic_of(event: Envelope[Any]) -> Topic:
    return BY_EVENT[type(event)]
