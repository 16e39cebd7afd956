"""Whether each consumer of a service gets through its work: what ``/ready`` and ``/metrics`` say.

A service is ready only while every consumer that has work makes progress. A consumer is *stuck*
when it has work (a batch was delivered to it) and does not get through it:

- the pending work was delivered more than ``max_attempts`` times without a batch being handled
  (one position retried over and over: a redelivery loop), or
- it has had work for more than ``stuck_after_s`` seconds and handled no batch in that time
  (a call that hangs, or infrastructure retries that never end).

A consumer with no work is never stuck, however long it has been idle. Only what the consumer
itself sees counts: the batches delivered to it and the batches it handled. The broker's end
offsets are not used (Tansu answers ListOffsets(latest) wrongly), so there is no lag here.

Batches of one handler run one after another (one FastStream subscriber, one worker), so every
delivery between two handled batches is a retry of the same pending work, whatever its first
position: a redelivery may start at another partition, and it is still the same work.

The bounds: a delivery that meets only infrastructure faults is given back after about 60 s of
retries (``Service._attempt``), and Kafka evicts a consumer whose call exceeds
``max_poll_interval_ms`` (300 s). ``stuck_after_s`` (180 s) lies between: a healthy slow batch, or
one broker blip costing a redelivery, never reaches it; a consumer stuck is reported before Kafka
gives its partitions away. Time comes from ``clock`` so that tests need not wait.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

#: The media type of ``render()``: the text exposition format that ``generate_latest`` writes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclasses.dataclass
class Consumer:
    """What one handler has done, and the work it has now."""

    handler: str
    #: When it last handled a batch (or was first seen, if it has handled none).
    last_progress: float
    batches_started: int = 0
    batches_handled: int = 0
    records_handled: int = 0
    records_dead_lettered: int = 0
    #: Since when it has had work and handled none; ``None``: it has no work.
    waiting_since: float | None = None
    #: Deliveries of the pending work since the last handled batch (1: the first, not retried yet).
    attempts: int = 0
    #: The latest delivery: its first record ("topic/partition/offset") and its number of records.
    position: str | None = None
    size: int = 0
    #: True while a delivery is in the handler; False once it failed and awaits redelivery.
    running: bool = False
    last_error: str | None = None


class Progress:
    """The progress of every consumer of one service, with its own Prometheus registry."""

    def __init__(self, service: str, *, max_attempts: int = 3, stuck_after_s: float = 180.0, clock: Callable[[], float] = time.monotonic) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts is {max_attempts}; a batch is delivered at least once, so it must be 1 or more")
        if stuck_after_s <= 0:
            raise ValueError(f"stuck_after_s is {stuck_after_s}; it must be a positive number of seconds")
        self.service = service
        self.max_attempts = max_attempts
        self.stuck_after_s = stuck_after_s
        self.clock = clock
        self.consumers: dict[str, Consumer] = {}
        #: This service's metrics alone, so that several services in one process do not clash.
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Metrics(self))

    # --- what the consumer loop reports -----------------------------------------------------

    def watch(self, handler: str) -> Consumer:
        """Show ``handler`` (idle, not stuck) before its first batch; the other calls do it too."""
        consumer = self.consumers.get(handler)
        if consumer is None:
            consumer = self.consumers[handler] = Consumer(handler, last_progress=self.clock())
        return consumer

    def batch_started(self, handler: str, position: str, size: int) -> None:
        """A batch was delivered to ``handler``; ``position`` is its first record's "topic/partition/offset"."""
        consumer = self.watch(handler)
        consumer.batches_started += 1
        if consumer.waiting_since is None:
            consumer.waiting_since = self.clock()
        consumer.attempts += 1
        consumer.position, consumer.size, consumer.running = position, size, True

    def batch_failed(self, handler: str, error: BaseException) -> None:
        """The delivery raised and goes back to the broker: the work is still pending."""
        consumer = self.watch(handler)
        consumer.running = False
        consumer.last_error = repr(error)[:300]

    def batch_done(self, handler: str, *, handled: int, dead_lettered: int = 0) -> None:
        """The batch was handled (its offsets are to be committed): ``handled`` records by the
        handler, ``dead_lettered`` records sent to the dead-letter topic instead."""
        consumer = self.watch(handler)
        consumer.batches_handled += 1
        consumer.records_handled += handled
        consumer.records_dead_lettered += dead_lettered
        consumer.last_progress = self.clock()
        consumer.waiting_since, consumer.attempts, consumer.running = None, 0, False
        consumer.position, consumer.size, consumer.last_error = None, 0, None

    def released(self, handler: str) -> None:
        """``handler``'s partitions were revoked: work it had not handled goes to whoever gets them
        (back to it, if it does: then it is delivered anew)."""
        consumer = self.watch(handler)
        consumer.waiting_since, consumer.attempts, consumer.running = None, 0, False
        consumer.position, consumer.size = None, 0

    # --- what ``/ready`` and ``/metrics`` say -----------------------------------------------

    def stuck(self) -> dict[str, str]:
        """The handlers that are stuck, each with why (empty: every consumer gets through its work)."""
        now = self.clock()
        return {handler: why for handler, consumer in self.consumers.items() if (why := self._why_stuck(consumer, now))}

    def render(self) -> bytes:
        """The metrics of this service in the text exposition format (``CONTENT_TYPE``), for ``/metrics``."""
        return generate_latest(self.registry)

    def _why_stuck(self, consumer: Consumer, now: float) -> str | None:
        if consumer.waiting_since is None:
            return None
        waited = now - consumer.waiting_since
        if consumer.attempts > self.max_attempts:
            problem = f"its work was delivered {consumer.attempts} times and never handled (at most {self.max_attempts})"
        elif waited > self.stuck_after_s:
            problem = f"it has had work for {waited:.0f} s and handled none (at most {self.stuck_after_s:.0f} s)"
        else:
            return None
        state = "in the handler" if consumer.running else "failed, awaiting redelivery"
        detail = f"; last error: {consumer.last_error}" if consumer.last_error else ""
        records = f"{consumer.size} record{'' if consumer.size == 1 else 's'}"
        return f"{problem}; latest delivery: {records} from {consumer.position}, {state}{detail}"


class _Metrics:
    """The Prometheus view of a ``Progress``, read at each scrape (so ages are current)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def collect(self) -> Iterator[Metric]:
        progress, now = self.progress, self.progress.clock()
        stuck = progress.stuck()
        labels = ["service", "handler"]
        stuck_gauge = GaugeMetricFamily("workforce_consumer_stuck", "1 while the consumer has work it does not get through (see /ready for why), else 0.", labels=labels)
        attempts = GaugeMetricFamily("workforce_consumer_batch_attempts", "Deliveries of the pending work since the last handled batch (0: no work).", labels=labels)
        age = GaugeMetricFamily("workforce_consumer_last_progress_seconds", "Seconds since the consumer last handled a batch (or started, if it has handled none).", labels=labels)
        records = CounterMetricFamily("workforce_consumer_records", "Records the consumer got through, by outcome.", labels=[*labels, "outcome"])
        for handler, consumer in sorted(progress.consumers.items()):
            key = [progress.service, handler]
            stuck_gauge.add_metric(key, 1.0 if handler in stuck else 0.0)
            attempts.add_metric(key, consumer.attempts)
            age.add_metric(key, max(0.0, now - consumer.last_progress))
            records.add_metric([*key, "handled"], consumer.records_handled)
            records.add_metric([*key, "dead_lettered"], consumer.records_dead_lettered)
        yield from (stuck_gauge, attempts, age, records)
