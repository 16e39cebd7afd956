"""Skill reliability, as tau-bench measures agents: every sandbox case of every skill played k times
(default 8), each run against a fresh, seeded copy of the simulated systems served over HTTP
(deploy/sandbox, the path a deployment takes to its real systems); a skill passes^k when every run
of every one of its cases ended as a person would accept (the expected outcome, the expected error,
and the case's own check of the systems afterwards). Each request is delivered twice (the workbench
delivers it again once its conversation is over, as Kafka may), and the second delivery must replay.

It also measures what HTTP adds to a step, in the same run: every call's time at the client against
the time the simulator spent on it (its ``Server-Timing``), i.e. the in-process work of the same state
logic; their difference is the transport, serialisation and client cost.

Writes bench/results/skills.md and skills.json. Uses the embedded PostgreSQL under .var.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
import traceback
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr

from contracts.catalog import load_catalog
from deploy.coworkers import example_workforce
from deploy.sandbox import server as sandbox
from deploy.sandbox.cases import CASES, Case, Workbench
from deploy.sandbox.running import running
from deploy.sandbox.seed import seed_sandboxes
from deploy.stack import ROOT, Postgres
from runtime.db import Database
from services.skills.credentials import Vault
from services.skills.library import SKILLS
from services.skills.settings import DEFAULT_CATALOG
from services.skills.systems import Systems

RESULTS = Path(__file__).parent / "results"
MIGRATIONS = ROOT / "services" / "skills" / "migrations"


def _database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class Calls:
    """Each HTTP call's time at the client and at the simulator (``Server-Timing: app;dur=``), in ms."""

    def __init__(self) -> None:
        self.client: list[float] = []
        self.server: list[float] = []

    async def sent(self, request: httpx.Request) -> None:
        request.extensions["bench_t0"] = time.perf_counter()

    async def answered(self, response: httpx.Response) -> None:
        await response.aread()
        timing = response.headers.get("Server-Timing", "")
        if "dur=" in timing:
            self.client.append((time.perf_counter() - response.request.extensions["bench_t0"]) * 1000)
            self.server.append(float(timing.split("dur=")[1].split(";")[0]))


async def template(server_url: str, employees: int) -> str:
    """A database with the simulated systems migrated and seeded: each run starts from a copy."""
    name = f"skills_bench_tpl_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    database = sandbox.database(_database(server_url, name))
    await database.open()
    async with database.pool.acquire() as conn, conn.transaction():
        await seed_sandboxes(conn, employees)
    await database.close()
    return name


async def play_once(server_url: str, case: Case, seeded: str, calls: Calls) -> tuple[str | None, float, int]:
    """One run of ``case`` on a copy of the seeded systems; (what went wrong or None, seconds, steps run)."""
    name = f"skills_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{seeded}"')
    url = _database(server_url, name)
    database = Database(url, "skills", MIGRATIONS, pool_size=4)
    client = httpx.AsyncClient(timeout=10, event_hooks={"request": [calls.sent], "response": [calls.answered]})
    started = time.perf_counter()
    try:
        async with running(url, employees=None) as simulator:
            await database.open()
            systems = Systems(simulator.urls(), client=client)
            bench = Workbench(database, Vault(SecretStr(Fernet.generate_key().decode())), example_workforce(), SKILLS, load_catalog(DEFAULT_CATALOG), simulator=simulator, systems=systems)
            await bench.hire_all()
            started = time.perf_counter()
            steps = 0
            try:
                played = await bench.play(case)
                problem = bench.verdict(played)
                steps = sum(1 for e in played.events if e.type == "skill.step")
            except AssertionError as failed:
                problem = f"check failed: {failed}"
            except Exception:  # noqa: BLE001 - a crash is a failed run, recorded with its cause
                problem = "crashed: " + traceback.format_exc(limit=3).splitlines()[-1]
            return problem, time.perf_counter() - started, steps
    finally:
        await client.aclose()
        await database.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2] if values else 0.0


