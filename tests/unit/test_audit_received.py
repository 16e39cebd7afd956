"""The audit takes each record as received: who wrote it is settled by its signature, its envelope
is checked cheaply, and what fails either is dead-lettered with the reason, never audited as an event.
The decoder is exercised in memory, as the runtime calls it on a consumed batch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from contracts import codec, topics
from contracts.codec import Received
from contracts.envelope import Actor
from contracts.events import ApprovalDecision, ApprovalGranted, CoworkerStated, SkillRequested
from contracts.topics import Topic
from runtime.service import Service
from runtime.settings import ServiceSettings
from tests.conftest import ticket
from tests.unit.test_contracts import one_of_each


class Audit:
    """A governance-like shell whose audit consumer is ``envelope_only``, and the dead letters it sends."""

    def __init__(self, *, envelope_only: bool = True, max_event_bytes: int = 256 * 1024) -> None:
        self.service = Service("governance", ServiceSettings(max_event_bytes=max_event_bytes), description="audit decoder test")
        self.letters: list[tuple[str, str, str | None]] = []

        def dead_letter(record: ConsumerRecord, code: str, reason: str, *, event_type: str | None, event_id: str | None) -> asyncio.Future[Any]:
            self.letters.append((code, reason, event_id))
            future = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future

        self.service._dead_letter = dead_letter  # type: ignore[method-assign]  # noqa: SLF001

        @self.service.consumer(*topics.ALL, envelope_only=envelope_only)
        async def on_any_event(events: list[Received]) -> None:
            pass

        self.decode = self.service._decoder("on_any_event")  # noqa: SLF001
        self._offset = 0

    def record(self, topic: Topic, value: bytes, *, signer: str | None, key: bytes = b"T-1") -> ConsumerRecord:
        headers = self.service.keyring.signer(signer).sign(topic.name, key, value) if signer else []
        self._offset += 1
        return ConsumerRecord(topic.name, 0, self._offset, 0, 0, key, value, None, len(key), len(value), headers)

    async def take(self, *records: ConsumerRecord) -> list[Any]:
        return await self.decode(SimpleNamespace(raw_message=list(records)), None)


def signed_as_its_writer(event: Any) -> tuple[Any, str]:
    """``event`` as one of its topic's writers would write it, and that writer."""
    topic = topics.topic_of(event)
    services = sorted(set(topic.writers) & set(topics.SERVICES))
    if services:
        return event.model_copy(update={"source": f"/services/{services[0]}"}), services[0]
    if topics.UPSTREAM in topic.writers:
        return event, topics.UPSTREAM
    return event.model_copy(update={"actor": Actor.human("priya.raman")}), "human:priya.raman"


async def test_every_kind_of_event_its_writer_signed_is_taken_with_its_bytes_as_received() -> None:
    audit = Audit()
    events, records = [], []
    for event, writer in map(signed_as_its_writer, one_of_each()):
        topic = topics.topic_of(event)
        events.append(event)
        records.append(audit.record(topic, codec.encode(event), signer=writer, key=topic.key(event)))
    taken = await audit.take(*records)
    assert audit.letters == []
    assert [e.id for e in taken] == [e.id for e in events]
    for received, original in zip(taken, events, strict=True):
        assert isinstance(received, Received)
        assert received.raw == codec.encode(original), "the bytes, exactly as received"
        assert (received.type, received.team, str(received.actor), received.source, received.subject, received.correlation_id, received.causation_id, received.time) == (
            original.type, original.team, str(original.actor), original.source, original.subject, original.correlation_id, original.causation_id, original.time,
        )  # fmt: skip


async def test_a_payload_its_model_would_refuse_is_audited_as_its_writer_signed_it() -> None:
    """The producer validated the payload (and signed it); the audit keeps what was sent. A consumer
    that acts on the event validates it in full and dead-letters it."""
    created = ticket()
    value = codec.encode(created).replace(b'"data":{', b'"data":{"not_in_the_model":1,')
    audit, acting = Audit(), Audit(envelope_only=False)
    assert [e.raw for e in await audit.take(audit.record(topics.TICKET_CREATED, value, signer="upstream"))] == [value]
    assert audit.letters == []
    assert await acting.take(acting.record(topics.TICKET_CREATED, value, signer="upstream")) == []
    assert [code for code, _, _ in acting.letters] == ["schema"]


