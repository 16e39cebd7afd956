"""A request's pooled connection: one at a time, never held while a system is called.

A request reads and writes between its calls to systems; doing each of those on a connection of its
own costs a pool round trip and asyncpg's reset query per statement. ``Held`` keeps one connection
for a stretch of them and gives it back before the call (``release``), so a slow system never holds
a connection and a request never waits for a second one while it holds a first (a full pool cannot
deadlock on it).
"""

from __future__ import annotations

import contextlib
from types import TracebackType

import asyncpg


class Held:
    """``async with Held(pool) as held``: ``held.conn`` until ``await held.release()`` or the block ends."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> Held:
        self._conn = await self.pool.acquire()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.release()

    @property
    def conn(self) -> asyncpg.Connection:
        if self._conn is None:
            raise RuntimeError("the connection was given back to the pool before this use")
        return self._conn

    async def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await self.pool.release(conn)


def lent(db: asyncpg.Pool | asyncpg.Connection) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
    """A connection for a block: the one the caller holds, or one the pool lends."""
    return db.acquire() if isinstance(db, asyncpg.Pool) else contextlib.nullcontext(db)  # type: ignore[return-value]
