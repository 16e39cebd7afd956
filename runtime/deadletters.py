"""Build the dead-letter event for a record a service could not process.

The record is kept whole up to ``MAX_ORIGINAL_BYTES``; a larger one keeps its first bytes, its
size and its SHA-256, while the whole record stays at its recorded position on its own topic for
that topic's retention. That bound keeps every dead letter readable by every consumer, so a dead
letter can never breed another.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import TypeAdapter, ValidationError

from contracts.envelope import Actor, derived_event_id
from contracts.events import DeadLetter, DeadLetterCode, DeadLettered
from runtime.header_keys import readable

MAX_ORIGINAL_BYTES = 128 * 1024

_JSON_OBJECT = TypeAdapter(dict[str, Any])
_TEAM = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


#: Where a field of the dead letter had to be cut to fit its own limit.
CUT = "...[cut]"


def fit(text: str | None, limit: int) -> str | None:
    """``text`` within ``limit`` characters, marked where it was cut: a dead letter can always be
    built, whatever the record it describes claimed to be (an id of 10,000 characters, say)."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - len(CUT)] + CUT


def dead_letter(
    record: ConsumerRecord,
    code: DeadLetterCode,
    reason: str,
    *,
    service: str,
    actor: Actor,
    event_type: str | None = None,
    event_id: str | None = None,
) -> DeadLettered:
    value = record.value or b""
    position = f"{record.topic}/{record.partition}/{record.offset}"
    event_type, event_id = fit(event_type, 200), fit(event_id, 200)
    team, ticket = _best_effort_ids(value)
    return DeadLettered(
        # The record's timestamp joins its position: a broker that starts its offsets again
        # (Tansu keeps topics in memory) must not make a new bad record look like an old one. The
        # reason joins the service: two readers in one service may refuse a record for different
        # reasons (its table as not a row, its consumer as not JSON), and each is kept.
        id=derived_event_id(f"{position}@{record.timestamp}", DeadLettered.event_type(), f"{service}/{code}"),
        source=f"/services/{service}",
        subject=ticket,
        team=team,
        actor=actor,
        correlation_id=ticket or position,
        causation_id=event_id,
        data=DeadLetter(
            reason_code=code,
            reason=reason[:4000],
            service=service,
            source_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key[:4096] if record.key else None,
            headers={fit(readable(str(k)), 200): (v or b"").decode("utf-8", "replace")[:1000] for k, v in list(record.headers or ())[:50]},
            original=value[:MAX_ORIGINAL_BYTES],
            original_size=len(value),
            original_sha256=hashlib.sha256(value).hexdigest(),
            original_type=event_type,
            original_id=event_id,
        ),
    )


def _best_effort_ids(value: bytes) -> tuple[str, str | None]:
    """The team and ticket of a rejected record where they can be read, so its dead letter is findable."""
    if len(value) > MAX_ORIGINAL_BYTES:
        return "unknown", None
    try:
        raw = _JSON_OBJECT.validate_json(value)
    except ValidationError:
        return "unknown", None
    team, ticket = raw.get("team"), raw.get("correlationid")
    team = team if isinstance(team, str) and _TEAM.match(team) else "unknown"
    ticket = ticket if isinstance(ticket, str) and 0 < len(ticket) <= 200 and not ticket.isspace() else None
    return team, ticket
