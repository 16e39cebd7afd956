"""How fast governance appends to the audit trail: events/s with the hash chain on, against a plain
COPY of the same events into a table with the same columns and indexes and no chain, in the same run.

Every path starts from the records as the audit consumer hands them to its handler (issue 17:
``codec.decode_envelope``, each record's envelope checked and its bytes kept as received; decoding
is not timed) and ends committed in PostgreSQL. ``plain``: COPY the batch's records (the bytes as
received into ``received``, the same text into the jsonb ``event``) into the table. ``chained``
(what governance runs, ``audit.record``): lock the batch's teams, read their heads, number and hash
the records as received in Python, COPY them into the trail, have PostgreSQL re-hash each team's
new head. ``chained_in_sql`` (the earlier design, kept as the fallback, ``audit.record_in_sql``):
COPY into a temporary table, then one INSERT ... SELECT that numbers and hashes in SQL. Writers run
concurrently, like several consumers. Goal: at least 50,000 events/s with the chain on. Also the
cost of keeping each record twice (``received`` and ``event``): the trail's size, indexes and TOAST
included, with and without ``received``, over the same records. Results in bench/results/audit.json.

    python bench/audit.py [--events 200000] [--batch 5000] [--writers 1,2,4] [--no-with-sql] [--out FILE]

PostgreSQL: TEST_DATABASE_URL or DATABASE_URL (a server the run may create a database on), else the
embedded server under .var/bench.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts import codec  # noqa: E402
from contracts.envelope import Actor  # noqa: E402
from contracts.events import PolicyAllowed, PolicyDecision, SkillStep, StepRecord  # noqa: E402
from deploy.stack import ROOT, Postgres  # noqa: E402
from runtime.db import migrate  # noqa: E402
from services.governance import audit, chain  # noqa: E402
from tests.conftest import ticket  # noqa: E402

RESULTS = Path(__file__).parent / "results"
TEAMS = ["it-support", "hr", "finance", "facilities", "security", "sales", "legal", "platform"]

#: The trail's table, its indexes and constraints, without the chain (its columns and their index).
PLAIN_TABLE = """
CREATE TABLE plain_events (LIKE audit_events INCLUDING ALL);
ALTER TABLE plain_events DROP COLUMN team_seq, DROP COLUMN prev_hash, DROP COLUMN hash;
"""
PLAIN_COLUMNS = ("event_id", "type", "source", "subject", "team", "actor", "correlation_id", "causation_id", "schema_version", "event_time", "event", "received")


async def plain_copy(conn: asyncpg.Connection, batch: list[codec.Received]) -> int:
    """The baseline: the same records COPYed as they are (no locks, no duplicate check, no numbering, no hashing)."""
    rows = [(e.id, e.type, e.source, e.subject, e.team, e.actor_text, e.correlation_id, e.causation_id, e.schema_version, e.time, e.text, e.text) for e in batch]
    async with conn.transaction():
        await conn.copy_records_to_table("plain_events", records=rows, columns=PLAIN_COLUMNS)
    return len(rows)


def events(n: int) -> list:
    """A mix like a ticket's flow: the ticket, a policy decision, a step (about 600-1,000 bytes each)."""
    out = []
    for i in range(n):
        team = TEAMS[i % len(TEAMS)]
        kind = i % 3
        if kind == 0:
            out.append(ticket(team=team, title=f"Password expired, cannot sign in ({i})", description="My password expired this morning and I cannot sign in to Okta."))
            continue
        tid = f"T-{i // 3}"
        if kind == 1:
            data = PolicyDecision(decision_id=str(uuid.uuid4()), ticket_id=tid, coworker="jordan", coworker_version=1, skill="password-reset", step=2, system="okta",
                                  scope="users.reset_password", allowed=True, rule="holds-scope", reason="coworker 'jordan' holds 'password-reset' and okta:users.reset_password",
                                  inputs={"coworker": "jordan", "version": 1, "skill": "password-reset", "state": "active", "granted": ["users.read", "users.reset_password"]})  # fmt: skip
            out.append(PolicyAllowed.create(data, source="/services/skills", team=team, actor=Actor.system("policy"), correlation_id=tid, subject=tid))
        else:
            data = StepRecord(ticket_id=tid, skill="password-reset", coworker="jordan", step=2, name="reset", system="okta", operation="users.reset_password",
                              idempotency_key=f"{tid}/password-reset/2", status="done", inputs={"user": "j***@acme.example"}, outputs={"status": "RECOVERY"})  # fmt: skip
            out.append(SkillStep.create(data, source="/services/skills", team=team, actor=Actor.coworker("jordan"), correlation_id=tid, subject=tid))
    return out


