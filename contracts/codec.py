"""Events to Kafka record values and back, per the CloudEvents Kafka binding (structured mode).

Decoding is one pass in pydantic-core over a union discriminated by ``type``. Every way a record
can be unreadable maps to one ``DecodeError`` code, which is what the dead-letter record carries.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from contracts.envelope import CONTENT_TYPE, EARLIEST, LATEST, UPSTREAM_REF, Actor, ActorKind, Envelope
from contracts.events import EVENT_TYPES, DeadLetterCode

#: Kafka's default max.message.bytes is 1 MiB; an event is far smaller than that or it is an error.
MAX_EVENT_BYTES = 256 * 1024

HEADERS: list[tuple[str, bytes]] = [("content-type", CONTENT_TYPE.encode())]

AnyEvent = Annotated[Union[tuple(EVENT_TYPES)], Field(discriminator="type")]  # noqa: UP007
_ANY_EVENT: TypeAdapter[Envelope[Any]] = TypeAdapter(AnyEvent)

E = TypeVar("E", bound=Envelope[Any])


class DecodeError(ValueError):
    """A record that is not a valid Workforce event. ``code`` is the dead-letter reason code."""

    def __init__(self, code: DeadLetterCode, reason: str, *, event_type: str | None = None, event_id: str | None = None) -> None:
        super().__init__(f"{code}: {reason}")
        self.code: DeadLetterCode = code
        self.reason = reason
        self.event_type = event_type
        self.event_id = event_id


def encode(event: Envelope[Any]) -> bytes:
    return event.__pydantic_serializer__.to_json(event, by_alias=True)


def decode(value: bytes | None, *, max_bytes: int = MAX_EVENT_BYTES) -> Envelope[Any]:
    """Parse and validate one record value into its event class, or raise ``DecodeError``."""
    if value is None or not value:
        raise DecodeError("not_json", "the record has no value")
    if len(value) > max_bytes:
        raise DecodeError("oversized", f"the record is {len(value):,} bytes; the limit is {max_bytes:,}")
    if b"\\u0000" in value and _NUL.search(value):
        # A NUL is not text for PostgreSQL (nor most of the systems a ticket reaches): refuse it here,
        # once, rather than let one consumer take it and another fail on it.
        event_type, event_id = _peek(value)
        raise DecodeError("schema", "the event contains a NUL character (\\u0000), which is not text", event_type=event_type, event_id=event_id)
    try:
        return _ANY_EVENT.validate_json(value)
    except ValidationError as exc:
        raise _explain(exc, value) from None


def decode_as(value: bytes | None, expected: type[E], *, max_bytes: int = MAX_EVENT_BYTES) -> E:
    """Like ``decode``, and the event must be of the one type its topic carries."""
    event = decode(value, max_bytes=max_bytes)
    if not isinstance(event, expected):
        raise DecodeError(
            "wrong_topic",
            f"this topic carries {expected.event_type()} events; got a {event.type} event",
            event_type=event.type,
            event_id=event.id,
        )
    return event


def _explain(exc: ValidationError, value: bytes) -> DecodeError:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]["type"] if errors else ""
    if first in {"json_invalid", "json_type"}:
        return DecodeError("not_json", f"the record is not JSON: {errors[0]['msg']}")
    event_type, event_id = _peek(value)
    if first == "union_tag_invalid":
        known = ", ".join(sorted(t.event_type() for t in EVENT_TYPES))
        return DecodeError("unknown_type", f"unknown event type {event_type!r}; known types: {known}", event_type=event_type, event_id=event_id)
    if first == "union_tag_not_found":
        return DecodeError("schema", "the event has no 'type' attribute", event_id=event_id)
    if not errors[0]["loc"]:
        return DecodeError("schema", "the record is JSON but not an object; an event is a CloudEvents JSON object")
    return DecodeError("schema", f"{event_type} event fails its schema: {_problems(errors, skip=1)}", event_type=event_type, event_id=event_id)


def _problems(errors: list[Any], *, skip: int = 0) -> str:
    """The first five validation errors as ``field: message`` (locations less their first ``skip``
    parts: the union's tag), and how many more there are."""
    listed = "; ".join(f"{'.'.join(str(p) for p in e['loc'][skip:]) or '(event)'}: {e['msg']}" for e in errors[:5])
    return listed + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else "")


_PEEK = TypeAdapter(dict[str, Any])
#: A JSON NUL escape: \u0000 after an even number of backslashes (not a written backslash-u0000).
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _peek(value: bytes) -> tuple[str | None, str | None]:
    """Best-effort type and id of an invalid event, for the dead-letter record."""
    try:
        raw = _PEEK.validate_json(value)
    except ValidationError:
        return None, None
    kind, ident = raw.get("type"), raw.get("id")
    return (kind if isinstance(kind, str) else None), (ident if isinstance(ident, str) else None)


# --- the envelope alone, for a consumer that keeps records as received (the audit) -------------


