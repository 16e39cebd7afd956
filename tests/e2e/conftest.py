"""Helpers for tests that drive the running stack: produce like an upstream system, read topics back."""

from __future__ import annotations

import asyncio
import csv
import functools
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import ConsumerRecord

from contracts import codec, topics
from contracts.envelope import ActorKind, Envelope
from contracts.events import TicketCreated
from deploy import report
from deploy.stack import Stack
from runtime.signing import Keyring, Signer
from runtime.table import read_topic
from deploy.sandbox.seed import employees
from tests.conftest import FIXTURES, ticket

PASSWORD_TEXTS = [
    ("Forgot my password", "I forgot my password and cannot log in to Okta."),
    ("Account locked", "My account is locked out after too many attempts, please reset my password."),
    ("Password expired", "My password expired this morning and I cannot sign in."),
]


def rightful_writer(topic: topics.Topic, value: bytes | None) -> str:
    """Who would write this record on ``topic``: the person it names (where people may write it), the
    upstream adapter, the service it comes from, or else the topic's first writer (for junk)."""
    try:
        event = codec.decode_as(value or b"", topic.event)
    except codec.DecodeError:
        event = None
    if event is not None and event.actor.kind is ActorKind.human and topics.PEOPLE in topic.writers:
        return str(event.actor)
    upstream_may = event is None or event.actor.kind is not ActorKind.coworker
    if topics.UPSTREAM in topic.writers and upstream_may and (event is None or not event.source.startswith("/services/")):
        return topics.UPSTREAM
    if event is not None and (service := event.source.removeprefix("/services/")) in topic.writers:
        return service
    return next(w for w in (topics.UPSTREAM, *topics.SERVICES) if w in topic.writers)


def signature(topic: str, key: bytes | None, value: bytes | None, signer: str | None = None) -> list[tuple[str, bytes]]:
    """The headers ``signer`` (by default the record's rightful writer) would put on this record."""
    name = signer or rightful_writer(topics.BY_NAME[topic], value)
    return _signer(os.environ["WORKFORCE_KEYS"], name).sign(topic, key, value or b"")


@functools.cache
def _signer(folder: str, name: str) -> Signer:
    return Keyring(Path(folder)).signer(name)


@dataclass
class Kafka:
    bootstrap: str

    def produce_with_librdkafka(
        self,
        records: Sequence[tuple[bytes | None, bytes]],
        topic: str = topics.TICKET_CREATED.name,
        *,
        max_bytes: int = 1_000_000,
        headers: Sequence[tuple[str, bytes | None]] = (),
        sign: bool | str = True,
    ) -> list[tuple[int, int]]:
        """Produce with librdkafka (confluent-kafka), a client that is not ours; return (partition, offset) per record.
        Each record is signed by its rightful writer (``sign=True``), by the writer named, or not at all."""
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 5, "enable.idempotence": False, "message.max.bytes": max_bytes})
        positions: list[tuple[int, int] | None] = [None] * len(records)

        def delivered(index: int):  # noqa: ANN202
            def report_(err, msg) -> None:  # noqa: ANN001
                if err is not None:
                    raise RuntimeError(f"delivery failed: {err}")
                positions[index] = (msg.partition(), msg.offset())

            return report_

        for index, (key, value) in enumerate(records):
            signed = signature(topic, key, value, sign if isinstance(sign, str) else None) if sign else []
            producer.produce(topic, value=value, key=key, headers=[("content-type", b"application/cloudevents+json"), *headers, *signed], on_delivery=delivered(index))
            producer.poll(0)
        remaining = producer.flush(60)
        assert remaining == 0, f"{remaining} records not delivered"
        assert all(p is not None for p in positions)
        return positions  # type: ignore[return-value]

    def publish_tickets(self, events: Sequence[TicketCreated]) -> None:
        self.produce_with_librdkafka([(e.correlation_id.encode(), codec.encode(e)) for e in events])

    def send(self, *events: Envelope[Any]) -> None:
        """Produce events of any type, keyed per the registry, each signed by its rightful writer."""
        for event in events:
            topic = topics.topic_of(event)
            self.produce_with_librdkafka([(topic.key(event), codec.encode(event))], topic=topic.name)

    async def read(self, topic: str) -> list[ConsumerRecord]:
        """Every record on ``topic`` now, read from the start without a consumer group."""
        return await read_topic(self.bootstrap, topic)

    async def events(self, topic: str, tickets: set[str]) -> list[Envelope[Any]]:
        """The events on ``topic`` that belong to ``tickets``, every copy (duplicates included)."""
        out = []
        for record in await self.read(topic):
            try:
                event = codec.decode(record.value)
            except codec.DecodeError:
                continue
            if event.correlation_id in tickets:
                out.append(event)
        return out

    async def team_events(self, topic: str, teams: Sequence[str]) -> list[Envelope[Any]]:
        """The events on ``topic`` of ``teams`` (a split ticket's children have flows of their own)."""
        out = []
        for record in await self.read(topic):
            try:
                event = codec.decode(record.value)
            except codec.DecodeError:
                continue
            if event.team in teams:
                out.append(event)
        return out

    async def all_events(self, tickets: set[str]) -> list[Envelope[Any]]:
        found = await asyncio.gather(*(self.events(t.name, tickets) for t in topics.ALL))
        return [e for events in found for e in events]