def as_received(batch: list) -> list[codec.Received]:
    """``batch`` with new ids, as the audit consumer hands it over: encoded by the producer, then its envelope checked."""
    return [codec.decode_envelope(codec.encode(e.model_copy(update={"id": str(uuid.uuid4())})), type(e)) for e in batch]


#: The trail as it was before migration 0007 (no ``received``), to weigh what the second copy costs.
SIZED_TABLES = """
CREATE TABLE sized_with (LIKE audit_events INCLUDING ALL);
CREATE TABLE sized_without (LIKE audit_events INCLUDING ALL);
ALTER TABLE sized_without DROP COLUMN received;
"""


async def table_size(conn: asyncpg.Connection, records: int) -> dict[str, Any]:
    """The trail's total size (heap, TOAST, indexes) for the same ``records`` recorded ones, with and without ``received``."""
    await conn.execute(SIZED_TABLES)
    columns = ", ".join(r["attname"] for r in await conn.fetch("SELECT attname FROM pg_attribute WHERE attrelid = 'sized_without'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"))
    sample = f"(SELECT * FROM audit_events ORDER BY seq LIMIT {int(records)})"
    await conn.execute(f"INSERT INTO sized_with OVERRIDING SYSTEM VALUE SELECT * FROM {sample} s")
    await conn.execute(f"INSERT INTO sized_without ({columns}) OVERRIDING SYSTEM VALUE SELECT {columns} FROM {sample} s")
    await conn.execute("VACUUM ANALYZE sized_with")
    await conn.execute("VACUUM ANALYZE sized_without")
    with_ = await conn.fetchval("SELECT pg_total_relation_size('sized_with')")
    without = await conn.fetchval("SELECT pg_total_relation_size('sized_without')")
    counted = await conn.fetchval("SELECT count(*) FROM sized_with")
    await conn.execute("DROP TABLE sized_with, sized_without")
    return {"records": counted, "bytes_with_received": with_, "bytes_without_received": without, "growth": round(with_ / without - 1, 3), "bytes_per_record": round(with_ / counted)}


async def run(pool: asyncpg.Pool, batches: list[list], writers: int, write) -> float:  # noqa: ANN001
    queue = list(batches)

    async def worker() -> None:
        async with pool.acquire() as conn:
            while queue:
                await write(conn, queue.pop(0))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(writers)))
    return time.perf_counter() - started


async def stages(pool: asyncpg.Pool, batch: list[codec.Received]) -> dict[str, float]:
    """Where one chained batch's time goes (ms), step by step as ``audit.record`` takes them."""
    async with pool.acquire() as conn:
        t0 = time.perf_counter()
        prepared = audit._prepare(batch)  # the content around the numbers, from the bytes as received (no round trip)
        t1 = time.perf_counter()
        async with conn.transaction():
            await conn.execute(audit._LOCK_TEAMS, [audit.team_lock(t) for t in sorted({e.team for e in batch})])
            heads = await conn.fetch(audit._HEADS, sorted({e.team for e in batch}))
            t2 = time.perf_counter()
            state = {h["team"]: (h["team_seq"] or 0, bytes(h["hash"]) if h["hash"] is not None else chain.GENESIS) for h in heads}
            now = heads[0]["now"]
            recorded_at = b"%d" % chain.epoch_us(now)
            rows = []
            for p in prepared:
                e = p.event
                seq, prev = state[e.team]
                digest = hashlib.sha256(prev + p.before + b"%d" % (seq + 1) + p.middle + recorded_at + p.after).digest()
                rows.append((e.id, e.type, e.source, e.subject, e.team, p.actor, e.correlation_id, e.causation_id, e.schema_version, e.time, now, p.text, p.text, seq + 1, prev, digest))
                state[e.team] = (seq + 1, digest)
            t3 = time.perf_counter()
            await conn.copy_records_to_table("audit_events", records=rows, columns=audit.CHAINED_COLUMNS)
            t4 = time.perf_counter()
            teams, seqs = zip(*((team, seq) for team, (seq, _) in state.items()), strict=True)
            assert not await conn.fetch(audit._DISAGREE, list(teams), list(seqs))
            t5 = time.perf_counter()
        t6 = time.perf_counter()
    ms = [round(x * 1000, 1) for x in (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)]
    return dict(zip(("prepare_ms", "lock_and_heads_ms", "hash_in_python_ms", "copy_ms", "check_heads_ms", "commit_ms"), ms, strict=True))


