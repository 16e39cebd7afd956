"""The one way to build and start a service: a FastStream app with batch consumers and health routes.

Delivery is at-least-once. A handler gets a batch of typed events; the offsets of the batch are
committed only after the handler returned *and* every event it emitted is acknowledged by the
broker. Records that cannot be decoded never reach the handler: they go to the dead-letter topic
with the reason, the original bytes and their position. A handler that keeps failing on a batch is
retried, then fed one event at a time so that only the poison event is dead-lettered. Failures of
infrastructure (broker, database) are retried with backoff and never dead-letter anything.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import json
import logging
import signal
import typing
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.specification import AsyncAPI

from contracts import codec
from contracts.envelope import Actor, Envelope
from contracts.events import DeadLetterCode
from contracts.topics import BY_NAME, DEADLETTER, Topic, topic_of
from runtime import fetching, header_keys, logs, seen
from runtime.db import Database
from runtime.deadletters import dead_letter
from runtime.faults import is_transient
from runtime.fetching import FetchPace
from runtime.progress import CONTENT_TYPE, Progress
from runtime.settings import ServiceSettings
from runtime.signing import Keyring, Refusal, Signer, speaks_for
from runtime.table import TopicTable
from runtime.topics import ensure_topics

E = TypeVar("E", bound=Envelope[Any])
Handler = Callable[[list[E]], Awaitable[None]]

#: Events emitted by the handler call in progress; awaited before its offsets are committed.
_outbox: contextvars.ContextVar[list[asyncio.Future[Any]]] = contextvars.ContextVar("outbox")
#: The record each event of the batch in progress came from, by the event object (for ``refuse``).
_records: contextvars.ContextVar[dict[int, ConsumerRecord]] = contextvars.ContextVar("records")


class Service:
    """A named service: its broker connection, its consumers, its health routes, its lifecycle."""

    def __init__(self, name: str, settings: ServiceSettings, *, description: str, signs_as: str | None = None) -> None:
        logs.configure(name, level=settings.log_level, fmt=settings.log_format)
        header_keys.install()  # before the broker's consumers fetch: a header key that is not UTF-8 reaches the decoder
        self.name = name
        self.settings = settings
        self.group_id = f"workforce.{name}"
        self.source = f"/services/{name}"
        self.actor = Actor.system(name)
        self.log = logs.get(f"services.{name}")
        #: Who this service signs as: its name, unless a test shell stands in for another writer.
        self.signs_as = signs_as or name
        self._keyring: Keyring | None = None
        self._signer: Signer | None = None
        self._ready_checks: list[Callable[[], Awaitable[bool]]] = []
        #: The partitions this instance owns now, per topic (shown by ``/ready``).
        self.assignment: dict[str, set[int]] = {}
        self._groups: set[str] = set()
        #: The table topics this service reads whole (for the ACL set, deploy/acls.py).
        self.tables: list[Topic] = []
        #: The stores that remember first-seen event ids (runtime/seen.py), pruned daily.
        self._first_seen: list[Database] = []
        #: Whether each consumer gets through its work: ``/ready`` is 503 while one does not.
        self.progress = Progress(name, max_attempts=settings.stuck_max_attempts, stuck_after_s=settings.stuck_after_s)
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            client_id=f"workforce-{name}",
            graceful_timeout=30.0,
            acks="all",
            linger_ms=5,
            max_batch_size=256 * 1024,
            request_timeout_ms=30_000,
            allow_auto_create_topics=False,
            # The document names the production cluster, whatever this process connects to.
            specification_url="kafka:9092",
            description="Apache Kafka in production (deploy/compose.yaml); the Tansu broker on 127.0.0.1 locally.",
            logger=logging.getLogger("faststream"),
        )
        self.app = AsgiFastStream(
            self.broker,
            asgi_routes=[("/health", self._health_route()), ("/ready", self._ready_route()), ("/metrics", self._metrics_route())],
            logger=logging.getLogger("faststream"),
            specification=AsyncAPI(self.broker, title=f"workforce {name}", version="1", description=description),
        )
        self.app.on_startup(self._load_keys)
        self.app.on_startup(self._ensure_topics)
        #: The handlers that take records as received (``consumer(envelope_only=True)``).
        self._envelope_only: set[str] = set()
        self._unsent_rows: list[tuple[ConsumerRecord, DeadLetterCode, str]] | None = []
        self.app.after_startup(self._send_refused_rows)
        self.app.after_startup(self._start_forgetting)
        self.publishes(DEADLETTER)

    # --- wiring -----------------------------------------------------------------------------

    def on_startup(self, fn: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        self.app.on_startup(fn)
        return fn

    def after_startup(self, fn: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """Run ``fn`` once the broker is connected and the handlers are consuming."""
        self.app.after_startup(fn)
        return fn

    def on_shutdown(self, fn: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        self.app.after_shutdown(fn)
        return fn

    def ready_check(self, fn: Callable[[], Awaitable[bool]]) -> Callable[[], Awaitable[bool]]:
        """Add a readiness check (e.g. the database answers); ``/ready`` is 200 only when all pass."""
        self._ready_checks.append(fn)
        return fn

    def database(self, schema: str, migrations: Path, *, pool_size: int = 8) -> Database:
        """This service's store (``DATABASE_URL``): opened and migrated at start, checked by ``/ready``."""
        database = Database(self.settings.database_url, schema, migrations, pool_size=pool_size)
        self.on_startup(database.open)
        self.on_shutdown(database.close)
        self._ready_checks.append(database.ready)
        return database

    def table(self, topic: Topic, *, on_change: Callable[[Any], None] | None = None) -> TopicTable[Any]:
        """A compacted topic as a table, read whole before this service takes work and kept current."""
        self.tables.append(topic)
        table: TopicTable[Any] = TopicTable(self.settings.kafka_bootstrap_servers, topic, keyring=None, on_change=on_change, on_refused=self._refused_row, client_id=f"workforce-{self.name}-table", pace=FetchPace.of(self.settings))

        async def start() -> None:
            table.keyring = self.keyring  # loaded by now: startup hooks run in order
            await table.start()
            await table.caught_up()
            self.log.info("table loaded", topic=topic.name, rows=len(table))

        self.on_startup(start)
        self.on_shutdown(table.stop)
        return table

    def publishes(self, *topics: Topic) -> None:
        """Declare the topics this service writes, so the AsyncAPI document shows them."""
        for topic in topics:
            self.broker.publisher(
                topic.name,
                title=f"{topic.name}:{self.name}:publish",
                description=topic.description,
                schema=topic.event,
            )

    def consumer(
        self, *topics: Topic, group: str | None = None, max_records: int | None = None, first_seen: Database | None = None, envelope_only: bool = False
    ) -> Callable[[Handler[E]], Handler[E]]:
        """Register ``fn(events)`` as a batch handler for ``topics``, in consumer group
        ``workforce.<service>`` (or ``workforce.<service>.<group>``: every handler of a service needs
        a group of its own, or Kafka would hand one handler's partitions to another).

        The handler's signature is the contract: its annotation (``list[TicketCreated]``) is what
        FastStream validates and what the AsyncAPI document shows.

        ``envelope_only``: the handler takes ``list[codec.Received]``, each record's envelope checked
        (``codec.decode_envelope``) but not its payload, with its bytes as received: for a consumer
        that keeps records rather than acts on them (the audit). Signatures, writers and table keys
        are checked as for any other handler.
        """
        group_id = f"{self.group_id}.{group}" if group else self.group_id
        if first_seen is not None and first_seen not in self._first_seen:
            self._first_seen.append(first_seen)
        if group_id in self._groups:
            raise ValueError(f"consumer group {group_id!r} is taken by another handler of {self.name}; name this one with group=")
        self._groups.add(group_id)

        def register(fn: Handler[E]) -> Handler[E]:
            self.progress.watch(fn.__name__)
            if envelope_only:
                self._envelope_only.add(fn.__name__)

            async def handle(events: list[Any], message: KafkaMessage) -> None:
                await self._run_batch(fn, events, message, first_seen)

            hints = typing.get_type_hints(fn)
            (param,) = inspect.signature(fn).parameters
            annotation = hints[param]
            handle.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
                [
                    inspect.Parameter("events", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation),
                    inspect.Parameter("message", inspect.Parameter.KEYWORD_ONLY, annotation=KafkaMessage),
                ],
                return_annotation=None,
            )
            handle.__name__ = fn.__name__
            handle.__doc__ = fn.__doc__
            handle.__annotations__ = {"events": annotation, "message": KafkaMessage, "return": None}

            subscriber = self.broker.subscriber(
                *[t.name for t in topics],
                group_id=group_id,
                batch=True,
                max_records=max_records or self.settings.batch_max_records,
                fetch_max_wait_ms=self.settings.fetch_max_wait_ms,  # then paced by runtime/fetching.py
                auto_offset_reset="earliest",
                ack_policy=AckPolicy.NACK_ON_ERROR,
                parser=lenient_headers,
                decoder=self._decoder(fn.__name__),
                title=f"{'+'.join(t.name for t in topics)}:{self.name}",
                description=f"{fn.__doc__} (Consumed in batches: each Kafka record is one event.)",
                max_poll_interval_ms=300_000,
                session_timeout_ms=10_000,
                heartbeat_interval_ms=3_000,
                listener=_AssignmentListener(self, fn.__name__),
            )
            fetching.install(subscriber, FetchPace.of(self.settings), max_records=max_records or self.settings.batch_max_records)
            subscriber(handle)
            return fn

        return register

    # --- emitting ---------------------------------------------------------------------------

    def emit(self, event: Envelope[Any]) -> None:
        """Send ``event`` on its topic, keyed per the registry; it is confirmed before the batch commits."""
        pending = _outbox.get(None)
        if pending is None:
            raise RuntimeError("emit() outside a handler: use `await service.publish(event)`")
        topic = topic_of(event)
        pending.append(self._send(topic.name, topic.key(event), codec.encode(event)))

    async def publish(self, event: Envelope[Any]) -> None:
        """Send ``event`` and wait for the broker's acknowledgement (for use outside handlers)."""
        topic = topic_of(event)
        await self._send(topic.name, topic.key(event), codec.encode(event))

    def _send(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[Any]:
        headers = {**_HEADERS, **{k: v.decode() for k, v in self.signer.sign(topic, key, value)}}
        coro = self.broker.publish(value, topic, key=key, headers=headers, no_confirm=True)
        return asyncio.ensure_future(_confirm(coro))

    def refuse(self, event: Envelope[Any], code: DeadLetterCode, reason: str) -> None:
        """Inside a handler: do not act on ``event`` (the handler skips it); it is dead-lettered with
        ``code`` and ``reason``, confirmed before the batch commits, and so audited like any other."""
        pending, records = _outbox.get(None), _records.get(None)
        if pending is None or records is None or id(event) not in records:
            raise RuntimeError("refuse() is for an event of the batch a handler is handling")
        pending.append(self._dead_letter(records[id(event)], code, reason, event_type=event.type, event_id=event.id))

    # --- consuming --------------------------------------------------------------------------

    def _decoder(self, handler: str) -> Callable[..., Awaitable[list[Envelope[Any]]]]:
        envelope_only = handler in self._envelope_only

        async def decode_batch(message: KafkaMessage, original: Any) -> list[Envelope[Any]]:
            events: list[Envelope[Any]] = []
            rejected: list[asyncio.Future[Any]] = []
            sources: list[ConsumerRecord] = []
            for record in message.raw_message:
                topic = BY_NAME.get(record.topic)
                try:
                    if topic is None:
                        raise codec.DecodeError("wrong_topic", f"topic {record.topic!r} is not in the registry")
                    if (why := header_keys.why_unreadable(record.headers)) is not None:
                        raise codec.DecodeError("schema", why)
                    # Who wrote it is settled before a byte of it is read.
                    signer = self.keyring.verify(topic, record.key, record.value, record.headers)
                    if isinstance(signer, Refusal):
                        raise codec.DecodeError(signer.code, signer.reason)
                    if topic.compacted and record.value is None:
                        raise codec.DecodeError("not_a_row", f"a tombstone on table {topic.name}: rows are changed by new rows, never deleted")
                    if envelope_only:
                        event = codec.decode_envelope(record.value, topic.event, max_bytes=self.settings.max_event_bytes)
                    else:
                        event = codec.decode_as(record.value, topic.event, max_bytes=self.settings.max_event_bytes)
                    if (refusal := speaks_for(signer, event)) is not None:
                        raise codec.DecodeError(refusal.code, refusal.reason, event_type=event.type, event_id=event.id)
                    if topic.compacted and record.key != topic.key(event):  # as the table readers see it (runtime/table.py)
                        raise codec.DecodeError("not_a_row", f"a record keyed {record.key!r:.100} for row {topic.key(event).decode()[:100]!r} on table {topic.name}", event_type=event.type, event_id=event.id)
                    events.append(event)
                    sources.append(record)
                except codec.DecodeError as exc:
                    if record.topic == DEADLETTER.name:
                        # Already a dead letter: its bytes are safe where they are; another would breed.
                        self.log.error("unreadable dead letter skipped", position=f"{record.topic}/{record.partition}/{record.offset}", reason=exc.reason[:300])
                        continue
                    rejected.append(self._dead_letter(record, exc.code, exc.reason, event_type=exc.event_type, event_id=exc.event_id))
            if rejected:
                await asyncio.gather(*rejected)
            message.decoded_from = sources  # type: ignore[attr-defined]  # the record of each event, in order
            return events

        async def tracked(message: KafkaMessage, original: Any) -> list[Envelope[Any]]:
            first = message.raw_message[0]
            self.progress.batch_started(handler, f"{first.topic}/{first.partition}/{first.offset}", len(message.raw_message))
            try:
                return await decode_batch(message, original)
            except BaseException as exc:  # the delivery goes back to the broker
                self.progress.batch_failed(handler, exc)
                raise

        return tracked

    async def _run_batch(self, fn: Handler[E], events: list[E], message: KafkaMessage, first_seen: Database | None = None) -> None:
        unreadable = len(message.raw_message) - len(events)  # dead-lettered (or skipped) by the decoder
        if not events:
            self.progress.batch_done(fn.__name__, handled=0, dead_lettered=unreadable)
            return
        sources = getattr(message, "decoded_from", None)
        assert sources is not None and len(sources) == len(events), "events without the records they came from"
        records = {id(event): record for event, record in zip(events, sources, strict=True)}
        token = _records.set(records)
        try:
            received = len(events)
            if first_seen is not None:
                events = await self._without_conflicts(events, first_seen, records)
            dead_lettered = received - len(events) + (await self._handle(fn, events, records) if events else 0)
        except BaseException as exc:  # CancelledError too: the delivery goes back to the broker
            self.progress.batch_failed(fn.__name__, exc)
            raise
        finally:
            _records.reset(token)
        self.progress.batch_done(fn.__name__, handled=received - dead_lettered, dead_lettered=unreadable + dead_lettered)

    async def _without_conflicts(self, events: list[E], first_seen: Database, records: dict[int, ConsumerRecord]) -> list[E]:
        """``events`` less those whose id was first seen with other content (dead-lettered: conflict)."""
        while True:
            try:
                clashes = await seen.conflicts(first_seen.pool, events)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.log.warning("infrastructure fault, retrying", check="first seen", error=repr(exc))
                await asyncio.sleep(1.0)
        if not clashes:
            return events
        await asyncio.gather(*(self._dead_letter(records[id(events[i])], "conflict", why, event_type=events[i].type, event_id=events[i].id) for i, why in clashes.items()))
        return [e for i, e in enumerate(events) if i not in clashes]

    async def _handle(self, fn: Handler[E], events: list[E], records: dict[int, ConsumerRecord]) -> int:
        """The batch whole, or else one event at a time; returns how many events were dead-lettered."""
        for attempt in range(self.settings.poison_retries + 1):
            try:
                await self._attempt(fn, events)
                return 0
            except Exception as exc:  # a bug, or an event the handler cannot take: find which
                if is_transient(exc):
                    raise
                self.log.warning("batch failed", handler=fn.__name__, size=len(events), attempt=attempt + 1, error=repr(exc))
        dead_lettered = 0
        for event in events:
            try:
                await self._attempt(fn, [event])
            except Exception as exc:
                if is_transient(exc):
                    raise
                self.log.exception("event dead-lettered", handler=fn.__name__, event_id=event.id, ticket_id=event.correlation_id)
                reason = f"{fn.__name__} failed on this event: {exc!r}"
                await self._dead_letter(records[id(event)], "processing", reason, event_type=event.type, event_id=event.id)
                dead_lettered += 1
        return dead_lettered

    async def _attempt(self, fn: Handler[E], events: list[E]) -> None:
        """One call of the handler, then wait for everything it emitted; infrastructure faults are retried."""
        delay, waited = 0.2, 0.0
        while True:
            pending: list[asyncio.Future[Any]] = []
            token = _outbox.set(pending)
            try:
                await fn(events)
                await asyncio.gather(*pending)
                return
            except Exception as exc:
                await asyncio.gather(*pending, return_exceptions=True)
                if not is_transient(exc) or waited > 60:
                    raise  # after a minute, hand the batch back to the broker: redelivered, never skipped
                self.log.warning("infrastructure fault, retrying", handler=fn.__name__, error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 5.0)
            finally:
                _outbox.reset(token)

    def _dead_letter(self, record: ConsumerRecord, code: DeadLetterCode, reason: str, *, event_type: str | None, event_id: str | None) -> asyncio.Future[Any]:
        event = dead_letter(record, code, reason, service=self.name, actor=self.actor, event_type=event_type, event_id=event_id)
        self.log.warning("dead-lettered", reason_code=code, reason=reason[:300], position=f"{record.topic}/{record.partition}/{record.offset}", event_id=event_id)
        return self._send(DEADLETTER.name, DEADLETTER.key(event), codec.encode(event))

    def _refused_row(self, record: ConsumerRecord, code: DeadLetterCode, reason: str) -> None:
        """A table record that is not a row its owner wrote: dead-lettered (each service once; its
        instances agree on the dead letter's id). Tables load before the broker connects: those
        found then are sent once it has."""
        if self._unsent_rows is not None:
            self._unsent_rows.append((record, code, reason))
            return
        future = self._dead_letter(record, code, reason, event_type=None, event_id=None)
        future.add_done_callback(lambda f: f.cancelled() or f.exception() is None or self.log.error("dead letter of a table record failed", error=repr(f.exception())))

    async def _start_forgetting(self) -> None:
        if self._first_seen:
            task = asyncio.create_task(self._forget_daily(), name="forget-seen-ids")

            async def stop() -> None:
                task.cancel()

            self.on_shutdown(stop)

    async def _forget_daily(self) -> None:
        """Prune first-seen ids past their topics' retention, at start and then once a day."""
        while True:
            for database in self._first_seen:
                try:
                    if forgotten := await seen.forget_old(database.pool):
                        self.log.info("old event ids forgotten", count=forgotten, older_than_days=seen.KEEP_DAYS)
                except Exception as exc:  # noqa: BLE001 - a missed prune is retried tomorrow; never a reason to stop
                    self.log.warning("forgetting old event ids failed", error=repr(exc))
            await asyncio.sleep(24 * 3600)

    async def _send_refused_rows(self) -> None:
        unsent, self._unsent_rows = self._unsent_rows or [], None
        await asyncio.gather(*(self._dead_letter(r, code, reason, event_type=None, event_id=None) for r, code, reason in unsent))

    # --- health and start -------------------------------------------------------------------

    def _health_route(self) -> Any:
        @get(include_in_schema=False)
        async def health(scope: Any) -> AsgiResponse:
            return AsgiResponse(json.dumps({"service": self.name, "status": "alive"}).encode(), 200, headers={"content-type": "application/json"})

        return health

    def _ready_route(self) -> Any:
        @get(include_in_schema=False)
        async def ready(scope: Any) -> AsgiResponse:
            checks = {"broker": await self.broker.ping(timeout=2.0)}
            for check in self._ready_checks:
                try:
                    checks[check.__name__] = bool(await asyncio.wait_for(check(), 2.0))
                except Exception:
                    checks[check.__name__] = False
            stuck = self.progress.stuck()
            checks["consumers"] = not stuck
            ok = all(checks.values())
            assigned = {topic: sorted(parts) for topic, parts in sorted(self.assignment.items()) if parts}
            body = json.dumps({"service": self.name, "instance": self.settings.instance_id, "ready": ok, "checks": checks, "stuck": stuck, "assigned": assigned}).encode()
            return AsgiResponse(body, 200 if ok else 503, headers={"content-type": "application/json"})

        return ready

    def _metrics_route(self) -> Any:
        @get(include_in_schema=False)
        async def metrics(scope: Any) -> AsgiResponse:
            return AsgiResponse(self.progress.render(), 200, headers={"content-type": CONTENT_TYPE})

        return metrics

    @property
    def keyring(self) -> Keyring:
        """The keys every record read is verified with (read when first needed, so building a
        service, say for its AsyncAPI document, needs none)."""
        if self._keyring is None:
            self._keyring = Keyring.from_env()
        return self._keyring

    @property
    def signer(self) -> Signer:
        """This service's own key: every record it writes is signed with it."""
        if self._signer is None:
            self._signer = self.keyring.signer(self.signs_as)
        return self._signer

    async def _load_keys(self) -> None:
        """Fail at start, not at the first record, when the keys are missing."""
        assert self.signer is not None

    async def _ensure_topics(self) -> None:
        await ensure_topics(self.settings.kafka_bootstrap_servers, replication_factor=self.settings.kafka_replication_factor)

    def run(self) -> None:
        """Serve until SIGINT/SIGTERM; in-flight batches finish (or are redelivered) before exit.

        uvicorn shuts down gracefully on the signal, then raises it again with the handler it found
        installed; that handler turns it into a normal exit, so a clean stop exits with status 0.
        """
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _exit_cleanly)
        self.log.info("starting", group_id=self.group_id, health=f"http://{self.settings.health_host}:{self.settings.health_port}/health")
        asyncio.run(
            self.app.run(
                log_level=logs.level_number(self.settings.log_level),
                run_extra_options={
                    "host": self.settings.health_host,
                    "port": self.settings.health_port,
                    "log_config": None,
                    "access_log": "false",
                    "timeout_graceful_shutdown": 35,
                },
            )
        )


