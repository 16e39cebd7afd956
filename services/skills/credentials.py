"""Each coworker's own credentials, one per connected system and manifest version: issued when a
version goes live, kept for the version live before it (work in flight finishes on it) and for any
version a parked request waits on, revoked after that, and all revoked when it is offboarded.

Secrets are sealed with Fernet (AES-128-CBC + HMAC-SHA256) under ``WORKFORCE_SECRETS_KEY`` before
they touch the database; they never enter an event, a log line or a step record.
"""

from __future__ import annotations

import asyncio

import asyncpg
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from contracts.coworkers import LifecycleState
from contracts.events import CoworkerState
from services.skills.issuer import Issuer


class Vault:
    def __init__(self, key: SecretStr | None) -> None:
        self._key = key
        self._sealer: Fernet | None = None

    def check(self) -> None:
        """Fail at start-up, with what to do, rather than at the first credential."""
        self._fernet  # noqa: B018

    @property
    def _fernet(self) -> Fernet:
        if self._sealer is None:
            self._sealer = self._open_key(self._key)
        return self._sealer

    @staticmethod
    def _open_key(key: SecretStr | None) -> Fernet:
        if key is None or not key.get_secret_value():
            raise RuntimeError(
                "WORKFORCE_SECRETS_KEY is not set: it seals coworkers' credentials. Make one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
            )
        try:
            return Fernet(key.get_secret_value().encode())
        except ValueError:
            raise RuntimeError("WORKFORCE_SECRETS_KEY is not a Fernet key (32 url-safe base64-encoded bytes)") from None

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def opens(self, sealed: bytes | None) -> bool:
        if sealed is None:
            return False
        try:
            self._fernet.decrypt(sealed)
            return True
        except InvalidToken:
            return False

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise RuntimeError("a stored credential does not open with WORKFORCE_SECRETS_KEY (was the key changed?)") from None


#: One reconcile at a time per coworker in this process (a start-up sweep and the consumer may meet).
_reconciling: dict[str, asyncio.Lock] = {}


async def reconcile(pool: asyncpg.Pool, vault: Vault, state: CoworkerState, issuer: Issuer | None = None) -> list[str]:
    """Make ``state.coworker``'s credentials match its state; return what changed, for the log.

    Active: the active version has a credential for every connected system. The version live
    before it keeps its credentials (a request between two steps when the new one went live finishes on it),
    and so does any version a parked request waits on; older ones are revoked. A credential that no
    longer opens with the key is reissued for the active version and revoked for any other.
    Offboarded: everything is revoked. Tokens are issued and revoked by the ``issuer`` where one is
    configured and holds the system; otherwise the system's administrator issues them (``store``),
    so none is made up here. The database is read, then the issuer called, then the result kept:
    no HTTP call runs inside a transaction.
    """
    async with _reconciling.setdefault(state.coworker, asyncio.Lock()):
        return await _reconcile(pool, vault, state, issuer)


async def _reconcile(pool: asyncpg.Pool, vault: Vault, state: CoworkerState, issuer: Issuer | None) -> list[str]:
    name = state.coworker
    if state.state is LifecycleState.offboarded:
        revoked = await issuer.revoke(name) if issuer is not None else 0
        result = await pool.execute("UPDATE credentials SET ciphertext = NULL, revoked_at = now() WHERE coworker = $1 AND revoked_at IS NULL", name)
        count = int(result.split()[-1])
        return [f"revoked {count} credential(s), {revoked} issued token(s)"] if count or revoked else []
    if state.active is None or state.active_version is None:
        return []
    changed = []
    live: set[tuple[str, int]] = set()
    unreadable: set[tuple[str, int]] = set()
    async with pool.acquire() as conn:
        for row in await conn.fetch("SELECT system, version, ciphertext FROM credentials WHERE coworker = $1 AND revoked_at IS NULL", name):
            (live if vault.opens(row["ciphertext"]) else unreadable).add((row["system"], row["version"]))
        waiting = {
            r["version"]
            for r in await conn.fetch(
                "SELECT DISTINCT (event->'data'->>'coworker_version')::int AS version FROM pending_requests WHERE event->'data'->>'coworker' = $1 AND finished_at IS NULL",
                name,
            )
        }
    version = state.active_version
    for system, scopes in state.active.tools.items():
        if (system, version) in live or issuer is None:
            continue
        if (system, version) in unreadable:
            await issuer.revoke(name, system=system, version=version)  # one that no longer opens with the key
        token = await issuer.issue(system, name, version, scopes)
        if token is None:
            continue  # the issuer does not hold this system: its administrator issues the token
        await store(pool, vault, name, system, version, token)
        changed.append(f"issued {system} for v{version}")
    # Credentials are only issued to versions that went live, so the newest older one was live last.
    previous = max((v for _, v in live if v < version), default=None)
    keep = {version, previous, *waiting}
    for system, old in sorted(live | unreadable):
        if old not in keep or ((system, old) in unreadable and old != version):
            if issuer is not None:
                await issuer.revoke(name, system=system, version=old)
            await pool.execute("UPDATE credentials SET ciphertext = NULL, revoked_at = now() WHERE coworker = $1 AND system = $2 AND version = $3", name, system, old)
            why = "it no longer opens with the key" if (system, old) in unreadable else "no work left on it"
            changed.append(f"revoked {system} v{old} ({why})")
    return changed


async def credential(conn: asyncpg.Connection, vault: Vault, coworker: str, system: str, version: int) -> str | None:
    """The coworker's credential for ``system`` as of manifest ``version`` (None if it has none)."""
    sealed = await conn.fetchval(
        "SELECT ciphertext FROM credentials WHERE coworker = $1 AND system = $2 AND version = $3 AND revoked_at IS NULL", coworker, system, version
    )
    return vault.open(sealed) if sealed is not None else None


async def store(conn: asyncpg.Connection | asyncpg.Pool, vault: Vault, coworker: str, system: str, version: int, secret: str) -> None:
    """Keep a credential a real system's administrator issued to ``coworker`` (sealed, never logged)."""
    await conn.execute(
        "INSERT INTO credentials (coworker, system, version, ciphertext) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (coworker, system, version) DO UPDATE SET ciphertext = excluded.ciphertext, issued_at = now(), revoked_at = NULL",
        coworker,
        system,
        version,
        vault.seal(secret),
    )
