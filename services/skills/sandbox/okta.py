"""An Okta-like directory in PostgreSQL: the users API's resource model, statuses and error codes.

Mirrors the parts of Okta's Users API a password reset touches: ``GET /api/v1/users/{login}`` and
``POST /api/v1/users/{id}/lifecycle/reset_password``, including their errors (E0000007 not found,
E0000038 for an operation the user's status does not allow), and API tokens: every call carries the
calling coworker's own token, and the sandbox refuses (401 E0000011, 403 E0000006) a revoked token or
a scope the token does not carry, whatever the caller's code believes it may do. ``OktaSandbox`` is
the Okta connector over it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import asyncpg

from services.skills.connectors.errors import ApiError
from services.skills.sandbox import tokens
from services.skills.sandbox.tokens import Caller, digest

SYSTEM = "okta"

#: Statuses in which Okta lets an administrator reset the password.
RESETTABLE = frozenset({"ACTIVE", "RECOVERY", "LOCKED_OUT", "PASSWORD_EXPIRED"})


class OktaError(ApiError):
    """An error as Okta reports it: HTTP status, ``errorCode`` and ``errorSummary``."""


def _require(caller: Caller, scope: str) -> None:
    if not caller.may(scope):
        raise OktaError(403, "E0000006", f"You do not have permission to perform the requested action ({caller.coworker} lacks {scope})")


async def authenticate(conn: asyncpg.Connection, token: str | None) -> Caller:
    caller = await tokens.authenticate(conn, SYSTEM, token)
    if caller is None:
        raise OktaError(401, "E0000011", "Invalid token provided")
    return caller


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
    _require(caller, "users.read")
    row = await conn.fetchrow(
        "SELECT id, login, email, first_name, last_name, status, country FROM okta_users WHERE login = lower($1) OR id = $1",
        login_or_id,
    )
    if row is None:
        raise OktaError(404, "E0000007", f"Not found: Resource not found: {login_or_id} (User)")
    return User(**dict(row))


async def reset_password(conn: asyncpg.Connection, caller: Caller, user_id: str, *, idempotency_key: str, ticket_id: str, send_email: bool = True) -> Reset:
    """Start the user's password recovery; the same idempotency key never resets twice."""
    _require(caller, "users.reset_password")
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
        digest(token),
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
        digest(token),
    )
    return Reset(user_id=user_id, status="RECOVERY", emailed_to=email)


class OktaSandbox:
    """The Okta connector over the sandbox, in the step's transaction, as the coworker its token names."""

    def __init__(self, conn: asyncpg.Connection, token: str | None) -> None:
        self.conn, self._token = conn, token
        self._caller: Caller | None = None

    async def caller(self) -> Caller:
        if self._caller is None:
            self._caller = await authenticate(self.conn, self._token)
        return self._caller

    async def get_user(self, login_or_id: str) -> User:
        return await get_user(self.conn, await self.caller(), login_or_id)

    async def reset_password(self, user_id: str, *, idempotency_key: str, ticket_id: str, send_email: bool = True) -> Reset:
        return await reset_password(self.conn, await self.caller(), user_id, idempotency_key=idempotency_key, ticket_id=ticket_id, send_email=send_email)
