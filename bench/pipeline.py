"""End-to-end pipeline benchmark, next to the raw broker in the same run.

1. Raw broker: aiokafka produces N records of ticket size to a scratch topic and consumes them.
2. Idle: with nothing published (just started, and 10 s after the last flow ended), the CPU the whole stack uses (broker, PostgreSQL, simulated systems,
   every service), as a share of one core.
3. Burst: N signed tickets published at once; throughput until every ticket is triaged, until every
   requester has an answer (resolved, a question, escalated, or waiting for a manager's approval),
   until every flow is over (remembered, or handed to a person), and until governance has audited
   and billing has booked what each flow made. Each service's records handled per second and CPU
   share during the burst; events per ticket and consumes per ticket (from the services' own
   subscriptions) and the messaging ceiling they set at the broker rates measured here.
4. Paced: tickets at a fixed rate; latency per ticket from publish to the requester's answer (p50/p99),
   separately for tickets a coworker resolves with no person involved.

Writes bench/results/pipeline.json and pipeline.md (and prints the json). No assertions: targets are
compared as ratios to the broker measured here, because the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench import stack_probe
from contracts import codec, topics
from deploy import report, upstream
from deploy.sandbox.seed import employees
from deploy.sandbox.server import SYSTEMS
from deploy.stack import ROOT, Stack
from runtime.fetching import FetchPace
from runtime.signing import Signer, keys_folder, load_private

RESULTS = Path(__file__).parent / "results"
TEXTS = [
    ("Forgot my password", "I forgot my password and cannot log in to Okta."),
    ("Laptop is slow", "My laptop has been very slow since the update and freezes in Teams."),
    ("Access to sharepoint", "Please give me access to the finance sharepoint site."),
    ("Vacation days", "How many vacation days do I have left this year?"),
    ("Coffee machine", "The coffee machine on the third floor is leaking."),
    ("Account locked", "My account is locked after too many attempts."),
]
#: The skills service's client-side rate limit per system, lifted.
LIFTED = json.dumps({name: 1_000_000.0 for name in SYSTEMS})
#: The events that give the requester an answer (or hand the ticket to a person who will).
ANSWERS = ("ticket.resolved", "ticket.escalated", "ticket.question", "ticket.split", "approval.requested")


def tickets(count: int, team: str) -> list:
    people = [login for _, login, *_, status in employees() if status == "ACTIVE"]
    run = uuid.uuid4().hex[:6]
    out = []
    for i in range(count):
        title, body = TEXTS[i % len(TEXTS)]
        person = people[i % len(people)]
        out.append(upstream.ticket_event({"ticket_id": f"B{run}-{i:06d}", "team": team, "title": title, "description": body, "requester": {"id": person.split("@")[0], "email": person}}))
    return out


class Publisher:
    """Tickets signed as the upstream adapter signs them (a ticket nobody signed is dead-lettered)."""

    def __init__(self, bootstrap: str, *, linger_ms: int) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=linger_ms, max_batch_size=256 * 1024, acks="all")
        self.signer = Signer(topics.UPSTREAM, load_private(keys_folder(), topics.UPSTREAM))

    async def __aenter__(self) -> Publisher:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def send(self, event) -> asyncio.Future:  # noqa: ANN001
        key, value = event.correlation_id.encode(), codec.encode(event)
        return await self.producer.send(topics.TICKET_CREATED.name, value, key=key, headers=self.signer.headers(topics.TICKET_CREATED.name, key, value, codec.HEADERS))


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
    """Notes when each ticket was triaged, answered and its flow ended, and the model calls it made,
    by reading the output topics (JSON only: the benchmark must not eat the stack's CPU)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.triaged: dict[str, float] = {}
        self.answered: dict[str, tuple[float, str]] = {}
        self.finished: dict[str, float] = {}
        self.usage: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Paced like the services' consumers (runtime/fetching.py): quiet while the stack is idle.
        self.pace = FetchPace(busy_ms=5, idle_ms=500, idle_after_s=2.0)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5)
        await self.consumer.start()
        names = sorted({topics.TICKET_TRIAGED.name, topics.LLM_USAGE.name, *ANSWERS, *report.TERMINAL})
        partitions = [TopicPartition(t, p) for t in names for p in range(topics.BY_NAME[t].partitions)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.pace.poll(self.consumer, max_records=10_000)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value)
                    ticket, kind = event["correlationid"], event["type"]
                    if kind == "ticket.triaged" or (kind == "ticket.escalated" and event["source"] == "/services/triage"):
                        self.triaged.setdefault(ticket, now)
                    if kind in ANSWERS:
                        self.answered.setdefault(ticket, (now, kind))
                    if kind in report.TERMINAL:
                        self.finished.setdefault(ticket, now)
                    if kind == "llm.usage":
                        self.usage[event["data"].get("ticket_id") or ""] += 1

    async def wake(self) -> None:
        """Fetch as if busy from now on, once the quiet fetch in flight has come back."""
        self.pace.expect()
        await asyncio.sleep(self.pace.idle_ms / 1000 + 0.1)

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


