"""``python -m deploy.sandbox serve|seed``: the simulated customer systems as their own process.

``serve`` migrates its schema, seeds the fake organisation if it is not there yet (the seed is
deterministic and additive) and serves every vendor's API. ``seed --reset`` puts the organisation
back as seeded: everything the skills did is forgotten, but the API tokens issued stay valid.
Configuration: ``DATABASE_URL`` (its own schema, ``SANDBOX_SCHEMA``, default ``sandbox``) and
``SANDBOX_ADMIN_TOKEN`` (the administration API's bearer token).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from aiohttp import web

from deploy.sandbox import server
from deploy.sandbox.seed import seed_sandboxes
from runtime import logs

log = logs.get("sandbox")

#: Kept by ``seed --reset``: reference data the migration put in, the credentials issued, and the
#: webhook subscriptions (an administrator's wiring, like the tokens; their deliveries go).
KEPT = frozenset({"schema_migrations", "sandbox_api_tokens", "sandbox_webhooks", "workday_time_off_plans", "jira_issue_link_types"})


async def seed(dsn: str | None, schema: str, employees: int, *, reset: bool) -> dict[str, int]:
    database = server.database(dsn, schema)
    await database.open()
    try:
        async with database.pool.acquire() as conn, conn.transaction():
            if reset:
                tables = [r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema) if r["tablename"] not in KEPT]
                await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            return await seed_sandboxes(conn, employees)
    finally:
        await database.close()


async def serve(dsn: str | None, schema: str, host: str, port: int, employees: int, admin_token: str) -> None:
    database = server.database(dsn, schema)
    await database.open()
    async with database.pool.acquire() as conn, conn.transaction():
        added = await seed_sandboxes(conn, employees)
    log.info("sandbox seeded", **added)
    app = server.create_app(server.SandboxState(database), admin_token=admin_token)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("sandbox serving", url=f"http://{host}:{port}", systems=list(server.available()))
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await database.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.sandbox", description="The customer's systems, simulated over HTTP.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve every simulated system's API")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", "8700")))
    again = commands.add_parser("seed", help="seed the fake organisation (--reset: put it back as seeded)")
    again.add_argument("--reset", action="store_true")
    for command in (run, again):
        command.add_argument("--employees", type=int, default=int(os.environ.get("SANDBOX_EMPLOYEES", "300")))
    args = parser.parse_args(argv)
    dsn, schema = os.environ.get("DATABASE_URL"), os.environ.get("SANDBOX_SCHEMA", server.SCHEMA)
    if args.command == "seed":
        print(asyncio.run(seed(dsn, schema, args.employees, reset=args.reset)))
        return
    token = os.environ.get("SANDBOX_ADMIN_TOKEN", "")
    if not token:
        sys.exit("SANDBOX_ADMIN_TOKEN is not set: it guards the sandbox's administration API (tokens, test hooks)")
    if os.environ.get("SANDBOX_RATE_LIMITS", "on") == "off":
        from deploy.sandbox.api import okta

        okta.lift_limits()
        print("sandbox: vendors' rate limits lifted (SANDBOX_RATE_LIMITS=off)", flush=True)
    try:
        asyncio.run(serve(dsn, schema, args.host, args.port, args.employees, token))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
