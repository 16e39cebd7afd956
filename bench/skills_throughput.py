"""Skill requests per second through the Runner: one at a time (how the consumer worked before) against
a batch's tickets at once (``services.skills.batching.run_per_ticket``, as ``on_skill_requested`` now
does), in the same run, on the same seeded simulated systems served over HTTP (deploy/sandbox, as
``bench/skills.py``), and the PostgreSQL transactions each request costs.

Each mode gets a fresh copy of the seeded systems and an empty skills database of its own, so the
skills service's transactions are counted alone: ``pg_stat_database.xact_commit + xact_rollback`` of
that database, read once its pool is closed (a backend flushes its counts when it exits), less what
opening and closing the pool costs (measured in the same run). A third mode runs the concurrent path
on a pool that does not send asyncpg's reset query on every release (``reset=`` of
``asyncpg.create_pool``): the change proposed for ``runtime/db.py``, measured before it is made.

The simulated systems run in this process, on the same event loop, as in ``bench/skills.py``: their
work is in every mode's time alike. Two rate limits are lifted, so that what is measured is the service's
own cost: the systems' client-side limit (``SKILLS_RATE_LIMITS``, default 50 requests/s per system), and
the simulated Okta's org limit (600 requests/min on ``/api/v1/users``, as Okta's), which every
request's requester look-up counts against: in a deployment those, not the service, are the limit.

Writes bench/results/skills-throughput.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.catalog import load_catalog  # noqa: E402
from contracts.events import SkillCompleted, SkillRequested  # noqa: E402
from deploy.coworkers import example_workforce  # noqa: E402
from deploy.sandbox.api import okta as simulated_okta  # noqa: E402
from deploy.sandbox.cases import CASES, Workbench  # noqa: E402
from deploy.sandbox.running import running  # noqa: E402
from deploy.stack import ROOT, Postgres  # noqa: E402
from runtime.db import Database, migrate  # noqa: E402
from services.skills.batching import run_per_ticket  # noqa: E402
from services.skills.credentials import Vault  # noqa: E402
from services.skills.library import SKILLS  # noqa: E402
from services.skills.settings import DEFAULT_CATALOG  # noqa: E402
from services.skills.systems import Systems  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from skills import _database, template  # noqa: E402  (bench/skills.py: the seeded systems' template)

RESULTS = Path(__file__).parent / "results"
MIGRATIONS = ROOT / "services" / "skills" / "migrations"
#: The requests played: resolved cases of two skills (a directory lookup, then one or two steps).
PLAYED = ("active user resets", "own balances and last payslip")
BATCH = 100  # what on_skill_requested takes per poll (max_records)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The proposed pool reset: nothing beyond what asyncpg always does (roll back an open transaction)."""


class KeptSessions(Database):
    """``Database`` with its pool made as proposed for runtime/db.py: ``reset=_keep_session``."""

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=self.pool_size, command_timeout=60, server_settings={"search_path": self.schema}, reset=_keep_session)
        await migrate(self._pool, self.schema, self.migrations)


async def _transactions(admin: asyncpg.Connection, name: str) -> int:
    """Transactions the database ``name`` has counted, once no backend of it is left to flush more."""
    for _ in range(100):
        if not await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    await admin.execute("SELECT pg_stat_clear_snapshot()")
    return int(await admin.fetchval("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", name))


async def sequential(bench: Workbench, requests: list[SkillRequested]) -> list[list]:
    return [await bench.runner.run(event) for event in requests]


def concurrent(limit: int) -> Callable[[Workbench, list[SkillRequested]], Awaitable[list[list]]]:
    async def play(bench: Workbench, requests: list[SkillRequested]) -> list[list]:
        out: dict[str, list] = {}

        async def run(event: SkillRequested) -> None:
            out[event.id] = await bench.runner.run(event)

        for start in range(0, len(requests), BATCH):
            await run_per_ticket(requests[start : start + BATCH], run, limit=limit)
        return [out[e.id] for e in requests]

    return play


