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

from contracts import codec
from contracts.envelope import Envelope
from contracts.topics import BY_NAME, Topic
from runtime import logs

E = TypeVar("E", bound=Envelope[Any])
log = logs.get(__name__)


class TopicTable(Generic[E]):
    def __init__(self, bootstrap: str, topic: Topic, *, on_change: Callable[[E], None] | None = None, client_id: str = "workforce-table") -> None:
        self.bootstrap, self.topic, self.on_change, self.client_id = bootstrap, topic, on_change, client_id
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
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, client_id=self.client_id, fetch_max_wait_ms=50)
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
            batch = await self._consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batch.values():
                for record in records:
                    self._apply(record.key, record.value)

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        """Take one record into the table, or skip it and say why: a record that is not a row its
        owner would write (no key, a key that is not text, a tombstone, an unreadable value, or a key
        that is not the event's own) never changes a row, and never stops the table following."""
        try:
            name = key.decode("utf-8") if key is not None else None
        except UnicodeDecodeError:
            name = None
        if name is None:
            log.error("table record without a readable key skipped", topic=self.topic.name, key=repr(key)[:100])
            return
        if value is None:  # nobody deletes rows: a coworker is offboarded, a budget reset, by a new row
            log.error("tombstone on a table skipped", topic=self.topic.name, key=name[:100])
            return
        try:
            event = codec.decode_as(value, self.topic.event)
        except codec.DecodeError as exc:
            log.error("unreadable table record skipped", topic=self.topic.name, key=name[:100], reason=exc.reason[:300])
            return
        if self.topic.key(event).decode() != name:
            log.error("table record under another row's key skipped", topic=self.topic.name, key=name[:100], subject=str(event.subject)[:100])
            return
        self.rows[name] = event  # type: ignore[assignment]
        if self.on_change is not None:
            self.on_change(event)  # type: ignore[arg-type]


async def read_topic(bootstrap: str, name: str) -> list[Any]:
    """Every record on topic ``name`` now (to each partition's high watermark), without a group."""
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
