"""How fast the governance service itself audits: events/s from the broker into the audit trail,
through the real service process (its consumer, signature checks, decoding, dead-letter checks and
the hash-chained COPY), against the raw broker consume rate of the very same records, in one run.

Each round publishes ``--events`` signed events, as tickets' flows of 11 events over 8 teams (the
pipeline makes about 10.5 a ticket): ``ticket.created`` by the upstream adapter (Ed25519-signed),
then ``ticket.triaged``, ``skill.requested``, ``llm.usage``, 2 x (``policy.allowed``, ``skill.step``),
``skill.completed``, ``ticket.resolved`` and ``memory.recorded`` by the services (HMAC-signed), each
the contract tests' example of its type with the flow's ids; then:

- ``raw_broker``: a plain aiokafka consumer reads those records (no decoding): the ceiling;
- ``governance``: the service is started (``python -m services.governance``, its own database) and
  timed until its audit trail holds every one of them. Its rate is taken between the first and the
  last batch it committed (PostgreSQL's ``recorded_at``: start-up excluded, every batch but the last
  counted), and from the wall clock between the first row seen and the last.

``AUDIT_ENVELOPE_ONLY`` switches the service between the path of issue 17 (``true``: the envelope
checked, the record kept and hashed as received) and the one before (``false``: every payload
validated in full). Rounds alternate the two. Results: bench/results/governance-service.{json,md}.

    python bench/governance_service.py [--events 50000] [--rounds 2] [--batch 5000]

PostgreSQL: TEST_DATABASE_URL or DATABASE_URL (a server the run may create databases on), else the
embedded server under .var/bench. The broker: a Tansu process started for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts import codec, topics  # noqa: E402
from contracts.envelope import Actor, ActorKind  # noqa: E402
from deploy import keys  # noqa: E402
from deploy.stack import ROOT, Broker, Postgres, ServiceProcess  # noqa: E402
from runtime.signing import Keyring  # noqa: E402
from runtime.topics import ensure_topics  # noqa: E402
from tests.unit.test_contracts import one_of_each  # noqa: E402

RESULTS = Path(__file__).parent / "results"
VAR = ROOT / ".var" / "bench"
TEAMS = ["it-support", "hr", "finance", "facilities", "security", "sales", "legal", "platform"]
#: One ticket's flow: each event type and who writes (and so signs) it.
FLOW_TYPES = [
    ("ticket.created", "upstream"),
    ("ticket.triaged", "triage"),
    ("skill.requested", "triage"),
    ("llm.usage", "triage"),
    ("policy.allowed", "skills"),
    ("skill.step", "skills"),
    ("policy.allowed", "skills"),
    ("skill.step", "skills"),
    ("skill.completed", "skills"),
    ("ticket.resolved", "skills"),
    ("memory.recorded", "memory"),
]
WRITERS = {name: writer for name, writer in FLOW_TYPES}
#: The benchmark's records in the trail (governance also audits what it writes itself).
FLOW = "type IN (" + ", ".join(f"'{t}'" for t in sorted(WRITERS)) + ")"


def flow_events(n: int) -> list:
    """``n`` events, tickets' flows one after another, each event as its writer would write it."""
    examples = {e.type: e for e in one_of_each()}
    out = []
    for i in range(n):
        ticket_no, step = divmod(i, len(FLOW_TYPES))
        kind, writer = FLOW_TYPES[step]
        example = examples[kind]
        tid = f"T-{uuid.uuid4().hex[:10]}" if step == 0 else out[-step].correlation_id
        update: dict = {"id": str(uuid.uuid4()), "team": TEAMS[ticket_no % len(TEAMS)], "correlation_id": tid, "subject": tid, "time": datetime.now(UTC)}
        if writer in topics.SERVICES:
            update["source"] = f"/services/{writer}"
            if example.actor.kind is ActorKind.system and example.actor.id in topics.SERVICES:
                update["actor"] = Actor.system(writer)
        out.append(example.model_copy(update=update))
    return out


def signed_records(n: int, ring: Keyring) -> list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
    """``n`` events of the flow as their writers would send them: (topic, key, value, headers)."""
    out = []
    signers = {name: ring.signer(name) for name in set(WRITERS.values())}
    for event in flow_events(n):
        topic = topics.topic_of(event)
        key, value = topic.key(event), codec.encode(event)
        headers = [("content-type", b"application/cloudevents+json"), *signers[WRITERS[topic.name]].sign(topic.name, key, value)]
        out.append((topic.name, key, value, headers))
    return out