@pytest.mark.parametrize(
    ("value", "code", "says"),
    [
        (b'{"hello": "world"}', "schema", "envelope is not valid: specversion: Field required"),
        (b"[1, 2]", "schema", "not an object"),
        (b"not json", "not_json", "not JSON"),
        (b"", "not_json", "no value"),
        (b'{"specversion":"1.0"\xff}', "not_json", "not UTF-8"),
        (codec.encode(ticket()).replace(b'"team":"it-support"', b'"team":"IT Support!"'), "schema", "team"),
        (codec.encode(ticket()).replace(b'"actor":"system:tests"', b'"actor":"nobody"'), "schema", "actor"),
        (codec.encode(ticket()).replace(b'"data":{', b'"data":[{').replace(b"}}", b"}]}"), "schema", "data: Input should be an object"),
        (codec.encode(ticket()).replace(b'"data":{', b'"unknown_attribute":1,"data":{'), "schema", "unknown_attribute"),
        (codec.encode(ticket()).replace(b'"title":"', b'"title":"\\u0000'), "schema", "NUL"),
        (codec.encode(ticket().model_copy(update={"time": datetime(1900, 1, 1, tzinfo=UTC)})), "schema", "outside 2000-2200"),
        (codec.encode(ticket()).replace(b'"type":"ticket.created"', b'"type":"ticket.triaged"'), "wrong_topic", "carries ticket.created events"),
        (codec.encode(ticket()).replace(b'"type":"ticket.created"', b'"type":"ticket.invented"'), "unknown_type", "ticket.invented"),
    ],
    ids=["not an envelope", "not an object", "not json", "empty", "not utf-8", "bad team", "bad actor", "data not an object", "unknown attribute", "nul", "implausible time", "another topic's type", "unknown type"],
)
async def test_a_record_that_is_not_a_valid_envelope_is_dead_lettered_with_the_reason(value: bytes, code: str, says: str) -> None:
    audit = Audit()
    assert await audit.take(audit.record(topics.TICKET_CREATED, value, signer="upstream")) == []
    assert len(audit.letters) == 1
    assert audit.letters[0][0] == code and says in audit.letters[0][1], audit.letters[0]


async def test_an_oversized_record_is_dead_lettered_before_it_is_read() -> None:
    audit = Audit(max_event_bytes=2048)
    value = codec.encode(ticket(title="x" * 200, description="y" * 3000))
    assert await audit.take(audit.record(topics.TICKET_CREATED, value, signer="upstream")) == []
    assert [(code, f"{len(value):,} bytes" in reason) for code, reason, _ in audit.letters] == [("oversized", True)]


async def test_who_wrote_a_record_is_settled_first_on_the_light_path_too() -> None:
    audit = Audit()
    created = codec.encode(ticket())
    requested = next(e for e in one_of_each() if isinstance(e, SkillRequested))
    as_triage_from_elsewhere = requested.model_copy(update={"source": "/services/memory"})
    decision = ApprovalDecision(approval_id="A-1", ticket_id="T-1", coworker="jordan", skill="app-access", step=1)
    granted_as_other = ApprovalGranted.create(decision, source="/cli/workforce", team="it-support", actor=Actor.human("someone.else"), correlation_id="T-1")
    records = [
        audit.record(topics.TICKET_CREATED, created, signer=None),  # unsigned
        audit.record(topics.TICKET_CREATED, created, signer="skills"),  # a service that may not write it
        forged := audit.record(topics.TICKET_CREATED, created, signer="upstream"),
        audit.record(topics.SKILL_REQUESTED, codec.encode(as_triage_from_elsewhere), signer="triage"),  # speaks_for: a source not its own
        audit.record(topics.APPROVAL_GRANTED, codec.encode(granted_as_other), signer="human:priya.raman"),  # a person as another
    ]
    records[2] = ConsumerRecord(*[getattr(forged, f) for f in ("topic", "partition", "offset", "timestamp", "timestamp_type", "key")], created.replace(b"it-support", b"it-suppozt"), None, 0, 0, forged.headers)
    assert await audit.take(*records) == []
    assert [code for code, _, _ in audit.letters] == ["unsigned", "not_a_writer", "forged", "not_a_writer", "not_a_writer"]


async def test_a_table_row_keyed_for_another_row_is_refused() -> None:
    audit = Audit()
    state = next(e for e in one_of_each() if isinstance(e, CoworkerStated)).model_copy(update={"source": "/services/governance", "actor": Actor.system("governance")})
    value = codec.encode(state)
    assert len(await audit.take(audit.record(topics.COWORKER_STATE, value, signer="governance", key=topics.COWORKER_STATE.key(state)))) == 1
    assert await audit.take(audit.record(topics.COWORKER_STATE, value, signer="governance", key=b"someone-else")) == []
    assert [code for code, _, _ in audit.letters] == ["not_a_row"]
