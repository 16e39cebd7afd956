"""The one event envelope: CloudEvents 1.0 attributes plus what every Workforce event needs.

On the wire an event is a CloudEvents *structured-mode* JSON object (one Kafka record value,
``content-type: application/cloudevents+json``). CloudEvents extension attribute names must be
lower-case alphanumerics, so the Python names ``correlation_id`` and friends travel as
``correlationid``; extension values must be scalars, so the actor travels as ``"kind:id"``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

SPECVERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"

#: An upstream ticket reference: ``system:id``, the system's name and its own id of the ticket.
UPSTREAM_REF = r"^[a-z][a-z0-9-]{0,39}:[^\s]{1,250}$"

#: Namespace for event ids derived from their cause, so a redelivered input yields the same ids.
_DERIVED_IDS = uuid.UUID("6f1d7c2e-3b8a-4b7e-9a51-0c8e2f4d9a11")


class ActorKind(StrEnum):
    coworker = "coworker"
    human = "human"
    system = "system"


class Actor(BaseModel):
    """Who did it: an AI coworker, a human, or a system (a service or an upstream tool)."""

    model_config = ConfigDict(frozen=True)

    kind: ActorKind
    id: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^:\s]+$")]

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"

    @classmethod
    def parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            kind, sep, ident = value.partition(":")
            if not sep:
                raise ValueError(f"actor must be 'kind:id' (kind one of coworker, human, system), got {value!r}")
            return {"kind": kind, "id": ident}
        return value

    @classmethod
    def coworker(cls, name: str) -> Actor:
        return cls(kind=ActorKind.coworker, id=name)

    @classmethod
    def human(cls, name: str) -> Actor:
        return cls(kind=ActorKind.human, id=name)

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(kind=ActorKind.system, id=name)


WireActor = Annotated[
    Actor,
    BeforeValidator(Actor.parse),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(coworker|human|system):[^:\s]+$",
            "description": "Who acted, as kind:id, e.g. coworker:jordan, human:ana.silva, system:triage.",
        }
    ),
]


class Payload(BaseModel):
    """Base of every event's ``data``. Unknown fields are refused so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=Payload)


def new_event_id() -> str:
    return str(uuid.uuid4())


def derived_event_id(cause_id: str, event_type: str, ordinal: int | str = 0) -> str:
    """The id of an event caused by ``cause_id``: the same input always yields the same id.

    This is what makes reprocessing after a crash harmless: downstream consumers deduplicate
    on event id, and a retried handler re-emits exactly the ids it emitted the first time.
    """
    return str(uuid.uuid5(_DERIVED_IDS, f"{cause_id}/{event_type}/{ordinal}"))


#: The times an event may claim: a year-1 or year-9999 timestamp was acted on by one consumer and
#: refused by the audit's store, leaving an action with no record. Outside these, the record is
#: dead-lettered alike by every consumer.
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def _plausible_time(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST <= aware < LATEST:
        raise ValueError(f"time {value.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")
    return value


class Envelope(BaseModel, Generic[P]):
    """A CloudEvent whose ``data`` is a typed payload.

    Subclassed once per event type (see ``contracts.events``): the subclass pins ``type`` to a
    literal and ``data`` to its payload, and bumps ``schema_version`` on a breaking change.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    specversion: Annotated[str, Field(pattern=r"^1\.0$")] = SPECVERSION
    id: Annotated[str, Field(min_length=1, max_length=200)] = Field(default_factory=new_event_id)
    source: Annotated[str, Field(min_length=1, max_length=500, description="URI-reference of the producer, e.g. /services/triage or /upstream/zendesk.")]
    type: str
    subject: Annotated[str | None, Field(max_length=200, description="The ticket this event is about, where there is one.")] = None
    time: Annotated[datetime, AfterValidator(_plausible_time)] = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    team: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$", description="The team whose work (and budget) this is.")]
    actor: WireActor
    correlation_id: Annotated[str, Field(alias="correlationid", min_length=1, max_length=200, description="The ticket this whole flow belongs to.")]
    causation_id: Annotated[str | None, Field(alias="causationid", max_length=200, description="The id of the event that caused this one.")] = None
    # Bounded where every store that keeps it can keep it (an int4 column): what a consumer acts on,
    # the audit can record.
    schema_version: Annotated[int, Field(alias="schemaversion", ge=1, le=2**31 - 1)] = 1
    #: The ticket in the upstream ticketing system this flow came from, carried by every event the
    #: flow causes (see ``caused``) so that the write-back and the audit can name it. Absent (not
    #: null) on the wire for a flow that did not come from one.
    upstream: Annotated[
        str | None,
        Field(
            max_length=300,
            pattern=UPSTREAM_REF,
            exclude_if=lambda v: v is None,
            description="The upstream ticket this flow came from, as system:id (jira:10042, servicenow:<sys_id>, zendesk:35436).",
        ),
    ] = None
    data: P

    def caused(self, event_cls: type[E], data: Payload, *, source: str, actor: Actor | None = None, ordinal: int | str = 0, subject: str | None = None, team: str | None = None) -> E:
        """Build the event that this event caused, with a deterministic id and the flow's ids carried over."""
        return event_cls(
            id=derived_event_id(self.id, event_cls.event_type(), ordinal),
            source=source,
            subject=subject if subject is not None else self.subject,
            team=team or self.team,
            actor=actor or self.actor,
            correlation_id=self.correlation_id,
            causation_id=self.id,
            upstream=self.upstream,
            data=data,
        )

    @classmethod
    def event_type(cls) -> str:
        return cls.model_fields["type"].default

    @classmethod
    def create(cls, data: Payload, *, source: str, team: str, actor: Actor, correlation_id: str, subject: str | None = None, id: str | None = None, upstream: str | None = None) -> Self:
        """Build a first event of a flow (one with no cause inside Workforce)."""
        return cls(
            id=id or new_event_id(),
            upstream=upstream,
            source=source,
            subject=subject,
            team=team,
            actor=actor,
            correlation_id=correlation_id,
            data=data,
        )


E = TypeVar("E", bound=Envelope[Any])