async def publish(bootstrap: str, records: list) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024, acks="all")
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(t, v, key=k, headers=h) for t, k, v, h in records]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


def partitions() -> list[TopicPartition]:
    return [TopicPartition(name, p) for name in WRITERS for p in range(topics.BY_NAME[name].partitions)]


async def end_offsets(bootstrap: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(partitions()))
    finally:
        await consumer.stop()


async def raw_consume(bootstrap: str, start: dict[TopicPartition, int], count: int) -> float:
    """Seconds a plain aiokafka consumer takes to read ``count`` records from ``start`` (values untouched)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)  # fetch sizes as the service's
    await consumer.start()
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        started, seen = time.perf_counter(), 0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(r) for r in batch.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_processes() -> list[psutil.Process]:
    """The embedded server's processes (by its data folder), or none for an external server."""
    data = str((VAR / "postgres").resolve())
    for p in psutil.process_iter(["cmdline"]):
        try:
            if data in " ".join(p.info["cmdline"] or []):
                return [p]  # the postmaster: its backends are its children (Cpu counts the tree)
        except psutil.Error:
            continue
    return []


class Cpu:
    """CPU seconds of governance, the broker, PostgreSQL, and the whole machine (others' work too)."""

    def __init__(self, governance: int, broker: int | None) -> None:
        self.parts = {"governance": [psutil.Process(governance)], "broker": [psutil.Process(broker)] if broker else [], "postgres": postgres_processes()}

    def take(self) -> dict[str, float]:
        out = {}
        for name, procs in self.parts.items():
            total = 0.0
            for root in procs:
                try:
                    tree = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                for p in tree:
                    try:
                        t = p.cpu_times()
                        total += t.user + t.system
                    except psutil.Error:
                        continue
            out[name] = total
        machine = psutil.cpu_times()
        out["machine"] = machine.user + machine.system + machine.nice + getattr(machine, "irq", 0) + getattr(machine, "softirq", 0)
        return out