_HEADERS = {"content-type": "application/cloudevents+json"}


class _AssignmentListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Keeps ``service.assignment`` current, so an operator can see who owns which partitions."""

    def __init__(self, service: Service, handler: str) -> None:
        self.service = service
        self.handler = handler

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked:
            self.service.assignment.get(tp.topic, set()).discard(tp.partition)
        if revoked:  # what it had not handled goes to the partitions' next owner
            self.service.progress.released(self.handler)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        for tp in assigned:
            self.service.assignment.setdefault(tp.topic, set()).add(tp.partition)
        self.service.log.info("partitions assigned", assigned={t: sorted(p) for t, p in sorted(self.service.assignment.items()) if p})


async def lenient_headers(records: tuple[ConsumerRecord, ...], parse: Callable[..., Awaitable[Any]]) -> Any:
    """FastStream's batch parser decodes every header as UTF-8; one header that is not (or has no
    value) made it drop the whole batch, valid records with it, unseen by anyone. Headers are read
    leniently here (U+FFFD for what is not UTF-8), so every record reaches the decoder, which
    handles or dead-letters each on its own."""
    return await parse(tuple(_readable_headers(r) for r in records))


def _readable_headers(record: ConsumerRecord) -> ConsumerRecord:
    headers = record.headers or ()
    if all(isinstance(v, bytes) and v.isascii() for _, v in headers):
        return record
    return dataclasses.replace(record, headers=tuple((k, (v or b"").decode("utf-8", "replace").encode()) for k, v in headers))


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


async def _confirm(coro: Awaitable[Any]) -> Any:
    """``publish(no_confirm=True)`` returns the send future; wait for the broker's acknowledgement."""
    return await (await coro)
