"""Events to Kafka record values and back, per the CloudEvents Kafka binding (structured mode).

Decoding is one pass in pydantic-core over a union discriminated by ``type``. Every way a record
can be unreadable maps to one ``DecodeError`` code, which is what the dead-letter record carries.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar, Union

from pydantic import Field, TypeAdapter, ValidationError

from contracts.envelope import CONTENT_TYPE, Envelope
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
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or '(event)'}: {e['msg']}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return DecodeError("schema", f"{event_type} event fails its schema: {problems}{more}", event_type=event_type, event_id=event_id)


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
