"""How long a consumer lets the broker hold a fetch that finds nothing: short while records flow,
long when the partition is quiet.

A Kafka fetch names how long the broker may hold it when no data waits (``fetch.max.wait.ms``).
Apache Kafka answers a held fetch as soon as data arrives, so a long hold costs nothing there. The
local Tansu broker does not: it answers a held fetch only when the hold runs out, so a record that
arrives meanwhile waits for up to the hold. A fixed short hold keeps each hop fast but makes every
idle consumer fetch tens of times a second (29 consumers at 25 ms used ~1.3 of two cores with
nothing published); a fixed long hold makes each hop slow. So the hold adapts: ``busy_ms`` while
records keep coming (within ``idle_after_s`` of the last one), ``idle_ms`` once the consumer has
been quiet that long. On Apache Kafka set both to the same value (e.g. 500) and nothing adapts.

The consumer loop of a subscriber also waits for data in ``getmany`` instead of sleeping after an
empty poll (FastStream's batch loop sleeps its batch timeout after every empty poll, adding up to
that much to each hop; :func:`install` replaces that loop's poll).

aiokafka reads the hold from its fetcher for each request it builds and offers no public setter;
:meth:`FetchPace.apply` sets it there, and when that attribute is missing (another aiokafka) the
consumer keeps the hold it was built with, which is correct, only not adaptive.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable
from itertools import chain
from typing import Any

from aiokafka import AIOKafkaConsumer

from runtime.settings import ServiceSettings


class FetchPace:
    """The hold for a consumer's next fetch, from when it last received records (pure logic)."""

    def __init__(self, *, busy_ms: int, idle_ms: int, idle_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if busy_ms > idle_ms:
            raise ValueError(f"the busy fetch wait ({busy_ms} ms) is longer than the idle one ({idle_ms} ms)")
        self.busy_ms = busy_ms
        self.idle_ms = idle_ms
        self.idle_after_s = idle_after_s
        self._clock = clock
        self._last_records = float("-inf")  # starts idle: nothing has arrived yet
        #: How far apart records arrive (seconds, a moving average), while they keep coming.
        self._gap_s: float | None = None
        self._expecting = False

    @classmethod
    def of(cls, settings: ServiceSettings) -> FetchPace:
        return cls(busy_ms=settings.fetch_busy_wait_ms, idle_ms=settings.fetch_max_wait_ms, idle_after_s=settings.fetch_idle_after_s)

    def saw(self, records: int) -> None:
        """Note a poll's result: records keep (or make) the consumer busy."""
        if not records:
            return
        now = self._clock()
        gap = now - self._last_records
        if gap < self.idle_after_s:
            self._gap_s = gap if self._gap_s is None else 0.7 * self._gap_s + 0.3 * gap
        else:
            self._gap_s = None  # the first records after a quiet spell: no rate known yet
        self._last_records = now
        self._expecting = False

    def expect(self) -> None:
        """Data is about to arrive (a reply to a request just sent): fetch at the busy hold."""
        self._last_records = self._clock()
        self._expecting = True

    @property
    def wait_ms(self) -> int:
        """Idle: the long hold. Busy: a quarter of the usual gap between records, within the busy and
        idle holds, so a consumer whose records come a second apart does not fetch 40 times between
        them, and one whose records stream in fetches at the busy hold (on a broker that holds to the
        end, a record then waits about an eighth of its gap: 12 ms for records 100 ms apart)."""
        if self._clock() - self._last_records >= self.idle_after_s:
            return self.idle_ms
        if self._expecting or self._gap_s is None:
            return self.busy_ms
        return max(self.busy_ms, min(self.idle_ms, round(self._gap_s * 1000 / 4)))

    def apply(self, consumer: AIOKafkaConsumer) -> None:
        """Make the consumer's next fetch request hold for :attr:`wait_ms`."""
        fetcher = getattr(consumer, "_fetcher", None)
        if fetcher is not None and hasattr(fetcher, "_fetch_max_wait_ms"):
            fetcher._fetch_max_wait_ms = self.wait_ms  # noqa: SLF001 - see the module docstring

    async def poll(self, consumer: AIOKafkaConsumer, *, max_records: int | None) -> dict[Any, list[Any]]:
        """``getmany`` that waits up to the idle hold for data (no sleep after an empty poll), then
        sets the next fetch's hold from what came back."""
        self.apply(consumer)
        batch = await consumer.getmany(timeout_ms=self.idle_ms, max_records=max_records)
        self.saw(sum(len(records) for records in batch.values()))
        self.apply(consumer)  # before the fetcher builds its next request (it runs after this returns)
        return batch


def install(subscriber: Any, pace: FetchPace, *, max_records: int | None) -> None:
    """Make a FastStream batch subscriber poll through ``pace`` (see the module docstring)."""

    async def get_msg(self: Any, consumer: AIOKafkaConsumer) -> tuple[Any, ...]:
        batch = await pace.poll(consumer, max_records=max_records)
        return tuple(chain(*batch.values()))

    subscriber.get_msg = types.MethodType(get_msg, subscriber)
