"""PostgreSQL for the services that keep state: a pool, and versioned SQL migrations applied at start.

Each service owns one PostgreSQL schema (``governance``, ``billing``, ``skills``) and its migrations
are the numbered ``.sql`` files in its ``migrations/`` folder. They run in order, each in a
transaction, under an advisory lock so that two instances starting together do not race.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

import asyncpg

from runtime import logs

log = logs.get(__name__)

_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a connection gets on its way back to the pool, after asyncpg rolled back any transaction
    left open: nothing more. The default reset (``RESET ALL; UNLISTEN *; pg_advisory_unlock_all();
    CLOSE ALL``) is one more round trip per release, a third of the skills service's transactions
    (issue 17), and undoes nothing here: no code sets session state, listens, keeps a cursor or holds
    a session-level advisory lock past its own ``finally`` (migrations unlock theirs)."""


async def connect(dsn: str, *, min_size: int = 1, max_size: int = 8, timeout_s: float = 60.0, server_settings: dict[str, str] | None = None) -> asyncpg.Pool:
    """A pool to ``dsn``, waiting for the server to come up (it may be starting beside us)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, command_timeout=60, server_settings=server_settings, reset=_keep_session)
        except (OSError, asyncpg.CannotConnectNowError, asyncpg.PostgresConnectionError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def migrate(pool: asyncpg.Pool, schema: str, folder: Path) -> list[str]:
    """Apply the migrations of ``folder`` to ``schema`` that are not applied yet; return their names."""
    files = sorted(p for p in folder.iterdir() if _MIGRATION.match(p.name))
    lock_id = int.from_bytes(hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big", signed=True)
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", lock_id)
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
                " version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"]: r for r in await conn.fetch(f'SELECT version, name, checksum FROM "{schema}".schema_migrations')}
            for path in files:
                version = int(path.name[:4])
                sql = path.read_text()
                checksum = hashlib.sha256(sql.encode()).hexdigest()
                if version in done:
                    if done[version]["checksum"] != checksum:
                        raise RuntimeError(
                            f"migration {path.name} of schema {schema} was edited after it was applied "
                            f"(checksum {checksum[:12]} != {done[version]['checksum'][:12]}); add a new migration instead"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
                    await conn.execute(sql)
                    await conn.execute(
                        f'INSERT INTO "{schema}".schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
                        version,
                        path.name,
                        checksum,
                    )
                applied.append(path.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_id)
    if applied:
        log.info("migrations applied", schema=schema, migrations=applied)
    return applied


class Database:
    """A service's own store: one schema, its migrations, a pool opened at start and closed at stop."""

    def __init__(self, dsn: str | None, schema: str, migrations: Path, *, pool_size: int = 8) -> None:
        self._dsn, self.schema, self.migrations, self.pool_size = dsn, schema, migrations, pool_size
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError(f"the {self.schema} database is not open yet")
        return self._pool

    async def open(self) -> None:
        if not self._dsn:
            raise RuntimeError(
                "DATABASE_URL is not set. Start the stack with `workforce up` (it provides one), "
                "or set DATABASE_URL=postgresql://user@host:5432/db"
            )
        self._pool = await connect(self._dsn, max_size=self.pool_size, server_settings={"search_path": self.schema})
        await migrate(self._pool, self.schema, self.migrations)

    async def close(self, timeout_s: float = 10.0) -> None:
        """Close the pool: gracefully, waiting for connections in use to come back, for at most
        ``timeout_s``; then the rest are terminated (a connection a cancelled task left busy would
        otherwise hold a shutdown forever)."""
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), timeout_s)
            except TimeoutError:
                log.warning("database pool did not close in time; terminating its connections", schema=self.schema, timeout_s=timeout_s)
                self._pool.terminate()

    async def ready(self) -> bool:
        return bool(await self.pool.fetchval("SELECT true"))
