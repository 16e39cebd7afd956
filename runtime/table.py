"""A compacted topic read whole and kept current: the latest event per key, in every instance.

Like a Kafka Streams global table: no consumer group (every instance reads every partition), read
from the beginning at start, then followed. ``caught_up()`` waits until the reader has reached the
high watermark that fetch responses report for each partition, so a service can refuse work until
it knows, say, which coworkers are active.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition

from aiokafka import ConsumerRecord

from contracts import codec
from contracts.envelope import Envelope
from contracts.events import DeadLetterCode
from contracts.topics import BY_NAME, Topic
from runtime import header_keys, logs
from runtime.fetching import FetchPace
from runtime.settings import ServiceSettings
from runtime.signing import Keyring, Refusal, speaks_for

E = TypeVar("E", bound=Envelope[Any])
log = logs.get(__name__)


class TopicTable(Generic[E]):
    """``keyring``: rows are believed only when signed by the topic's owner (None: a reader that
    holds no service keys, such as a person's CLI, shows what the topic holds without that check).
    ``on_refused(record, code, reason)``: told of every record that is not a row (to dead-letter it)."""

    def __init__(
        self,
        bootstrap: str,
        topic: Topic,
        *,
        keyring: Keyring | None,
        on_change: Callable[[E], None] | None = None,
        on_refused: Callable[[ConsumerRecord, DeadLetterCode, str], None] | None = None,
        client_id: str = "workforce-table",
        pace: FetchPace | None = None,
    ) -> None:
        self.bootstrap, self.topic, self.keyring, self.on_change, self.on_refused, self.client_id = bootstrap, topic, keyring, on_change, on_refused, client_id
        #: How long an empty fetch may be held (runtime/fetching.py); busy while the table loads.
        self.pace = pace or FetchPace.of(ServiceSettings())
        #: Records that were not rows (shown by listings, dead-lettered by services).
        self.refused = 0
        self.rows: dict[str, E] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._partitions: list[TopicPartition] = []

    def __getitem__(self, key: str) -> E:
        return self.rows[key]

    def get(self, key: str) -> E | None:
        return self.rows.get(key)

    def __iter__(self) -> Iterator[E]:
        return iter(list(self.rows.values()))

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def data(self) -> dict[str, Any]:
        """The rows' payloads by key (what most readers want)."""
        return {key: event.data for key, event in self.rows.items()}

    async def start(self) -> None:
        header_keys.install()
        self.pace.expect()
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, client_id=self.client_id, fetch_max_wait_ms=self.pace.wait_ms)
        await self._consumer.start()
        self._partitions = [TopicPartition(self.topic.name, p) for p in range(self.topic.partitions)]
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)
        self._task = asyncio.create_task(self._follow(), name=f"table:{self.topic.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._consumer is not None:
            await self._consumer.stop()

    async def caught_up(self, timeout_s: float = 60.0) -> None:
        """Wait until every partition has been read up to its high watermark."""
        assert self._consumer is not None, "start() the table first"
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            behind = [tp for tp in self._partitions if self._consumer.highwater(tp) is None or await self._consumer.position(tp) < self._consumer.highwater(tp)]
            if not behind:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"table {self.topic.name}: partitions {[tp.partition for tp in behind]} not read after {timeout_s:.0f}s")
            await asyncio.sleep(0.05)

    async def _follow(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self.pace.poll(self._consumer, max_records=5000)
            for records in batch.values():
                for record in records:
                    if (refusal := self._apply(record)) is not None:
                        self.refused += 1
                        log.error("table record skipped", topic=self.topic.name, position=f"{record.topic}/{record.partition}/{record.offset}", reason_code=refusal.code, reason=refusal.reason[:300])
                        if self.on_refused is not None:
                            self.on_refused(record, refusal.code, refusal.reason)

    def _apply(self, record: ConsumerRecord) -> Refusal | None:
        """Take one record into the table, or say why not: a record that is not a row its owner
        wrote (unsigned or signed by anyone else, no key, a key that is not text, a tombstone, an
        unreadable value, a key that is not the event's own) never changes a row, and never stops
        the table following."""
        key, value = record.key, record.value
        if (why := header_keys.why_unreadable(record.headers)) is not None:
            return Refusal("schema", why)
        if self.keyring is not None:
            signer = self.keyring.verify(self.topic, key, value, record.headers)
            if isinstance(signer, Refusal):
                return signer
        try:
            name = key.decode("utf-8") if key is not None else None
        except UnicodeDecodeError:
            name = None
        if name is None:
            return Refusal("not_a_row", f"a record with {'no key' if key is None else 'a key that is not UTF-8'} on table {self.topic.name}")
        if value is None:  # nobody deletes rows: a coworker is offboarded, a budget reset, by a new row
            return Refusal("not_a_row", f"a tombstone for {name[:100]!r} on table {self.topic.name}: rows are changed by new rows, never deleted")
        try:
            event = codec.decode_as(value, self.topic.event)
        except codec.DecodeError as exc:
            return Refusal(exc.code, exc.reason)
        if self.keyring is not None and (refusal := speaks_for(signer, event)) is not None:
            return refusal
        if self.topic.key(event).decode() != name:
            return Refusal("not_a_row", f"a record keyed {name[:100]!r} for row {self.topic.key(event).decode()[:100]!r}")
        self.rows[name] = event  # type: ignore[assignment]
        if self.on_change is not None:
            self.on_change(event)  # type: ignore[arg-type]
        return None


async def read_topic(bootstrap: str, name: str) -> list[Any]:
    """Every record on topic ``name`` now (to each partition's high watermark), without a group."""
    header_keys.install()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    try:
        partitions = [TopicPartition(name, p) for p in range(BY_NAME[name].partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        while True:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for tp_records in batch.values():
                records.extend(tp_records)
            behind = [tp for tp in partitions if consumer.highwater(tp) is None or await consumer.position(tp) < consumer.highwater(tp)]
            if not behind:
                return records
    finally:
        await consumer.stop()
