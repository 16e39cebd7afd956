"""A simulator running inside this process on a loopback port (tests, benchmarks): the same app
``python -m deploy.sandbox serve`` runs, reached over real HTTP."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from aiohttp import web
from pydantic import SecretStr

from deploy.sandbox import server
from deploy.sandbox.seed import seed_sandboxes
from runtime.db import Database
from services.skills.issuer import Issuer


@dataclass
class Running:
    url: str  # the simulator's root, e.g. http://127.0.0.1:40123
    admin_token: str
    database: Database
    app: web.Application

    def urls(self) -> dict[str, str]:
        return server.urls(self.url)

    def issuer(self) -> Issuer:
        """Its administration API as the skills service's token issuer (``SKILLS_CREDENTIAL_ISSUER``)."""
        return Issuer(f"{self.url}/_sandbox", SecretStr(self.admin_token))

    @property
    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"{self.url}/_sandbox", headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=30)

    async def token(self, system: str, coworker: str, scopes: list[str], *, version: int = 1) -> str:
        """An API token for ``coworker`` on ``system`` (as the customer's administrator would issue one)."""
        async with self.admin as admin:
            response = await admin.post("/tokens", json={"system": system, "coworker": coworker, "version": version, "scopes": scopes})
            response.raise_for_status()
            return response.json()["token"]

    async def hook(self, kind: str, **spec: object) -> dict:
        """Arm a test hook: ``hook("faults", system="okta", status=503)``, ``hook("holds", system=..., when="after")``."""
        async with self.admin as admin:
            response = await admin.post(f"/{kind}", json=spec)
            response.raise_for_status()
            return response.json()


@asynccontextmanager
async def running(dsn: str, *, employees: int | None = 120, schema: str = server.SCHEMA, systems: tuple[str, ...] | None = None, port: int = 0) -> AsyncIterator[Running]:
    """Migrate (and seed ``employees`` people, unless None), then serve on 127.0.0.1:``port``."""
    database = server.database(dsn, schema)
    await database.open()
    if employees is not None:
        async with database.pool.acquire() as conn, conn.transaction():
            await seed_sandboxes(conn, employees)
    admin_token = secrets.token_urlsafe(24)
    app = server.create_app(server.SandboxState(database), admin_token=admin_token, systems=systems or server.available())
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    try:
        yield Running(f"http://127.0.0.1:{bound}", admin_token, database, app)
    finally:
        await runner.cleanup()
        await database.close()
