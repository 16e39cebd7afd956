"""Skill reliability, as tau-bench measures agents: every sandbox case of every skill played k times
(default 8), each run in a fresh, seeded sandbox database; a skill passes^k when every run of every
one of its cases ended as a person would accept (the expected outcome, the expected error, and the
case's own check of the sandbox afterwards).

Writes bench/results/skills.md and skills.json. Uses ``DATABASE_URL`` or the embedded PostgreSQL.
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
from cryptography.fernet import Fernet
from pydantic import SecretStr

from contracts.catalog import load_catalog
from deploy.coworkers import example_workforce
from deploy.stack import ROOT, Postgres
from runtime.db import Database
from deploy.sandbox.cases import CASES, Case, Workbench
from services.skills.credentials import Vault
from services.skills.library import SKILLS
from deploy.sandbox.seed import seed_sandboxes
from services.skills.settings import DEFAULT_CATALOG

RESULTS = Path(__file__).parent / "results"
MIGRATIONS = ROOT / "services" / "skills" / "migrations"


def _database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def play_once(server_url: str, case: Case, employees: int) -> tuple[str | None, float]:
    """One run of ``case`` in a database of its own; (what went wrong or None, seconds)."""
    name = f"skills_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    database = Database(_database(server_url, name), "skills", MIGRATIONS, pool_size=4)
    started = time.perf_counter()
    try:
        await database.open()
        async with database.pool.acquire() as conn:
            await seed_sandboxes(conn, employees)
        bench = Workbench(database, Vault(SecretStr(Fernet.generate_key().decode())), example_workforce(), SKILLS, load_catalog(DEFAULT_CATALOG))
        await bench.hire_all()
        started = time.perf_counter()
        try:
            played = await bench.play(case)
            problem = bench.verdict(played)
        except AssertionError as failed:
            problem = f"check failed: {failed}"
        except Exception:  # noqa: BLE001 - a crash is a failed run, recorded with its cause
            problem = "crashed: " + traceback.format_exc(limit=3).splitlines()[-1]
        return problem, time.perf_counter() - started
    finally:
        await database.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main(runs: int, employees: int, only: str | None) -> dict:
    postgres = Postgres.resolve(ROOT / ".var")  # the local stack's own, ignored by git
    try:
        results: dict[str, dict] = defaultdict(lambda: {"cases": {}, "runs": 0, "passed": 0})
        for case in CASES:
            if only and case.skill != only:
                continue
            outcomes = []
            for _ in range(runs):
                outcomes.append(await play_once(postgres.url, case, employees))
            skill = results[case.skill]
            problems = [p for p, _ in outcomes if p]
            skill["cases"][case.name] = {
                "expect": case.expect + (f" ({case.error_code})" if case.error_code else ""),
                "passed": runs - len(problems),
                "runs": runs,
                "median_ms": round(sorted(s for _, s in outcomes)[len(outcomes) // 2] * 1000, 1),
                "problems": sorted(set(problems)),
            }
            skill["runs"] += runs
            skill["passed"] += runs - len(problems)
            print(f"{case.skill:22} {case.name:55} {runs - len(problems)}/{runs}", flush=True)
        report = {
            "k": runs,
            "skills": {name: {**r, f"pass^{runs}": all(c["passed"] == c["runs"] for c in r["cases"].values())} for name, r in sorted(results.items())},
            "not_run_here": sorted(set(load_catalog(DEFAULT_CATALOG).requirements) - set(SKILLS)),
            "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(), "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
        }
        return report
    finally:
        postgres.stop()


def markdown(report: dict) -> str:
    k = report["k"]
    lines = [
        "# Skill reliability (pass^k)",
        "",
        f"Every sandbox case of every skill played {k} times, each run in a fresh, seeded sandbox database",
        "(`python bench/skills.py`). A skill passes^k when all runs of all its cases ended as expected.",
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