class _AnyObject(BaseModel):
    """An event's ``data``, required only to be a JSON object (its fields are not read)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Received(BaseModel):
    """An event as a consumer that keeps records takes it: the envelope's attributes validated with
    the envelope's own limits (in pydantic-core alone: no Python validator runs), ``data`` only
    required to be an object, and the record's bytes kept to be stored and hashed as they came.
    Its payload's schema was validated by its producer, whose signature says who that was."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    specversion: Annotated[str, Field(pattern=r"^1\.0$")]
    id: Annotated[str, Field(min_length=1, max_length=200)]
    source: Annotated[str, Field(min_length=1, max_length=500)]
    type: str
    subject: Annotated[str | None, Field(max_length=200)] = None
    time: datetime
    datacontenttype: str = "application/json"
    team: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    actor_text: Annotated[str, Field(alias="actor", max_length=220, pattern=r"^(coworker|human|system):[^:\s]{1,200}$")]
    correlation_id: Annotated[str, Field(alias="correlationid", min_length=1, max_length=200)]
    causation_id: Annotated[str | None, Field(alias="causationid", max_length=200)] = None
    schema_version: Annotated[int, Field(alias="schemaversion", ge=1, le=2**31 - 1)] = 1
    upstream: Annotated[str | None, Field(max_length=300, pattern=UPSTREAM_REF)] = None
    data: _AnyObject

    @property
    def actor(self) -> Actor:
        """Who acted, as ``Envelope.actor`` (already validated as ``kind:id``)."""
        return _actor(self.actor_text)

    # The record's bytes are kept beside the fields, not as one (no JSON attribute can set them),
    # and not as pydantic private attributes, whose set-up per instance costs more than the check.

    @property
    def raw(self) -> bytes:
        """The record value exactly as received."""
        return self.__dict__["_raw"]  # type: ignore[no-any-return]

    @property
    def text(self) -> str:
        """The record value as received, as text (it is UTF-8: JSON is)."""
        return self.__dict__["_text"]  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=4096)
def _actor(text: str) -> Actor:
    """The few actors a stream names, built once each (an ``Actor`` is frozen: safe to share)."""
    kind, _, ident = text.partition(":")
    return Actor.model_construct(kind=ActorKind(kind), id=ident)


_RECEIVED: TypeAdapter[Received] = TypeAdapter(Received)
_KNOWN_TYPES = frozenset(t.event_type() for t in EVENT_TYPES)
_event_type = functools.cache(lambda cls: cls.event_type())


def decode_envelope(value: bytes | None, expected: type[Envelope[Any]], *, max_bytes: int = MAX_EVENT_BYTES) -> Received:
    """The cheap check: ``value`` is one JSON object with a valid envelope, of ``expected``'s type,
    within ``max_bytes``, with no NUL, at a plausible time; or ``DecodeError`` with the codes
    ``decode_as`` uses. The payload is not checked against its event model (``decode_as`` does that)."""
    if value is None or not value:
        raise DecodeError("not_json", "the record has no value")
    if len(value) > max_bytes:
        raise DecodeError("oversized", f"the record is {len(value):,} bytes; the limit is {max_bytes:,}")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError("not_json", f"the record is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    if b"\\u0000" in value and _NUL.search(value):
        event_type, event_id = _peek(value)
        raise DecodeError("schema", "the event contains a NUL character (\\u0000), which is not text", event_type=event_type, event_id=event_id)
    try:
        event = _RECEIVED.validate_json(value)
    except ValidationError as exc:
        raise _explain_envelope(exc, value) from None
    if event.type != (expected_type := _event_type(expected)):
        code: DeadLetterCode = "wrong_topic" if event.type in _KNOWN_TYPES else "unknown_type"
        raise DecodeError(code, f"this topic carries {expected_type} events; got a {event.type[:100]!r} event", event_type=event.type, event_id=event.id)
    at = event.time if event.time.tzinfo is not None else event.time.replace(tzinfo=UTC)
    if not EARLIEST <= at < LATEST:
        raise DecodeError("schema", f"{event.type} event's envelope is not valid: time: time {event.time.isoformat()} is outside {EARLIEST.year}-{LATEST.year}", event_type=event.type, event_id=event.id)
    event.__dict__["_raw"], event.__dict__["_text"] = value, text
    return event


def _explain_envelope(exc: ValidationError, value: bytes) -> DecodeError:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]["type"] if errors else ""
    if first in {"json_invalid", "json_type"}:
        return DecodeError("not_json", f"the record is not JSON: {errors[0]['msg']}")
    if not errors[0]["loc"]:
        return DecodeError("schema", "the record is JSON but not an object; an event is a CloudEvents JSON object")
    event_type, event_id = _peek(value)
    return DecodeError("schema", f"{event_type or 'the'} event's envelope is not valid: {_problems(errors)}", event_type=event_type, event_id=event_id)