async def audit_service(bootstrap: str, database_url: str, count: int, *, envelope_only: bool, batch: int, log: Path, profile: Path | None = None, broker_pid: int | None = None) -> dict:
    """Start governance on an empty database, wait until its trail holds ``count`` records, stop it."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": database_url,
        "AUDIT_ENVELOPE_ONLY": "true" if envelope_only else "false",
        "AUDIT_CHECKPOINT_INTERVAL_S": "0",
        "BATCH_MAX_RECORDS": str(batch),
        "LOG_LEVEL": "WARNING",
    }
    proc = ServiceProcess("governance", env, log).start()
    assert proc.process is not None
    spy = None
    if profile is not None:  # py-spy's collapsed stacks of the whole run, start-up included
        spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(proc.process.pid), "--format", "raw", "-r", "200", "-o", str(profile)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conn = None
    try:
        deadline = time.monotonic() + 600
        while conn is None:
            try:
                conn = await asyncpg.connect(database_url)
                await conn.fetchval("SELECT count(*) FROM governance.audit_events")
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError, asyncpg.InvalidCatalogNameError, OSError):
                if conn is not None:
                    await conn.close()
                conn = None
                await asyncio.sleep(0.1)
            assert proc.alive, f"governance exited:\n{proc.tail()}"
            assert time.monotonic() < deadline, "governance did not migrate"
        query = f"SELECT count(*) FROM governance.audit_events WHERE {FLOW}"
        first_seen = first_n = None
        cpu = Cpu(proc.process.pid, broker_pid)
        cpu_before, cpu_first = cpu.take(), None
        while True:
            n = await conn.fetchval(query)
            now = time.perf_counter()
            if n and first_seen is None:
                first_seen, first_n, cpu_first = now, n, cpu.take()
            if n >= count:
                break
            assert proc.alive, f"governance exited:\n{proc.tail()}"
            assert time.monotonic() < deadline, f"only {n} of {count} audited after 10 minutes"
            await asyncio.sleep(0.05)
        cpu_after = cpu.take()
        batches = await conn.fetch(
            f"SELECT recorded_at, count(*) AS n FROM governance.audit_events WHERE {FLOW} GROUP BY recorded_at ORDER BY recorded_at"
        )
        verified = await _verify(database_url)
    finally:
        if conn is not None:
            await conn.close()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        proc.stop()
    span = (batches[-1]["recorded_at"] - batches[0]["recorded_at"]).total_seconds()
    steady = (count - batches[-1]["n"]) / span if span > 0 else None
    wall = (count - (first_n or 0)) / (now - first_seen) if first_seen and now > first_seen else None
    spent = {k: cpu_after[k] - cpu_before[k] for k in cpu_after}
    window = now - first_seen if first_seen else None
    share = {f"{k}_cores": round((cpu_after[k] - cpu_first[k]) / window, 2) for k in cpu_after} if cpu_first and window else {}
    return {
        "path": "envelope_only" if envelope_only else "full_validation",
        "events": count,
        "batches": len(batches),
        "mean_batch": round(count / len(batches)),
        "events_per_s": round(steady) if steady else None,
        "events_per_s_wall": round(wall) if wall else None,
        "governance_cpu_s": round(spent["governance"], 2),
        "governance_cpu_us_per_event": round(spent["governance"] / count * 1e6, 1),
        "broker_cpu_us_per_event": round(spent["broker"] / count * 1e6, 1),
        "postgres_cpu_us_per_event": round(spent["postgres"] / count * 1e6, 1) if spent["postgres"] else None,
        "cores_busy_while_auditing": share,
        "chain_verifies": verified,
    }


async def _verify(database_url: str) -> bool:
    from services.governance.audit import verify

    conn = await asyncpg.connect(database_url, server_settings={"search_path": "governance"})
    try:
        return (await verify(conn)).ok
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> dict:
    VAR.mkdir(parents=True, exist_ok=True)
    server = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    embedded = None
    if not server:
        embedded = Postgres.resolve(VAR)
        server = embedded.url
    key_folder = Path(tempfile.mkdtemp(prefix="wf-bench-keys-"))
    keys.init(key_folder)
    os.environ["WORKFORCE_KEYS"] = str(key_folder)  # the service process inherits it
    ring = Keyring(key_folder)
    broker = Broker.start(log=VAR / "governance-service-broker.log")
    admin = await asyncpg.connect(server)
    created: list[str] = []
    rounds = []
    try:
        await ensure_topics(broker.bootstrap, replication_factor=1)
        mean_bytes = None
        for i in range(args.rounds * 2):
            envelope_only = i % 2 == 1 if args.old_first else i % 2 == 0
            records = signed_records(args.events, ring)
            mean_bytes = round(sum(len(v) for _, _, v, _ in records) / len(records))
            start = await end_offsets(broker.bootstrap)
            publish_s = await publish(broker.bootstrap, records)
            raw_s = await raw_consume(broker.bootstrap, start, args.events)
            name = f"wf_bench_gov_{uuid.uuid4().hex[:8]}"
            await admin.execute(f'CREATE DATABASE "{name}"')
            created.append(name)
            url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
            profile = VAR / f"governance-service-{i}-{'envelope' if envelope_only else 'full'}.pyspy.txt" if args.profile else None
            run = await audit_service(broker.bootstrap, url, args.events, envelope_only=envelope_only, batch=args.batch, log=VAR / f"governance-service-{i}.log", profile=profile, broker_pid=broker.process.pid if broker.process else None)
            raw_rate = args.events / raw_s
            run.update(
                round=i // 2 + 1,
                publish_msg_per_s=round(args.events / publish_s),
                raw_consume_msg_per_s=round(raw_rate),
                ratio_to_raw_consume=round(run["events_per_s"] / raw_rate, 3) if run["events_per_s"] else None,
            )
            rounds.append(run)
            print(json.dumps(run), flush=True)
    finally:
        for name in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        broker.stop()
        if embedded is not None:
            embedded.stop()
    pg = await _server_version(server) if not embedded else "embedded"
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "postgres": pg},
        "events_per_round": args.events,
        "mean_event_bytes": mean_bytes,
        "batch_max_records": args.batch,
        "topics": sorted(WRITERS),
        "runs": rounds,
        "summary": summarise(rounds),
    }


async def _server_version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def summarise(rounds: list[dict]) -> dict:
    """Means over the rounds of each path. The rates depend on what else the machine runs (see
    ``cores_busy_while_auditing``); the CPU an event costs much less so."""

    def mean(path: str, field: str) -> float | None:
        values = [r[field] for r in rounds if r["path"] == path and r[field] is not None]
        if not values:
            return None
        m = sum(values) / len(values)
        return round(m, 3) if field.startswith("ratio") else round(m) if field == "events_per_s" else round(m, 1)

    out: dict = {}
    for path in ("envelope_only", "full_validation"):
        for field in ("events_per_s", "ratio_to_raw_consume", "governance_cpu_us_per_event", "postgres_cpu_us_per_event", "broker_cpu_us_per_event"):
            out[f"{path}_{field}"] = mean(path, field)
        cpu = out[f"{path}_governance_cpu_us_per_event"]
        #: What one core given to governance alone would sustain, at the CPU an event cost it here.
        out[f"{path}_events_per_s_per_governance_core"] = round(1e6 / cpu) if cpu else None
    new, old = out["envelope_only_events_per_s"], out["full_validation_events_per_s"]
    out["speedup"] = round(new / old, 2) if new and old else None
    new_cpu, old_cpu = out["envelope_only_governance_cpu_us_per_event"], out["full_validation_governance_cpu_us_per_event"]
    out["governance_cpu_saved"] = round(1 - new_cpu / old_cpu, 3) if new_cpu and old_cpu else None
    return out


def _n(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def markdown(result: dict) -> str:
    s = result["summary"]
    lines = [
        "# Governance through the service itself (issue 17)",
        "",
        f"{result['when']}, {result['machine']['cpus']} cores, Python {result['machine']['python']}, PostgreSQL {result['machine']['postgres']}, Tansu broker.",
        f"{result['events_per_round']:,} signed events a round over {', '.join(result['topics'])} (mean {result['mean_event_bytes']} bytes), "
        f"governance's audit consumer at max_records={result['batch_max_records']}; `python bench/governance_service.py`.",
        "",
        "| round | path | events/s (between first and last commit) | events/s (wall) | raw broker consume msg/s | ratio to raw | governance CPU µs/event | PostgreSQL CPU µs/event | cores busy: governance / whole machine | chain verifies |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['round']} | {r['path']} | {_n(r['events_per_s'])} | {_n(r['events_per_s_wall'])} | {_n(r['raw_consume_msg_per_s'])} | {r['ratio_to_raw_consume']} | {r['governance_cpu_us_per_event']} | {r['postgres_cpu_us_per_event']} | {r['cores_busy_while_auditing'].get('governance_cores')} / {r['cores_busy_while_auditing'].get('machine_cores')} | {r['chain_verifies']} |"
        )
    lines += [
        "",
        f"Mean over the rounds: envelope only **{_n(s['envelope_only_events_per_s'])} events/s** ({s['envelope_only_ratio_to_raw_consume']} of the raw consume rate), "
        f"{s['envelope_only_governance_cpu_us_per_event']} µs of governance CPU an event (one core: {_n(s['envelope_only_events_per_s_per_governance_core'])} events/s); "
        f"full validation {_n(s['full_validation_events_per_s'])} events/s ({s['full_validation_ratio_to_raw_consume']}), {s['full_validation_governance_cpu_us_per_event']} µs "
        f"(one core: {_n(s['full_validation_events_per_s_per_governance_core'])} events/s). Speed-up ×{s['speedup']}; governance CPU an event −{(s['governance_cpu_saved'] or 0) * 100:.0f}%.",
        f"PostgreSQL CPU an event: {s['envelope_only_postgres_cpu_us_per_event']} µs (envelope only) vs {s['full_validation_postgres_cpu_us_per_event']} µs; broker: {s['envelope_only_broker_cpu_us_per_event']} vs {s['full_validation_broker_cpu_us_per_event']} µs.",
        "",
    ]
    parts = [s.get(f"envelope_only_{k}_cpu_us_per_event") for k in ("governance", "postgres", "broker")]
    if all(parts):
        total = sum(parts)  # type: ignore[arg-type]
        lines += [
            "## The next limit",
            "",
            f"Auditing one event costs {total:.0f} µs of CPU in all (governance {parts[0]}, PostgreSQL {parts[1]}, broker {parts[2]}): "
            f"{2e6 / total:,.0f} events/s if the 2 cores did nothing else and the three overlapped perfectly. The rates above are lower "
            "because the machine was busy with other work (the last column) and a batch's decoding and its database write run one after "
            "the other. In governance, `--profile` (py-spy) shows where: signature checks (the Ed25519 of the upstream adapter's records "
            "costs tens of times a service's HMAC), the envelope parse, aiokafka's record unpacking and the rows' COPY.",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2, help="pairs of runs (one of each path)")
    parser.add_argument("--batch", type=int, default=5000, help="the audit consumer's max_records (BATCH_MAX_RECORDS)")
    parser.add_argument("--old-first", action="store_true", help="start each pair with full validation")
    parser.add_argument("--profile", action="store_true", help="record the service with py-spy (collapsed stacks under .var/bench)")
    arguments = parser.parse_args()
    outcome = asyncio.run(main(arguments))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "governance-service.json").write_text(json.dumps(outcome, indent=1) + "\n")
    (RESULTS / "governance-service.md").write_text(markdown(outcome))
    print(markdown(outcome))