async def mode(server_url: str, seeded: str, n: int, play: Callable[[Workbench, list[SkillRequested]], Awaitable[list[list]]], *, pool_size: int, kept: bool) -> dict:
    """``n`` requests played one way, on fresh systems and a fresh skills database; requests/s and transactions."""
    sim, skills_db = f"skills_tp_sim_{uuid.uuid4().hex[:8]}", f"skills_tp_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{sim}" TEMPLATE "{seeded}"')
    await admin.execute(f'CREATE DATABASE "{skills_db}"')
    database = (KeptSessions if kept else Database)(_database(server_url, skills_db), "skills", MIGRATIONS, pool_size=pool_size)
    client = httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
    try:
        async with running(_database(server_url, sim), employees=None) as simulator:
            await database.open()
            urls = simulator.urls()
            systems = Systems(urls, client=client, rate_limits={name: 1_000_000.0 for name in urls})
            bench = Workbench(database, Vault(SecretStr(Fernet.generate_key().decode())), example_workforce(), SKILLS, load_catalog(DEFAULT_CATALOG), simulator=simulator, systems=systems)
            await bench.hire_all()
            cases = [c for c in CASES if c.name in PLAYED]
            requests = [bench.request(cases[i % len(cases)]) for i in range(n)]
            warm = [bench.request(c) for c in cases]  # the first of each: manifest cache, reader credential, HTTP connections
            for event in warm:
                await bench.runner.run(event)
            await database.close()
            before = await _transactions(admin, skills_db)
            await database.open()
            await database.close()
            overhead = await _transactions(admin, skills_db) - before  # opening (migrations check) and closing a pool
            await database.open()
            started = time.perf_counter()
            played = await play(bench, requests)
            seconds = time.perf_counter() - started
            resolved = sum(1 for events in played if any(isinstance(e, SkillCompleted) for e in events))
            await database.close()
            xacts = await _transactions(admin, skills_db) - before - 2 * overhead
            await database.open()
            replay = await bench.runner.run(requests[0])  # a redelivery replays: same events, same ids
            assert [e.id for e in replay] == [e.id for e in played[0]], "a redelivered request did not replay"
            return {"requests": n, "resolved": resolved, "seconds": round(seconds, 3), "requests_per_s": round(n / seconds, 1), "transactions_per_request": round(xacts / n, 2)}
    finally:
        await client.aclose()
        await database.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{sim}" WITH (FORCE)')
        await admin.execute(f'DROP DATABASE IF EXISTS "{skills_db}" WITH (FORCE)')
        await admin.close()