async def main(runs: int, employees: int, only: str | None) -> dict:
    postgres = Postgres.resolve(ROOT / ".var")  # the local stack's own, ignored by git
    seeded = await template(postgres.url, employees)
    calls = Calls()
    steps_run = 0
    try:
        results: dict[str, dict] = defaultdict(lambda: {"cases": {}, "runs": 0, "passed": 0})
        for case in CASES:
            if only and case.skill != only:
                continue
            outcomes = []
            for _ in range(runs):
                outcomes.append(await play_once(postgres.url, case, seeded, calls))
            steps_run += sum(n for *_, n in outcomes)
            skill = results[case.skill]
            problems = [p for p, *_ in outcomes if p]
            skill["cases"][case.name] = {
                "expect": case.expect + (f" ({case.error_code})" if case.error_code else ""),
                "passed": runs - len(problems),
                "runs": runs,
                "median_ms": round(_median([s for _, s, _ in outcomes]) * 1000, 1),
                "problems": sorted(set(problems)),
            }
            skill["runs"] += runs
            skill["passed"] += runs - len(problems)
            print(f"{case.skill:22} {case.name:55} {runs - len(problems)}/{runs}", flush=True)
        report = {
            "k": runs,
            "skills": {name: {**r, f"pass^{runs}": all(c["passed"] == c["runs"] for c in r["cases"].values())} for name, r in sorted(results.items())},
            "not_run_here": sorted(set(load_catalog(DEFAULT_CATALOG).requirements) - set(SKILLS)),
            "http": {
                "calls": len(calls.client),
                "steps": steps_run,
                "client_ms_median": round(_median(calls.client), 2),
                "system_ms_median": round(_median(calls.server), 2),
                "added_ms_per_call_median": round(_median([c - s for c, s in zip(calls.client, calls.server, strict=True)]), 2),
                "added_ms_per_step_mean": round(sum(c - s for c, s in zip(calls.client, calls.server, strict=True)) / max(steps_run, 1), 2),
                "calls_per_step": round(len(calls.client) / max(steps_run, 1), 2),
            },
            "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(), "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
        }
        return report
    finally:
        admin = await asyncpg.connect(postgres.url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{seeded}" WITH (FORCE)')
        await admin.close()
        postgres.stop()


def markdown(report: dict) -> str:
    k = report["k"]
    lines = [
        "# Skill reliability (pass^k)",
        "",
        f"Every sandbox case of every skill played {k} times, each run against a fresh, seeded copy of the simulated",
        "systems served over HTTP (`python bench/skills.py`), each request delivered twice (the second must replay).",
        "A skill passes^k when all runs of all its cases ended as expected.",
        f"Measured {report['machine']['when']} on {report['machine']['cpus']} CPUs, Python {report['machine']['python']}.",
        "",
        f"| skill | cases | runs passed | pass^{k} |",
        "| --- | ---: | ---: | :---: |",
    ]
    for name, skill in report["skills"].items():
        lines.append(f"| {name} | {len(skill['cases'])} | {skill['passed']}/{skill['runs']} | {'yes' if skill[f'pass^{k}'] else '**no**'} |")
    lines += ["", "## Cases", "", "| skill | case | expected | passed | median ms |", "| --- | --- | --- | ---: | ---: |"]
    for name, skill in report["skills"].items():
        for case, r in skill["cases"].items():
            lines.append(f"| {name} | {case} | {r['expect']} | {r['passed']}/{r['runs']} | {r['median_ms']} |")
            lines += [f"|  | ↳ {p} |  |  |  |" for p in r["problems"]]
    http = report["http"]
    lines += [
        "",
        "## What HTTP adds to a step (same run)",
        "",
        f"{http['calls']} calls over {http['steps']} steps ({http['calls_per_step']} calls per step, counting the requester's directory lookup before the first). Per call, median: {http['client_ms_median']} ms at the",
        f"client, {http['system_ms_median']} ms of it in the system itself (its `Server-Timing`: the state logic the in-process",
        f"sandbox ran), so **{http['added_ms_per_call_median']} ms added per call** (loopback transport, JSON, client); "
        f"**{http['added_ms_per_step_mean']} ms added per step** on average.",
    ]
    if report["not_run_here"]:
        lines += ["", f"In the catalog but not run by this deployment (routed, then escalated): {', '.join(report['not_run_here'])}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--employees", type=int, default=300)
    parser.add_argument("--skill", help="only this skill's cases")
    args = parser.parse_args()
    report = asyncio.run(main(args.runs, args.employees, args.skill))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "skills.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "skills.md").write_text(markdown(report))
    print(markdown(report))
