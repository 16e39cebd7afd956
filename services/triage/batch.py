"""A batch of tickets read once and decided: what the triage service does with each batch it
consumes, without the broker or the database (the service emits what this returns; benchmarks and
tests call it directly)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from contracts.events import CoworkerState, LlmUsage, TicketCreated
from services.triage.decisions import Outcome, Reading, Triager, triage_actor
from services.triage.reading import Reader, ticket_segments


@dataclass(frozen=True)
class Decided:
    event: TicketCreated
    reading: Reading
    outcome: Outcome
    spent: list[LlmUsage]  # the model calls the reading took


async def triage_batch(reader: Reader, triager: Triager, events: Sequence[TicketCreated], table: Mapping[str, CoworkerState]) -> list[Decided]:
    """Every ticket read in one pass (and its segments in a second, when it may hold several
    requests), then decided one by one."""
    actor = triage_actor(table)
    readings = await reader.read([e.data for e in events], [e.team for e in events], actor, events)
    segmented = [(i, parts) for i, e in enumerate(events) if (parts := ticket_segments(e.data))]
    part_readings = await reader.read_texts([p for _, parts in segmented for p in parts]) if segmented else []
    parts_of: dict[int, list[tuple[str, Reading]]] = {}
    cursor = 0
    for i, parts in segmented:
        parts_of[i] = list(zip(parts, part_readings[cursor : cursor + len(parts)], strict=True))
        cursor += len(parts)
    return [
        Decided(event, reading, triager.decide(event, event.data, reading, table, parts=parts_of.get(i, [])), spent)
        for i, (event, (reading, spent)) in enumerate(zip(events, readings, strict=True))
    ]
