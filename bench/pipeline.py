"""End-to-end pipeline benchmark, next to the raw broker in the same run.

1. Raw broker: aiokafka produces N records of ticket size to a scratch topic and consumes them.
2. Burst: N tickets published at once; throughput until every ticket is triaged, and until every
   ticket's flow is over (escalated, or resolved and remembered).
3. Paced: tickets at a fixed rate for some seconds; latency per ticket from publish to the end of
   its flow (p50/p99), at each rate asked for.

Writes bench/results/pipeline.json (and prints it). No assertions: the targets are compared in
the README and the issue notes, as ratios to the broker measured here, because the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts import codec, topics
from deploy import report, upstream
from deploy.stack import ROOT, Stack
from deploy.sandbox.seed import employees

RESULTS = Path(__file__).parent / "results"
TEXTS = [
    ("Forgot my password", "I forgot my password and cannot log in to Okta."),
    ("Laptop is slow", "My laptop has been very slow since the update and freezes in Teams."),
    ("Access to sharepoint", "Please give me access to the finance sharepoint site."),
    ("Vacation days", "How many vacation days do I have left this year?"),
    ("Coffee machine", "The coffee machine on the third floor is leaking."),
    ("Account locked", "My account is locked after too many attempts."),
]


def tickets(count: int, team: str) -> list:
    people = [login for _, login, *_, status in employees() if status == "ACTIVE"]
    run = uuid.uuid4().hex[:6]
    out = []
    for i in range(count):
        title, body = TEXTS[i % len(TEXTS)]
        person = people[i % len(people)]
        out.append(upstream.ticket_event({"ticket_id": f"B{run}-{i:06d}", "team": team, "title": title, "description": body, "requester": {"id": person.split("@")[0], "email": person}}))
    return out


async def raw_broker(bootstrap: str, count: int, size: int) -> dict[str, float]:
    topic = f"bench.raw.{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024, acks="all")
    await producer.start()
    value = b"x" * size
    started = time.perf_counter()
    futures = [await producer.send(topic, value, key=str(i).encode()) for i in range(count)]
    await asyncio.gather(*futures)
    produce_s = time.perf_counter() - started
    await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in range(6)])
    started, seen = time.perf_counter(), 0
    while seen < count:
        batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
        seen += sum(len(r) for r in batch.values())
    consume_s = time.perf_counter() - started
    await consumer.stop()
    return {"produce_msg_per_s": round(count / produce_s), "consume_msg_per_s": round(count / consume_s), "record_bytes": size}


class Watcher:
    """Notes when each ticket was triaged and when its flow ended, by reading the output topics."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.triaged: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20)
        await self.consumer.start()
        names = sorted({topics.TICKET_TRIAGED.name, *report.TERMINAL})  # every event that can end a flow (for now)
        partitions = [TopicPartition(t, p) for t in names for p in range(topics.BY_NAME[t].partitions)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=100, max_records=10_000)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    event = codec.decode(record.value)
                    ticket = event.correlation_id
                    if event.type == "ticket.triaged" or (event.type == "ticket.escalated" and event.source == "/services/triage"):
                        self.triaged.setdefault(ticket, now)
                    if event.type in report.TERMINAL:
                        self.finished.setdefault(ticket, now)

    async def wait(self, ids: set[str], timeout_s: float) -> None:
        deadline = time.perf_counter() + timeout_s
        while not ids <= self.finished.keys():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{len(ids - self.finished.keys())} of {len(ids)} tickets unfinished after {timeout_s:.0f}s")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.consumer.stop()


async def burst(bootstrap: str, watcher: Watcher, count: int) -> dict[str, float]:
    events = tickets(count, "bench-burst")
    ids = {e.correlation_id for e in events}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    started = time.perf_counter()
    futures = [await producer.send(topics.TICKET_CREATED.name, codec.encode(e), key=e.correlation_id.encode(), headers=codec.HEADERS) for e in events]
    await asyncio.gather(*futures)
    published = time.perf_counter()
    await producer.stop()
    await watcher.wait(ids, timeout_s=max(120, count / 10))
    last_triaged = max(watcher.triaged[t] for t in ids)
    last_finished = max(watcher.finished[t] for t in ids)
    return {
        "tickets": count,
        "publish_s": round(published - started, 3),
        "triaged_per_s": round(count / (last_triaged - started), 1),
        "end_to_end_per_s": round(count / (last_finished - started), 1),
    }


async def paced(bootstrap: str, watcher: Watcher, rate: float, seconds: float) -> dict[str, float]:
    count = int(rate * seconds)
    events = tickets(count, "bench-paced")
    ids = {e.correlation_id for e in events}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks="all")
    await producer.start()
    sent_at: dict[str, float] = {}
    start = time.perf_counter()
    for i, event in enumerate(events):
        due = start + i / rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        sent_at[event.correlation_id] = time.perf_counter()
        await producer.send(topics.TICKET_CREATED.name, codec.encode(event), key=event.correlation_id.encode(), headers=codec.HEADERS)
    await producer.flush()
    await producer.stop()
    await watcher.wait(ids, timeout_s=max(120, count / 5))
    latencies = sorted((watcher.finished[t] - sent_at[t]) * 1000 for t in ids)
    triage = sorted((watcher.triaged[t] - sent_at[t]) * 1000 for t in ids)
    return {
        "rate_per_s": rate,
        "tickets": count,
        "end_to_end_p50_ms": round(statistics.median(latencies), 1),
        "end_to_end_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 1),
        "triage_p50_ms": round(statistics.median(triage), 1),
        "triage_p99_ms": round(triage[int(0.99 * (len(triage) - 1))], 1),
    }


async def measure(stack: Stack, args: argparse.Namespace) -> dict:
    assert stack.broker is not None
    bootstrap = stack.broker.bootstrap
    sample = len(codec.encode(tickets(1, "bench")[0]))
    result: dict = {"broker": await raw_broker(bootstrap, args.raw, sample)}
    watcher = Watcher(bootstrap)
    await watcher.start()
    try:
        await burst(bootstrap, watcher, 50)  # warm-up: models loaded, groups settled
        result["burst"] = await burst(bootstrap, watcher, args.tickets)
        result["paced"] = [await paced(bootstrap, watcher, rate, args.seconds) for rate in args.rates]
    finally:
        await watcher.stop()
    raw = result["broker"]["consume_msg_per_s"]
    result["ratios"] = {"end_to_end_vs_broker_consume": round(result["burst"]["end_to_end_per_s"] / raw, 5)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=2000, help="tickets in the burst")
    parser.add_argument("--raw", type=int, default=100_000, help="records for the raw broker baseline")
    parser.add_argument("--rates", type=float, nargs="*", default=[50.0, 100.0, 500.0], help="paced rates, tickets/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each paced run publishes")
    parser.add_argument("--out", type=Path, default=RESULTS / "pipeline.json")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    stack = Stack(var=ROOT / ".var" / "bench")
    with stack.session():
        result = asyncio.run(measure(stack, args))
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    result["args"] = {"tickets": args.tickets, "raw": args.raw, "rates": args.rates, "seconds": args.seconds}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