async def main(n: int, employees: int, pool_size: int, concurrency: int | None, rounds: int) -> dict:
    okta_limit = simulated_okta.LIMITS["/api/v1/users"]
    for family in simulated_okta.LIMITS:  # the simulated Okta's org rate limits, lifted (see the result's notes)
        simulated_okta.LIMITS[family] = 10**9
    postgres = Postgres.resolve(ROOT / ".var")
    seeded = await template(postgres.url, employees)
    limit = concurrency or pool_size  # the pool's size (the service's SKILLS_CONCURRENCY is 1 by default: see its setting)
    plays = {"sequential": (sequential, False), "concurrent": (concurrent(limit), False), "concurrent_kept_sessions": (concurrent(limit), True)}
    runs: dict[str, list[dict]] = {name: [] for name in plays}
    try:
        for _ in range(rounds):  # the modes take turns, so a machine busy with other work weighs on each alike
            for name, (play, kept) in plays.items():
                runs[name].append(await mode(postgres.url, seeded, n, play, pool_size=pool_size, kept=kept))
                print(name, runs[name][-1], flush=True)
    finally:
        admin = await asyncpg.connect(postgres.url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{seeded}" WITH (FORCE)')
        await admin.close()
        postgres.stop()
    modes = {name: {**_median_run(r), "requests_per_s_each_round": [x["requests_per_s"] for x in r]} for name, r in runs.items()}
    ratios = {name: round(statistics.median(x["requests_per_s"] / s["requests_per_s"] for x, s in zip(runs[name], runs["sequential"], strict=True)), 2) for name in plays}
    return {
        "played": list(PLAYED),
        "pool_size": pool_size,
        "concurrency": limit,
        "batch": BATCH,
        "rounds": rounds,
        "okta_users_limit_per_min_lifted": okta_limit,
        "modes": modes,
        "ratio_concurrent_to_sequential": ratios["concurrent"],
        "ratio_kept_sessions_to_sequential": ratios["concurrent_kept_sessions"],
        "load_average_after": os.getloadavg()[0],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
    }


def _median_run(runs: list[dict]) -> dict:
    """The round with the median requests/s (its other figures with it)."""
    return sorted(runs, key=lambda r: r["requests_per_s"])[len(runs) // 2]


def markdown(report: dict) -> str:
    m = report["modes"]
    lines = [
        "# Skills throughput: a batch's tickets at once, fewer round trips",
        "",
        f"`python bench/skills_throughput.py` — {m['sequential']['requests']} requests ({', '.join(report['played'])}, alternating) through the",
        "skills Runner against the seeded simulated systems over HTTP, each mode on fresh systems and its own skills database.",
        f"Pool of {report['pool_size']} connections, {report['concurrency']} tickets at once, batches of {report['batch']}; {report['rounds']} rounds, the modes",
        "taking turns; the median round of each mode is shown, and the ratio is the median of the rounds' ratios.",
        f"Load average of the machine (shared with other work) after the run: {report['load_average_after']:.1f}.",
        f"Measured {report['machine']['when']} on {report['machine']['cpus']} CPUs, Python {report['machine']['python']}.",
        "",
        "| mode | requests/s (each round) | vs one at a time | PostgreSQL transactions per request |",
        "| --- | ---: | ---: | ---: |",
        f"| one at a time (the consumer before) | {_rates(m['sequential'])} | 1.00 | {m['sequential']['transactions_per_request']} |",
        f"| tickets at once (`run_per_ticket`) | {_rates(m['concurrent'])} | {report['ratio_concurrent_to_sequential']} | {m['concurrent']['transactions_per_request']} |",
        f"| tickets at once, pool without reset query (proposed runtime/db.py) | {_rates(m['concurrent_kept_sessions'])} | {report['ratio_kept_sessions_to_sequential']} | {m['concurrent_kept_sessions']['transactions_per_request']} |",
        "",
        "Transactions are `xact_commit + xact_rollback` of the skills database alone (the systems have their own), pool",
        "open/close subtracted. Every request resolved in every mode: " + ", ".join(f"{k} {v['resolved']}/{v['requests']}" for k, v in m.items()) + ".",
        "",
        "**The next limit is not the service.** Two rate limits are lifted in this bench: the systems' client-side limit",
        "(`SKILLS_RATE_LIMITS`, default 50 requests/s per system: a skill calling Okta twice per request, the requester's",
        f"look-up and its step, is capped at 25 requests/s), and Okta's own org limit on `/api/v1/users` ({report['okta_users_limit_per_min_lifted']}",
        "requests/min in the simulator, as Okta's default), which every request's requester look-up counts against: with it, a",
        "run of 400 resolved the first 148 and escalated the rest as `identity_unverifiable` (429), i.e. about 4 calls on",
        "`/api/v1/users` per request and about 2.5 requests/s sustained for the whole org, whatever the service does. The",
        "remedy is fewer directory calls per request (a short-lived binding per requester id and email, or Okta's higher",
        "limits), not more concurrency.",
    ]
    if "before" in report:
        b = report["before"]
        lines += [
            "",
            f"**Before (the code of issue 17's start, the same bench, another run at {b['when']}):** one at a time",
            f"{b['sequential']['requests_per_s']} requests/s on **{b['sequential']['transactions_per_request']} transactions per request**; tickets at once",
            f"{b['concurrent']['requests_per_s']} requests/s. Reproduce: `git archive <commit> | tar -x -C /tmp/before`, copy this file and",
            "`services/skills/batching.py` in, run it there with `--rounds 1`, then pass its JSON here with `--before`.",
        ]
    return "\n".join(lines) + "\n"


def _rates(mode: dict) -> str:
    return f"**{mode['requests_per_s']}** ({', '.join(str(r) for r in mode['requests_per_s_each_round'])})"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--employees", type=int, default=300)
    parser.add_argument("--pool-size", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, help="this bench's JSON from a run on the code before issue 17, shown beside (another run)")
    args = parser.parse_args()
    report = asyncio.run(main(args.requests, args.employees, args.pool_size, args.concurrency, args.rounds))
    if args.before is not None:
        before = json.loads(args.before.read_text())
        report["before"] = {"when": before["machine"]["when"], **{name: before["modes"][name] for name in ("sequential", "concurrent")}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "skills-throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "skills-throughput.md").write_text(markdown(report))
    print(markdown(report))