async def recorded(database_url: str, ids: list[str], ticket_ids: list[str], usage: int, timeout_s: float) -> float:
    """When governance has audited the end of every flow and billing has booked every model call."""
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.perf_counter() + timeout_s
        while True:
            audited = await conn.fetchval("SELECT count(DISTINCT correlation_id) FROM governance.audit_events WHERE correlation_id = ANY($1) AND type = ANY($2)", ids, list(report.TERMINAL))
            billed = await conn.fetchval("SELECT count(*) FROM billing.usage_events WHERE ticket_id = ANY($1)", ticket_ids)
            if audited == len(ids) and billed >= usage:
                return time.perf_counter()
            if time.perf_counter() > deadline:
                raise TimeoutError(f"audited {audited} of {len(ids)} flows, billed {billed} of {usage} model calls after {timeout_s:.0f}s")
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def events_per_ticket(database_url: str, ids: list[str]) -> Counter[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT type, count(*) AS n FROM governance.audit_events WHERE correlation_id = ANY($1) GROUP BY type", ids)
    finally:
        await conn.close()
    return Counter({r["type"]: r["n"] / len(ids) for r in rows})


def readers_per_type(services: tuple[str, ...]) -> dict[str, int]:
    """How many consumer groups read each event type: every event is consumed once per group."""
    by_topic: Counter[str] = Counter()
    for name in services:
        service = importlib.import_module(f"services.{name}.app").service
        for subscriber in service.broker.subscribers:
            by_topic.update(subscriber.topic_names)
    out: dict[str, int] = {}
    for topic in topics.BY_NAME.values():
        field = topic.event.model_fields.get("type") if hasattr(topic.event, "model_fields") else None
        if field is not None and isinstance(field.default, str):
            out[field.default] = by_topic[topic.name]
    return out


async def idle(stack: Stack, parts: dict, seconds: float) -> dict[str, float]:
    await asyncio.sleep(10.0)  # the last flows' stragglers (write-backs, learning) done, every consumer quiet
    before = stack_probe.CpuSnapshot.take(parts)
    await asyncio.sleep(seconds)
    spent = stack_probe.CpuSnapshot.take(parts).since(before)
    return {"seconds": seconds, "total_share_of_one_core": round(sum(spent.values()) / seconds, 4), **{f"{k}_share": round(v / seconds, 4) for k, v in sorted(spent.items())}}


def record_profiles(stack: Stack, folder: Path | None) -> list[subprocess.Popen[bytes]]:
    """py-spy on every service for the burst (collapsed stacks, ``<folder>/<service>.pyspy.txt``)."""
    if folder is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).parent / "py-spy")
    return [subprocess.Popen([spy, "record", "--pid", str(p.process.pid), "--format", "raw", "-r", "100", "--nonblocking", "-o", str(folder / f"{name}.pyspy.txt")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, procs in stack.running.items() for p in procs if p.process is not None]


def stop_profiles(spies: list[subprocess.Popen[bytes]]) -> None:
    for spy in spies:
        spy.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
    for spy in spies:
        spy.wait(30)


async def burst(stack: Stack, watcher: Watcher, count: int, parts: dict | None = None, profile: Path | None = None) -> dict:
    assert stack.broker is not None
    events = tickets(count, "bench-burst")
    ids = {e.correlation_id for e in events}
    ticket_ids = [e.data.ticket_id for e in events]
    await watcher.wake()
    cpu_before, handled_before = (stack_probe.CpuSnapshot.take(parts), stack_probe.handled(stack)) if parts else (None, None)
    spies = record_profiles(stack, profile)
    async with Publisher(stack.broker.bootstrap, linger_ms=5) as publisher:
        started = time.perf_counter()
        await asyncio.gather(*[await publisher.send(e) for e in events])
        published = time.perf_counter()
    try:
        await watcher.wait(ids, timeout_s=max(180, count / 5))
    finally:
        stop_profiles(spies)
    usage = sum(watcher.usage[t] for t in ticket_ids)
    audited_billed = await recorded(stack.database_url, sorted(ids), ticket_ids, usage, timeout_s=max(120, count / 20))
    last = {name: max(getattr(watcher, name)[t] if name != "answered" else watcher.answered[t][0] for t in ids) for name in ("triaged", "answered", "finished")}
    result: dict = {
        "tickets": count,
        "publish_s": round(published - started, 3),
        "triaged_per_s": round(count / (last["triaged"] - started), 1),
        "answered_per_s": round(count / (last["answered"] - started), 1),
        "flows_over_per_s": round(count / (last["finished"] - started), 1),
        "end_to_end_per_s": round(count / (audited_billed - started), 1),
        "answers": dict(Counter(watcher.answered[t][1] for t in ids)),
        "model_calls": usage,
    }
    if parts:
        wall = audited_billed - started
        spent = stack_probe.CpuSnapshot.take(parts).since(cpu_before)
        done = stack_probe.handled(stack)
        result["wall_s"] = round(wall, 2)
        result["stages"] = {name: {"records_per_s": round((done.get(name, 0) - handled_before.get(name, 0)) / wall, 1), "cpu_cores": round(spent[name] / wall, 3)} for name in sorted(spent)}
        result["cpu_cores_total"] = round(sum(spent.values()) / wall, 3)
    return result


async def paced(stack: Stack, watcher: Watcher, rate: float, seconds: float) -> dict[str, float]:
    assert stack.broker is not None
    count = max(1, int(rate * seconds))
    events = tickets(count, "bench-paced")
    ids = {e.correlation_id for e in events}
    sent_at: dict[str, float] = {}
    await watcher.wake()
    async with Publisher(stack.broker.bootstrap, linger_ms=0) as publisher:
        start = time.perf_counter()
        for i, event in enumerate(events):
            due = start + i / rate
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            sent_at[event.correlation_id] = time.perf_counter()
            await publisher.send(event)
        await publisher.producer.flush()
    await watcher.wait(ids, timeout_s=max(180, count / 5))

    def pct(values: list[float], q: float) -> float:
        values = sorted(values)
        return round(values[int(q * (len(values) - 1))], 1)

    answer = [(watcher.answered[t][0] - sent_at[t]) * 1000 for t in ids]
    unattended = [(watcher.answered[t][0] - sent_at[t]) * 1000 for t in ids if watcher.answered[t][1] == "ticket.resolved"]
    over = [(watcher.finished[t] - sent_at[t]) * 1000 for t in ids]
    triage = [(watcher.triaged[t] - sent_at[t]) * 1000 for t in ids]
    return {
        "rate_per_s": rate,
        "tickets": count,
        "resolved_unattended": len(unattended),
        "resolved_unattended_p50_ms": pct(unattended, 0.5) if unattended else None,
        "resolved_unattended_p99_ms": pct(unattended, 0.99) if unattended else None,
        "answer_p50_ms": pct(answer, 0.5),
        "answer_p99_ms": pct(answer, 0.99),
        "flow_over_p50_ms": pct(over, 0.5),
        "flow_over_p99_ms": pct(over, 0.99),
        "triage_p50_ms": pct(triage, 0.5),
        "triage_p99_ms": pct(triage, 0.99),
    }


async def measure(stack: Stack, args: argparse.Namespace) -> dict:
    assert stack.broker is not None
    bootstrap = stack.broker.bootstrap
    sample = len(codec.encode(tickets(1, "bench")[0]))
    result: dict = {"broker": await raw_broker(bootstrap, args.raw, sample)}
    parts = stack_probe.components(stack)
    watcher = Watcher(bootstrap)
    await watcher.start()
    try:
        result["idle_fresh"] = await idle(stack, parts, args.idle_seconds)  # started, never used
        await burst(stack, watcher, 50)  # warm-up: models loaded, groups settled
        result["idle"] = await idle(stack, parts, args.idle_seconds)
        result["burst"] = await burst(stack, watcher, args.tickets, parts, profile=args.profile)
        ids = sorted({t for t in watcher.finished})
        result["paced"] = [await paced(stack, watcher, rate, args.seconds) for rate in args.rates]
    finally:
        await watcher.stop()
    per_type = await events_per_ticket(stack.database_url, ids)
    readers = readers_per_type(stack.services)
    events = sum(per_type.values())
    consumes = sum(n * readers.get(kind, 0) for kind, n in per_type.items())
    broker = result["broker"]
    ceiling = 1 / (events / broker["produce_msg_per_s"] + consumes / broker["consume_msg_per_s"])
    result["messaging"] = {"events_per_ticket": round(events, 2), "consumes_per_ticket": round(consumes, 2), "by_type": {k: round(v, 2) for k, v in per_type.most_common()}, "ceiling_tickets_per_s": round(ceiling, 1)}
    e2e = result["burst"]["end_to_end_per_s"]
    result["ratios"] = {"end_to_end_vs_broker_consume": round(e2e / broker["consume_msg_per_s"], 5), "end_to_end_vs_messaging_ceiling": round(e2e / ceiling, 4)}
    return result


def markdown(result: dict) -> str:
    b, m, i = result["burst"], result["messaging"], result["idle"]
    lines = [
        "# Pipeline benchmark",
        "",
        f"{result['machine']['when']} on {result['machine']['cpus']} CPUs, Python {result['machine']['python']}. `python -m bench.pipeline` ({' '.join(f'--{k}={v}' for k, v in result['args'].items())}).",
        "Every service, the broker (Tansu), PostgreSQL and the simulated systems on this machine; tickets signed as the upstream adapter.",
        f"Vendors' rate limits: simulator {result['rate_limits']['SANDBOX_RATE_LIMITS']}, skills' client-side limits {result['rate_limits']['SKILLS_RATE_LIMITS']} (a real org's Okta allows 600 directory calls a minute).",
        "",
        "## Burst",
        "",
        f"{b['tickets']} tickets published in {b['publish_s']} s. Answers: {', '.join(f'{k} {v}' for k, v in sorted(b['answers'].items()))}.",
        "",
        "| until every ticket is | tickets/s |",
        "| --- | ---: |",
        f"| triaged | {b['triaged_per_s']} |",
        f"| answered (resolved, asked, escalated or waiting for approval) | {b['answered_per_s']} |",
        f"| over (remembered, or with a person) | {b['flows_over_per_s']} |",
        f"| audited and billed (end to end) | {b['end_to_end_per_s']} |",
        "",
        f"Raw broker in the same run: {result['broker']['produce_msg_per_s']} produced / {result['broker']['consume_msg_per_s']} consumed records/s of {result['broker']['record_bytes']} bytes.",
        f"Each ticket made {m['events_per_ticket']} events and {m['consumes_per_ticket']} consumes; at the broker's rates messaging alone caps the pipeline at {m['ceiling_tickets_per_s']} tickets/s.",
        f"End to end is {result['ratios']['end_to_end_vs_broker_consume']} of the raw consume rate and {result['ratios']['end_to_end_vs_messaging_ceiling']} of the messaging ceiling.",
        "",
        "### Per stage, during the burst",
        "",
        "| component | records handled/s | CPU (cores) |",
        "| --- | ---: | ---: |",
    ]
    for name, stage in b["stages"].items():
        lines.append(f"| {name} | {stage['records_per_s'] if name in ('triage', 'skills', 'memory', 'governance', 'billing', 'desk') else ''} | {stage['cpu_cores']} |")
    f = result["idle_fresh"]
    lines += [f"| total | | {b['cpu_cores_total']} |", "", "## Idle", "", f"Nothing published for {i['seconds']} s: the whole stack used {round(f['total_share_of_one_core'] * 100, 1)}% of one core just started, {round(i['total_share_of_one_core'] * 100, 1)}% after the warm-up tickets.", ""]
    lines += ["| component | just started | after traffic |", "| --- | ---: | ---: |"] + [f"| {k.removesuffix('_share')} | {round(f.get(k, 0) * 100, 2)}% | {round(v * 100, 2)}% |" for k, v in i.items() if k.endswith("_share") and k != "total_share_of_one_core"]
    lines += ["", "## Paced", "", "| tickets/s | tickets | resolved with no person | their answer p50 / p99 ms | every answer p50 / p99 ms | flow over p50 / p99 ms | triage p50 / p99 ms |", "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for p in result["paced"]:
        lines.append(f"| {p['rate_per_s']} | {p['tickets']} | {p['resolved_unattended']} | {p['resolved_unattended_p50_ms']} / {p['resolved_unattended_p99_ms']} | {p['answer_p50_ms']} / {p['answer_p99_ms']} | {p['flow_over_p50_ms']} / {p['flow_over_p99_ms']} | {p['triage_p50_ms']} / {p['triage_p99_ms']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=5000, help="tickets in the burst")
    parser.add_argument("--raw", type=int, default=100_000, help="records for the raw broker baseline")
    parser.add_argument("--rates", type=float, nargs="*", default=[5.0, 100.0], help="paced rates, tickets/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each paced run publishes")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="how long the idle stack is watched")
    parser.add_argument("--out", type=Path, default=RESULTS / "pipeline.json")
    parser.add_argument("--profile", type=Path, default=None, help="record each service with py-spy during the burst, into this folder")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # What is measured is the platform, not the vendors: the simulated Okta's org rate limits (600
    # directory calls a minute would hold the whole org at ~2.5 tickets/s) and the skills service's
    # client-side limits per system are lifted, and the result says so.
    os.environ.setdefault("SANDBOX_RATE_LIMITS", "off")
    os.environ.setdefault("SKILLS_RATE_LIMITS", LIFTED)
    stack = Stack(var=ROOT / ".var" / "bench")
    with stack.session():
        result = asyncio.run(measure(stack, args))
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    result["rate_limits"] = {"SANDBOX_RATE_LIMITS": os.environ["SANDBOX_RATE_LIMITS"], "SKILLS_RATE_LIMITS": "lifted" if os.environ["SKILLS_RATE_LIMITS"] == LIFTED else os.environ["SKILLS_RATE_LIMITS"]}
    result["args"] = {"tickets": args.tickets, "raw": args.raw, "rates": args.rates, "seconds": args.seconds, "idle-seconds": args.idle_seconds}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
