"""Triage speed: the model's own rate, and tickets per second through the triage service alone.

1. Model: the trained classifier predicting batches of real tickets in this process.
2. Service: N tickets published at once to a stack of broker + governance (for the coworker
   table) + triage; throughput until every ticket has its decision (triaged, escalated, split
   or questioned), read from the output topics.
Both on the same machine in the same run; results in bench/results/triage.json.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts import codec, topics
from deploy import upstream
from deploy.stack import ROOT, Stack
from services.triage.classifier import CategoryModel
from services.triage.settings import DEFAULT_MODEL

RESULTS = Path(__file__).parent / "results"
SAMPLE = ROOT / "tests" / "fixtures" / "it_tickets_sample.csv"
DECISIONS = (topics.TICKET_TRIAGED, topics.TICKET_ESCALATED, topics.TICKET_SPLIT, topics.TICKET_QUESTION)


def texts() -> list[str]:
    with open(SAMPLE, newline="") as f:
        return [row["text"] for row in csv.DictReader(f)]


def model_rate(model: CategoryModel, count: int, batch: int) -> dict[str, float]:
    corpus = texts()
    items = [corpus[i % len(corpus)] for i in range(count)]
    started = time.perf_counter()
    for i in range(0, count, batch):
        model.predict(items[i : i + batch])
    seconds = time.perf_counter() - started
    return {"tickets": count, "batch": batch, "tickets_per_second": round(count / seconds, 1)}


async def service_rate(bootstrap: str, count: int) -> dict[str, float]:
    corpus = texts()
    run = uuid.uuid4().hex[:6]
    events = [upstream.ticket_event({"ticket_id": f"TB{run}-{i:06d}", "team": "bench", "title": corpus[i % len(corpus)][:80] or "ticket", "description": corpus[i % len(corpus)], "requester": {"id": "ana.silva", "email": "ana.silva@acme.example"}}) for i in range(count)]
    ids = {e.correlation_id for e in events}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20)
    await consumer.start()
    partitions = [TopicPartition(t.name, p) for t in DECISIONS for p in range(t.partitions)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    started = time.perf_counter()
    futures = [await producer.send(topics.TICKET_CREATED.name, codec.encode(e), key=e.correlation_id.encode(), headers=codec.HEADERS) for e in events]
    await asyncio.gather(*futures)
    await producer.stop()
    decided: set[str] = set()
    deadline = time.perf_counter() + max(120, count / 20)
    while not ids <= decided and time.perf_counter() < deadline:
        batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
        for records in batch.values():
            for record in records:
                event = codec.decode(record.value)
                if event.correlation_id in ids or event.data.ticket_id in ids:
                    decided.add(event.data.ticket_id)
    seconds = time.perf_counter() - started
    await consumer.stop()
    return {"tickets": count, "decided": len(decided & ids), "seconds": round(seconds, 2), "tickets_per_second": round(len(decided & ids) / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, default=RESULTS / "triage.json")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    model = CategoryModel.load(args.model)
    result = {"model_version": model.version, "model": {"batch_500": model_rate(model, args.tickets, 500), "batch_1": model_rate(model, min(args.tickets, 1000), 1)}}
    stack = Stack(var=ROOT / ".var" / "bench-triage", services=("governance", "triage"))
    with stack.session():
        assert stack.broker is not None
        asyncio.run(service_rate(stack.broker.bootstrap, 200))  # warm-up
        result["service"] = asyncio.run(service_rate(stack.broker.bootstrap, args.tickets))
    result["ratio_service_to_model"] = round(result["service"]["tickets_per_second"] / result["model"]["batch_500"]["tickets_per_second"], 3)
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