async def main(args: argparse.Namespace) -> dict:
    server = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    embedded = None
    if not server:
        embedded = Postgres.resolve(ROOT / ".var" / "bench")
        server = embedded.url
    name = f"wf_bench_audit_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))  # keeps a query (the embedded server's socket)
    try:
        owner = await asyncpg.create_pool(url, min_size=1, max_size=2)
        await migrate(owner, "governance", ROOT / "services" / "governance" / "migrations")
        await owner.execute(f"SET search_path TO governance; {PLAIN_TABLE}")
        indexes = [r["indexname"] for r in await owner.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = 'governance' AND tablename = 'audit_events' ORDER BY 1")]
        await owner.execute("GRANT SELECT, INSERT ON governance.plain_events TO workforce_governance")
        await owner.close()
        pool = await audit.connect_as_governance(url, "governance", max_size=max(args.writers) + 1)
        print(f"building {args.events:,} events ...", flush=True)
        everything = events(args.events)
        size = sum(len(codec.encode(e)) for e in everything[:3000]) / len(everything[:3000])
        results = []
        for writers in args.writers:
            for label, write in (("plain", plain_copy), ("chained", audit.record), ("chained_in_sql", audit.record_in_sql)):
                if label == "chained_in_sql" and not args.with_sql:
                    continue
                fresh = as_received(everything)
                batches = [fresh[i : i + args.batch] for i in range(0, len(fresh), args.batch)]
                seconds = await run(pool, batches, writers, write)
                rate = len(fresh) / seconds
                results.append({"path": label, "writers": writers, "events": len(fresh), "seconds": round(seconds, 2), "events_per_s": round(rate)})
                print(f"{label:<15} writers={writers}: {rate:>9,.0f} events/s ({len(fresh):,} in {seconds:.2f} s)", flush=True)
        async with pool.acquire() as conn:
            verified = await audit.verify(conn)
            started = time.perf_counter()
            await audit.verify(conn)
            verify_rate = verified.records / (time.perf_counter() - started)
        assert verified.ok, verified.first_break
        breakdown = [await stages(pool, as_received(everything[: args.batch])) for _ in range(3)]
        await pool.close()
        owner = await asyncpg.connect(url, server_settings={"search_path": "governance"})
        try:
            sizes = await table_size(owner, min(args.events, 200_000))
        finally:
            await owner.close()
        best = {p: max(r["events_per_s"] for r in results if r["path"] == p) for p in ("plain", "chained", "chained_in_sql") if any(r["path"] == p for r in results)}
        report = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "postgres": await admin.fetchval("SHOW server_version")},
            "batch": args.batch,
            "mean_event_bytes": round(size),
            "indexes": indexes,
            "runs": results,
            "best_events_per_s": best,
            "chained_vs_plain": round(best["chained"] / best["plain"], 3),
            "goal_events_per_s": 50_000,
            "goal_met": best["chained"] >= 50_000,
            "one_chained_batch": breakdown,
            "verify_records_per_s": round(verify_rate),
            "table_size": sizes,
        }
        print(json.dumps({k: report[k] for k in ("best_events_per_s", "chained_vs_plain", "goal_met", "one_chained_batch", "verify_records_per_s", "table_size")}, indent=1))
        return report
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--writers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4])
    parser.add_argument("--with-sql", action=argparse.BooleanOptionalAction, default=True, help="also run the earlier design (hashing in SQL)")
    parser.add_argument("--out", type=Path, default=RESULTS / "audit.json", help="where the result goes (other sizes than the defaults: not bench/results)")
    arguments = parser.parse_args()
    result = asyncio.run(main(arguments))
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {arguments.out}")