@pytest.fixture(scope="session")
def kafka(stack: Stack) -> Kafka:
    assert stack.broker is not None
    return Kafka(stack.broker.bootstrap)


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(stack.database_url)
    yield conn
    await conn.close()


def unique_team(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def resettable_people() -> list[str]:
    """Seeded Okta users whose password can be reset."""
    return [login.split("@")[0] for _, login, *_, status in employees() if status in {"ACTIVE", "LOCKED_OUT", "PASSWORD_EXPIRED"}]


def real_texts() -> list[str]:
    with open(FIXTURES / "it_tickets_sample.csv", newline="") as f:
        return [row["text"] for row in csv.DictReader(f)]


def mixed_tickets(count: int, teams: Sequence[str]) -> list[TicketCreated]:
    """Half password tickets from people who exist, half real service-desk tickets of all kinds."""
    people, texts = resettable_people(), real_texts()
    out = []
    for i in range(count):
        team = teams[i % len(teams)]
        ticket_id = f"{team}-{i:04d}"
        if i % 2 == 0:
            title, description = PASSWORD_TEXTS[i % len(PASSWORD_TEXTS)]
            out.append(ticket(ticket_id, team=team, title=title, description=description, requester=people[i % len(people)]))
        else:
            text = texts[i % len(texts)]
            out.append(ticket(ticket_id, team=team, title=text[:80] or "ticket", description=text, requester=people[(i * 7) % len(people)]))
    return out


async def wait_until_done(db: asyncpg.Connection, tickets: Sequence[TicketCreated], timeout_s: float = 300) -> dict[str, report.TicketStory]:
    return await report.wait_for(db, [t.data.ticket_id for t in tickets], timeout_s=timeout_s)


def duplicates(events: Sequence[Envelope[Any]]) -> dict[str, int]:
    return {k: v for k, v in Counter(e.id for e in events).items() if v > 1}


async def assert_audited_exactly_once(kafka: Kafka, db: asyncpg.Connection, ticket_ids: set[str], *, settle_s: float = 60) -> int:
    """Every event these tickets caused, on any topic, is in the audit trail once; nothing else is.
    A flow's last events (memory's answer to an escalation's recall) may still be arriving when it is
    done: what is compared is given ``settle_s`` to agree; a duplicate fails at once."""
    deadline = time.monotonic() + settle_s
    while True:
        on_topics = {e.id for e in await kafka.all_events(ticket_ids)}
        audited = [r["event_id"] for r in await db.fetch("SELECT event_id FROM governance.audit_events WHERE correlation_id = ANY($1::text[])", list(ticket_ids))]
        assert len(audited) == len(set(audited)), "an event was audited twice"
        missing, extra = on_topics - set(audited), set(audited) - on_topics
        if (not missing and not extra) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert not missing, f"{len(missing)} events on the topics are missing from the audit trail"
    assert not extra, f"{len(extra)} audited events are not on any topic"
    return len(audited)


async def assert_spend_is_the_sum_of_usage(kafka: Kafka, db: asyncpg.Connection, teams: Sequence[str], *, settle_s: float = 60) -> dict[str, tuple[int, int, Any]]:
    """Billing's spend per team equals the sum of the team's distinct usage events on the topic (the
    teams are the test's own), to the last token and cent, once the flows' last usage (memory's recall for an escalation) has arrived: the
    two are compared until they agree or ``settle_s`` passes. Booking twice never agrees."""
    deadline = time.monotonic() + settle_s
    while True:
        usage = {e.id: e for e in await kafka.team_events(topics.LLM_USAGE.name, teams)}
        expected: dict[str, list[Any]] = {}
        for event in usage.values():
            calls_tokens_cost = expected.setdefault(event.team, [0, 0, 0])
            calls_tokens_cost[0] += 1
            calls_tokens_cost[1] += event.data.total_tokens
            calls_tokens_cost[2] += event.data.cost_usd
        rows = await db.fetch(
            "SELECT team, sum(calls) AS calls, sum(prompt_tokens + completion_tokens) AS tokens, sum(cost_usd) AS cost"
            " FROM billing.spend_daily WHERE team = ANY($1::text[]) GROUP BY team",
            list(teams),
        )
        billed = {r["team"]: (int(r["calls"]), int(r["tokens"]), r["cost"]) for r in rows}
        if billed == {team: tuple(v) for team, v in expected.items()} or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert billed == {team: tuple(v) for team, v in expected.items()}
    return billed


async def triage_decisions(kafka: Kafka, ids: set[str]) -> list[Envelope[Any]]:
    """Triage's first word on each ticket: triaged, escalated, split or asked about (every copy)."""
    names = ("ticket.triaged", "ticket.escalated", "ticket.split", "ticket.question")
    return [e for name in names for e in await kafka.events(name, ids) if e.source == "/services/triage" and e.data.ticket_id in ids]


#: Where a record landed: topic, partition, offset.
Position = tuple[str, int, int]


def produce_one(kafka: Kafka, topic: topics.Topic, key: bytes | None, value: bytes | None, *, sign: bool | str = True, headers: Sequence[tuple[str, bytes | None]] = ()) -> Position:
    """Produce one record exactly as given (junk, unsigned or signed by whoever ``sign`` names); return where it landed."""
    ((partition, offset),) = kafka.produce_with_librdkafka([(key, value)], topic=topic.name, sign=sign, headers=headers)  # type: ignore[list-item]
    return (topic.name, partition, offset)


async def dead_letters_at(kafka: Kafka, expected: dict[Position, set[str]], *, timeout_s: float = 90) -> dict[Position, dict[str, Envelope[Any]]]:
    """The dead letters of the records at these positions, by the service that wrote each, once every
    service expected to refuse each record has (or ``timeout_s`` passed: the caller's assertions say
    what is missing). Positions expected to be refused by nobody are reported too (they should stay empty)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found: dict[Position, dict[str, Envelope[Any]]] = {p: {} for p in expected}
        for record in await kafka.read(topics.DEADLETTER.name):
            try:
                letter = codec.decode_as(record.value, topics.DEADLETTER.event)
            except codec.DecodeError:
                continue
            at = (letter.data.source_topic, letter.data.partition, letter.data.offset)
            if at in found:
                found[at].setdefault(letter.data.service, letter)
        if all(services <= set(found[p]) for p, services in expected.items()) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


async def consumer_lag(bootstrap: str) -> dict[tuple[str, str, int], int]:
    """How far each ``workforce.*`` consumer group's committed offset is behind each partition's high
    watermark, for every partition of the registry the group has committed on (lag 0: drained).

    The watermarks are what a plain fetch reports (as ``read_topic`` reads them), not ListOffsets,
    which the local Tansu broker answers wrongly; the committed offsets are asked for by partition
    (Tansu's answer to OffsetFetch for "all partitions" does not decode)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    everything = [TopicPartition(t.name, p) for t in topics.ALL for p in range(t.partitions)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        groups = sorted(g for g, *_ in await admin.list_consumer_groups() if g.startswith("workforce."))
        committed = {g: {tp: o.offset for tp, o in (await admin.list_consumer_group_offsets(g, partitions=everything)).items() if o.offset >= 0} for g in groups}
    finally:
        await admin.close()
    partitions = sorted({tp for offsets in committed.values() for tp in offsets})
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    try:
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, max(offsets.get(tp, 0) for offsets in committed.values()))
        deadline = time.monotonic() + 30
        while any(consumer.highwater(tp) is None for tp in partitions):
            assert time.monotonic() < deadline, "no high watermark for some partitions after 30 s"
            await consumer.getmany(timeout_ms=100, max_records=10_000)
        return {(g, tp.topic, tp.partition): consumer.highwater(tp) - offset for g, offsets in committed.items() for tp, offset in offsets.items()}
    finally:
        await consumer.stop()


async def assert_drained(kafka: Kafka, stack: Stack, *, timeout_s: float = 60) -> None:
    """Every consumer group of every service has committed up to the end of every partition it
    reads, and every service says it is ready (``/ready`` 200: no consumer stuck)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while True:
        lags = await consumer_lag(kafka.bootstrap)
        behind = {where: lag for where, lag in lags.items() if lag}
        if not behind or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    groups = {group for group, *_ in lags}
    assert {f"workforce.{name}" for name in stack.running} <= groups, f"consumer groups with committed offsets: {sorted(groups)}"
    assert not behind, f"consumer groups behind after {timeout_s:.0f}s (group, topic, partition: records): {dict(sorted(behind.items())[:20])}"
    for name, procs in stack.running.items():
        for proc in procs:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{proc.health_port}/ready", timeout=5) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            assert status == 200, f"{name} /ready is {status}: {proc.status()}"
