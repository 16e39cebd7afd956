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
    subject = "subject"  # the entity a table or a command is about: a coworker, a budget


#: The components that write records, each with a key of its own (see runtime.signing).
TRIAGE, SKILLS, MEMORY, GOVERNANCE, BILLING = SERVICES = ("triage", "skills", "memory", "governance", "billing")
#: The adapter that takes tickets and requesters' replies in from the upstream ticketing systems.
UPSTREAM = "upstream"
#: A person, signing with their own key as ``human:<id>``: the records' actor must be that person.
PEOPLE = "people"
WRITERS = (*SERVICES, UPSTREAM, PEOPLE)


class Topic(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    event: type[Envelope]
    key_by: KeyBy
    partitions: int
    retention_ms: int
    description: str
    #: A table: Kafka keeps the latest record per key (cleanup.policy=compact).
    compacted: bool = False
    #: Who may write it: a record signed by anyone else is dead-lettered, never acted on; a table
    #: (compacted) has exactly one writer, its owner.
    writers: frozenset[str]

    def key(self, event: Envelope[Any]) -> bytes:
        """The record key for ``event`` on this topic."""
        return _KEYS[self.key_by](event).encode()

    @property
    def configs(self) -> dict[str, str]:
        if self.compacted:
            return {"cleanup.policy": "compact", "retention.ms": "-1"}
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": "delete"}


_KEYS: dict[KeyBy, Callable[[Envelope[Any]], str]] = {
    KeyBy.ticket: lambda e: e.correlation_id,
    KeyBy.team: lambda e: e.team,
    KeyBy.subject: lambda e: e.subject or e.correlation_id,
}


def _topic(event: type[Envelope], key_by: KeyBy, *, writers: tuple[str, ...], partitions: int = 6, days: int = 7, compacted: bool = False) -> Topic:
    assert set(writers) <= set(WRITERS), writers
    assert not compacted or len(writers) == 1, "a table has one owner"
    return Topic(
        writers=frozenset(writers),
        name=event.event_type(),
        event=event,
        key_by=key_by,
        partitions=partitions,
        retention_ms=days * DAY_MS,
        description=(event.__doc__ or "").strip(),
        compacted=compacted,
    )


TICKET_CREATED = _topic(ev.TicketCreated, KeyBy.ticket, writers=(UPSTREAM,))
TICKET_TRIAGED = _topic(ev.TicketTriaged, KeyBy.ticket, writers=(TRIAGE,))
TICKET_ESCALATED = _topic(ev.TicketEscalated, KeyBy.ticket, writers=(TRIAGE, SKILLS), days=30)
TICKET_RESOLVED = _topic(ev.TicketResolved, KeyBy.ticket, writers=(SKILLS, UPSTREAM), days=30)
TICKET_SPLIT = _topic(ev.TicketSplit, KeyBy.ticket, writers=(TRIAGE,), days=30)
TICKET_QUESTION = _topic(ev.TicketQuestion, KeyBy.ticket, writers=(TRIAGE, SKILLS), days=30)
TICKET_ANSWERED = _topic(ev.TicketAnswered, KeyBy.ticket, writers=(UPSTREAM,), days=30)
TICKET_REROUTED = _topic(ev.TicketRerouted, KeyBy.ticket, writers=(UPSTREAM, PEOPLE), days=365)
#: What the service-desk connector (signing as the upstream adapter) wrote back, or could not.
TICKET_WRITTEN_BACK = _topic(ev.TicketWrittenBack, KeyBy.ticket, writers=(UPSTREAM,), days=30)
TICKET_WRITE_BACK_FAILED = _topic(ev.TicketWriteBackFailed, KeyBy.ticket, writers=(UPSTREAM,), days=30)
SKILL_REQUESTED = _topic(ev.SkillRequested, KeyBy.ticket, writers=(TRIAGE, SKILLS))
SKILL_STEP = _topic(ev.SkillStep, KeyBy.ticket, writers=(SKILLS,), days=30)
SKILL_COMPLETED = _topic(ev.SkillCompleted, KeyBy.ticket, writers=(SKILLS,))
SKILL_FAILED = _topic(ev.SkillFailed, KeyBy.ticket, writers=(SKILLS,))
LLM_USAGE = _topic(ev.LlmUsage, KeyBy.team, writers=(TRIAGE, MEMORY), days=30)
MEMORY_RECORDED = _topic(ev.MemoryRecorded, KeyBy.ticket, writers=(MEMORY,))
BUDGET_ALERT = _topic(ev.BudgetAlert, KeyBy.team, writers=(BILLING,), partitions=3, days=365)
DEADLETTER = _topic(ev.DeadLettered, KeyBy.ticket, writers=(*SERVICES, UPSTREAM), partitions=3, days=30)
MEMORY_FORGOTTEN = _topic(ev.MemoryForgotten, KeyBy.subject, writers=(MEMORY,), partitions=3, days=365)
BUDGET_STATE = _topic(ev.BudgetState, KeyBy.subject, writers=(BILLING,), partitions=3, compacted=True)
#: Request and reply keyed alike (by ticket), so a ticket's recalls stay in order; short-lived.
MEMORY_RECALL_REQUESTED = _topic(ev.MemoryRecallRequested, KeyBy.ticket, writers=(TRIAGE, SKILLS, PEOPLE), days=1)
MEMORY_RECALLED = _topic(ev.MemoryRecalled, KeyBy.ticket, writers=(MEMORY,), days=1)
#: Keyed by the subject to forget; kept a year, like memory.forgotten, as the request's record.
MEMORY_ERASURE_REQUESTED = _topic(ev.MemoryErasureRequested, KeyBy.subject, writers=(PEOPLE,), partitions=3, days=365)
#: Keyed by the document, so its chunks arrive in order; a document is ingested again to change it.
MEMORY_KNOWLEDGE = _topic(ev.MemoryKnowledgeIngested, KeyBy.subject, writers=(PEOPLE,), partitions=3, days=7)
#: Leases are keyed by team, like llm.usage, so one billing consumer decides a team's leases in order.
BUDGET_LEASE_REQUESTED = _topic(ev.BudgetLeaseRequested, KeyBy.team, writers=(TRIAGE, SKILLS, MEMORY), days=1)
#: Keyed by the holder (the subject): a caller reads the grants addressed to it.
BUDGET_LEASE_GRANTED = _topic(ev.BudgetLeaseGranted, KeyBy.subject, writers=(BILLING,), partitions=3, days=1)
BUDGET_LEASE_RETURNED = _topic(ev.BudgetLeaseReturned, KeyBy.team, writers=(TRIAGE, SKILLS, MEMORY), days=1)
SPEND_REPORT = _topic(ev.SpendReport, KeyBy.team, writers=(BILLING,), partitions=3, days=365)
COWORKER_COMMAND = _topic(ev.CoworkerCommanded, KeyBy.subject, writers=(PEOPLE,), partitions=3, days=365)
COWORKER_CHANGED = _topic(ev.CoworkerChanged, KeyBy.subject, writers=(GOVERNANCE,), partitions=3, days=365)
COWORKER_REJECTED = _topic(ev.CoworkerRejected, KeyBy.subject, writers=(GOVERNANCE,), partitions=3, days=365)
COWORKER_STATE = _topic(ev.CoworkerStated, KeyBy.subject, writers=(GOVERNANCE,), partitions=3, compacted=True)
POLICY_ALLOWED = _topic(ev.PolicyAllowed, KeyBy.ticket, writers=(SKILLS,), days=30)
POLICY_DENIED = _topic(ev.PolicyDenied, KeyBy.ticket, writers=(SKILLS,), days=30)
#: Keyed by subject ("policy"), compacted: the latest record is the policy in force; the history is in the audit trail.
POLICY_CHANGED = _topic(ev.PolicyChanged, KeyBy.subject, writers=(SKILLS,), partitions=1, compacted=True)
APPROVAL_REQUESTED = _topic(ev.ApprovalRequested, KeyBy.ticket, writers=(SKILLS,), days=30)
APPROVAL_GRANTED = _topic(ev.ApprovalGranted, KeyBy.ticket, writers=(PEOPLE,), days=30)
APPROVAL_REJECTED = _topic(ev.ApprovalRejected, KeyBy.ticket, writers=(PEOPLE,), days=30)

ALL: tuple[Topic, ...] = (
    TICKET_CREATED,
    TICKET_TRIAGED,
    TICKET_ESCALATED,
    TICKET_RESOLVED,
    TICKET_SPLIT,
    TICKET_QUESTION,
    TICKET_ANSWERED,
    TICKET_REROUTED,
    TICKET_WRITTEN_BACK,
    TICKET_WRITE_BACK_FAILED,
    SKILL_REQUESTED,
    SKILL_STEP,
    SKILL_COMPLETED,
    SKILL_FAILED,
    LLM_USAGE,
    MEMORY_RECORDED,
    BUDGET_ALERT,
    MEMORY_FORGOTTEN,
    MEMORY_RECALL_REQUESTED,
    MEMORY_RECALLED,
    MEMORY_ERASURE_REQUESTED,
    MEMORY_KNOWLEDGE,
    BUDGET_STATE,
    BUDGET_LEASE_REQUESTED,
    BUDGET_LEASE_GRANTED,
    BUDGET_LEASE_RETURNED,
    SPEND_REPORT,
    COWORKER_COMMAND,
    COWORKER_CHANGED,
    COWORKER_REJECTED,
    COWORKER_STATE,
    POLICY_ALLOWED,
    POLICY_DENIED,
    POLICY_CHANGED,
    APPROVAL_REQUESTED,
    APPROVAL_GRANTED,
    APPROVAL_REJECTED,
    DEADLETTER,
)

BY_NAME: dict[str, Topic] = {t.name: t for t in ALL}
BY_EVENT: dict[type[Envelope], Topic] = {t.event: t for t in ALL}


def topic_of(event: Envelope[Any]) -> Topic:
    return BY_EVENT[type(event)]
