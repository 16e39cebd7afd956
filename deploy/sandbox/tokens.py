"""API tokens of every sandboxed system: the sandbox checks the caller's own token and the scopes it
carries on every call, as the real systems do, whatever the caller's code believes it may do.
Only a SHA-256 of a token is stored; its value is shown once, to the vault."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class Caller:
    """Who is calling a system's API, as their token says: a coworker and the scopes its token carries."""

    system: str
    coworker: str
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return scope in self.scopes


async def issue(conn: asyncpg.Connection, system: str, coworker: str, version: int, scopes: list[str]) -> str:
    """A new API token on ``system`` for ``coworker`` (as of manifest ``version``) carrying ``scopes``."""
    token = secrets.token_urlsafe(30)
    await conn.execute(
        "INSERT INTO sandbox_api_tokens (token_sha256, system, coworker, version, scopes) VALUES ($1, $2, $3, $4, $5)",
        digest(token),
        system,
        coworker,
        version,
        scopes,
    )
    return token


async def revoke(conn: asyncpg.Connection, coworker: str, *, system: str | None = None, version: int | None = None) -> int:
    """Revoke ``coworker``'s tokens (on one system or all, of one version or all); return how many."""
    result = await conn.execute(
        "UPDATE sandbox_api_tokens SET revoked_at = now() WHERE coworker = $1 AND ($2::text IS NULL OR system = $2)"
        " AND ($3::int IS NULL OR version = $3) AND revoked_at IS NULL",
        coworker,
        system,
        version,
    )
    return int(result.split()[-1])


async def authenticate(conn: asyncpg.Connection, system: str, token: str | None) -> Caller | None:
    """The caller a live token on ``system`` belongs to, or None (each sandbox answers in its own words)."""
    if not token:
        return None
    row = await conn.fetchrow("SELECT coworker, scopes FROM sandbox_api_tokens WHERE token_sha256 = $1 AND system = $2 AND revoked_at IS NULL", digest(token), system)
    return Caller(system, row["coworker"], frozenset(row["scopes"])) if row else None


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class SandboxConnector:
    """A connector over one sandbox: the step's transaction, and the caller its token names (checked
    on first use, by the sandbox's own ``authenticate``, which answers in that system's words)."""

    authenticate: Callable[[asyncpg.Connection, str | None], Awaitable[Caller]]

    def __init__(self, conn: asyncpg.Connection, token: str | None) -> None:
        self.conn, self._token = conn, token
        self._caller: Caller | None = None

    async def caller(self) -> Caller:
        if self._caller is None:
            self._caller = await type(self).authenticate(self.conn, self._token)
        return self._caller
