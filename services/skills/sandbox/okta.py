"""An Okta-like directory in PostgreSQL: the users API's resource model, statuses and error codes.

Mirrors the parts of Okta's Users API a password reset touches: ``GET /api/v1/users/{login}`` and
``POST /api/v1/users/{id}/lifecycle/reset_password``, including their errors (E0000007 not found,
E0000038 for an operation the user's status does not allow), and API tokens: every call carries the
calling coworker's own token, and the sandbox refuses (401 E0000011, 403 E0000006) a revoked token or
a scope the token does not carry, whatever the caller's code believes it may do.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import asyncpg

#: Statuses in which Okta lets an administrator reset the password.
RESETTABLE = frozenset({"ACTIVE", "RECOVERY", "LOCKED_OUT", "PASSWORD_EXPIRED"})


class OktaError(Exception):
    """An error as Okta reports it: HTTP status, ``errorCode`` and ``errorSummary``."""

    def __init__(self, status: int, code: str, summary: str) -> None:
        super().__init__(f"{status} {code}: {summary}")
        self.status, self.code, self.summary = status, code, summary


@dataclass(frozen=True)
class Caller:
    """Who is calling the API, as their token says: a coworker and the scopes its token carries."""

    coworker: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise OktaError(403, "E0000006", f"You do not have permission to perform the requested action ({self.coworker} lacks {scope})")


async def issue_token(conn: asyncpg.Connection, coworker: str, version: int, scopes: list[str]) -> str:
    """A new API token for ``coworker`` (as of manifest ``version``) carrying ``scopes``; its value is shown once."""
    token = "00" + secrets.token_urlsafe(30)
    await conn.execute("INSERT INTO okta_api_tokens (token_sha256, coworker, version, scopes) VALUES ($1, $2, $3, $4)", _digest(token), coworker, version, scopes)
    return token


async def revoke_tokens(conn: asyncpg.Connection, coworker: str, version: int | None = None) -> int:
    """Revoke ``coworker``'s tokens (of one version, or all)."""
    result = await conn.execute(
        "UPDATE okta_api_tokens SET revoked_at = now() WHERE coworker = $1 AND ($2::int IS NULL OR version = $2) AND revoked_at IS NULL",
        coworker,
        version,
    )
    return int(result.split()[-1])


async def authenticate(conn: asyncpg.Connection, token: str | None) -> Caller:
    row = None if not token else await conn.fetchrow("SELECT coworker, scopes FROM okta_api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL", _digest(token))
    if row is None:
        raise OktaError(401, "E0000011", "Invalid token provided")
    return Caller(row["coworker"], frozenset(row["scopes"]))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    id: str
    login: str
    email: str
    first_name: str
    last_name: str
    status: str
    country: str


@dataclass(frozen=True)
class Reset:
    user_id: str
    status: str
    #: The one-time reset token, returned only with ``send_email=False`` (Okta's resetPasswordUrl);
    #: with ``send_email=True`` Okta emails it to the user and returns nothing secret.
    token: str | None = None
    emailed_to: str | None = None


async def get_user(conn: asyncpg.Connection, caller: Caller, login_or_id: str) -> User:
    caller.require("users.read")
    row = await conn.fetchrow(
        "SELECT id, login, email, first_name, last_name, status, country FROM okta_users WHERE login = lower($1) OR id = $1",
        login_or_id,
    )
    if row is None:
        raise OktaError(404, "E0000007", f"Not found: Resource not found: {login_or_id} (User)")
    return User(**dict(row))


async def reset_password(conn: asyncpg.Connection, caller: Caller, user_id: str, *, idempotency_key: str, ticket_id: str, send_email: bool = True) -> Reset:
    """Start the user's password recovery; the same idempotency key never resets twice."""
    caller.require("users.reset_password")
    requested_by = caller.coworker
    user = await conn.fetchrow("SELECT status, email FROM okta_users WHERE id = $1 FOR UPDATE", user_id)
    if user is None:
        raise OktaError(404, "E0000007", f"Not found: Resource not found: {user_id} (User)")
    earlier = await conn.fetchrow(
        "SELECT r.user_id, u.email, r.send_email FROM okta_password_resets r JOIN okta_users u ON u.id = r.user_id WHERE r.idempotency_key = $1",
        idempotency_key,
    )
    if earlier is not None:
        return Reset(user_id=earlier["user_id"], status="RECOVERY", emailed_to=earlier["email"] if earlier["send_email"] else None)
    if user["status"] not in RESETTABLE:
        raise OktaError(403, "E0000038", f"This operation is not allowed in the user's current status: {user['status']}")
    token = secrets.token_urlsafe(24)
    await conn.execute(
        "INSERT INTO okta_password_resets (user_id, idempotency_key, token_sha256, send_email, requested_by, ticket_id)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        user_id,
        idempotency_key,
        _digest(token),
        send_email,
        requested_by,
        ticket_id,
    )
    await conn.execute("UPDATE okta_users SET status = 'RECOVERY', status_changed = now() WHERE id = $1", user_id)
    if not send_email:
        return Reset(user_id=user_id, status="RECOVERY", token=token)
    email = await conn.fetchval(
        "INSERT INTO okta_emails (user_id, to_address, template, token_sha256)"
        " SELECT id, email, 'password_reset', $2 FROM okta_users WHERE id = $1 RETURNING to_address",
        user_id,
        _digest(token),
    )
    return Reset(user_id=user_id, status="RECOVERY", emailed_to=email)
