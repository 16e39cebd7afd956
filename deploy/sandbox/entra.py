"""A Microsoft Entra ID tenant in PostgreSQL, as Microsoft Graph shows it: users (``accountEnabled``,
``userPrincipalName``), their group memberships, Identity Protection's risky users, disabling an
account (``PATCH /users/{id}`` with ``accountEnabled: false``) and revoking its sign-in sessions
(``POST /users/{id}/revokeSignInSessions``, which moves ``signInSessionsValidFromDateTime`` to now so
every refresh token issued before stops working).

Errors carry Graph's shape and codes: ``{"error": {"code": "Request_ResourceNotFound", "message":
...}}`` (404), ``Authorization_RequestDenied`` (403) for a scope the caller's token does not carry,
``InvalidAuthenticationToken`` (401). Writes take an idempotency key; a repeated key returns what the
first call did. ``EntraSandbox`` is the Entra connector over it.
"""

from __future__ import annotations

import json

import asyncpg

from services.skills.connectors.entra import AccountChange, DirectoryGroup, EntraUser, GraphError, RiskyUser, SessionsRevoked
from deploy.sandbox import tokens
from deploy.sandbox.tokens import Caller, SandboxConnector

SYSTEM = "entra"


def _require(caller: Caller, scope: str) -> None:
    if not caller.may(scope):
        raise GraphError(403, "Authorization_RequestDenied", f"Insufficient privileges to complete the operation. ({caller.coworker} lacks {scope})")


async def authenticate(conn: asyncpg.Connection, token: str | None) -> Caller:
    if not token:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
    caller = await tokens.authenticate(conn, SYSTEM, token)
    if caller is None:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
    return caller


def _not_found(what: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound", f"Resource '{what}' does not exist or one of its queried reference-property objects are not present.")


_USER = "id, user_principal_name, mail, display_name, department, job_title, employee_id, usage_location, account_enabled, sign_in_sessions_valid_from"


async def _user(conn: asyncpg.Connection, id_or_upn: str, *, lock: bool = False) -> asyncpg.Record:
    row = await conn.fetchrow(f"SELECT {_USER} FROM entra_users WHERE id = $1 OR lower(user_principal_name) = lower($1)" + (" FOR UPDATE" if lock else ""), id_or_upn)
    if row is None:
        raise _not_found(id_or_upn)
    return row


async def get_user(conn: asyncpg.Connection, caller: Caller, id_or_upn: str) -> EntraUser:
    """``GET /users/{id | userPrincipalName}``."""
    _require(caller, "users.read")
    return EntraUser(**dict(await _user(conn, id_or_upn)))


async def member_of(conn: asyncpg.Connection, caller: Caller, id_or_upn: str) -> list[DirectoryGroup]:
    """``GET /users/{id}/memberOf`` (groups only)."""
    _require(caller, "users.read")
    user = await _user(conn, id_or_upn)
    rows = await conn.fetch(
        "SELECT g.id, g.display_name, g.security_enabled, g.mail_enabled FROM entra_groups g JOIN entra_group_members m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.display_name",
        user["id"],
    )
    return [DirectoryGroup(**dict(r)) for r in rows]


async def risky_user(conn: asyncpg.Connection, caller: Caller, id_or_upn: str) -> RiskyUser:
    """``GET /identityProtection/riskyUsers/{id}``; a user never flagged has no risk."""
    _require(caller, "risk.read")
    user = await _user(conn, id_or_upn)
    row = await conn.fetchrow("SELECT user_id, risk_level, risk_state, risk_detail, risk_last_updated FROM entra_risky_users WHERE user_id = $1", user["id"])
    return RiskyUser(**dict(row)) if row else RiskyUser(user["id"], "none", "none", "none")


async def _earlier(conn: asyncpg.Connection, idempotency_key: str, operation: str) -> asyncpg.Record | None:
    row = await conn.fetchrow("SELECT user_id, operation, before FROM entra_changes WHERE idempotency_key = $1", idempotency_key)
    if row is not None and row["operation"] != operation:
        raise GraphError(400, "Request_BadRequest", f"idempotency key {idempotency_key!r} was used to {row['operation']}, not to {operation}")
    return row


async def set_account_enabled(conn: asyncpg.Connection, caller: Caller, id_or_upn: str, enabled: bool, *, idempotency_key: str, ticket_id: str) -> AccountChange:
    """``PATCH /users/{id}`` ``{"accountEnabled": enabled}`` (204 No Content on success)."""
    _require(caller, "users.disable")  # Graph's User.EnableDisableAccount.All covers both directions
    operation = "enable" if enabled else "disable"
    if (earlier := await _earlier(conn, idempotency_key, operation)) is not None:
        return AccountChange(earlier["user_id"], enabled, changed=json.loads(earlier["before"])["accountEnabled"] != enabled)
    user = await _user(conn, id_or_upn, lock=True)
    await conn.execute("UPDATE entra_users SET account_enabled = $2 WHERE id = $1", user["id"], enabled)
    await conn.execute(
        "INSERT INTO entra_changes (idempotency_key, user_id, operation, before, requested_by, ticket_id) VALUES ($1, $2, $3, $4, $5, $6)",
        idempotency_key, user["id"], operation, json.dumps({"accountEnabled": user["account_enabled"]}), caller.coworker, ticket_id,
    )
    return AccountChange(user["id"], enabled, changed=user["account_enabled"] != enabled)


async def revoke_sign_in_sessions(conn: asyncpg.Connection, caller: Caller, id_or_upn: str, *, idempotency_key: str, ticket_id: str) -> SessionsRevoked:
    """``POST /users/{id}/revokeSignInSessions`` (``{"value": true}``): every refresh token and
    session cookie issued before now stops working. Cannot be undone."""
    _require(caller, "sessions.revoke")
    if (earlier := await _earlier(conn, idempotency_key, "revoke_sessions")) is not None:
        valid_from = await conn.fetchval("SELECT sign_in_sessions_valid_from FROM entra_users WHERE id = $1", earlier["user_id"])
        return SessionsRevoked(earlier["user_id"], valid_from)
    user = await _user(conn, id_or_upn, lock=True)
    valid_from = await conn.fetchval("UPDATE entra_users SET sign_in_sessions_valid_from = clock_timestamp() WHERE id = $1 RETURNING sign_in_sessions_valid_from", user["id"])
    await conn.execute(
        "INSERT INTO entra_changes (idempotency_key, user_id, operation, before, requested_by, ticket_id) VALUES ($1, $2, 'revoke_sessions', $3, $4, $5)",
        idempotency_key, user["id"], json.dumps({"signInSessionsValidFromDateTime": user["sign_in_sessions_valid_from"].isoformat()}), caller.coworker, ticket_id,
    )
    return SessionsRevoked(user["id"], valid_from)


class EntraSandbox(SandboxConnector):
    """The Entra connector over the sandbox, in the step's transaction, as the coworker its token names."""

    authenticate = staticmethod(authenticate)

    async def get_user(self, id_or_upn: str) -> EntraUser:
        return await get_user(self.conn, await self.caller(), id_or_upn)

    async def member_of(self, id_or_upn: str) -> list[DirectoryGroup]:
        return await member_of(self.conn, await self.caller(), id_or_upn)

    async def risky_user(self, id_or_upn: str) -> RiskyUser:
        return await risky_user(self.conn, await self.caller(), id_or_upn)

    async def set_account_enabled(self, id_or_upn: str, enabled: bool, *, idempotency_key: str, ticket_id: str) -> AccountChange:
        return await set_account_enabled(self.conn, await self.caller(), id_or_upn, enabled, idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def revoke_sign_in_sessions(self, id_or_upn: str, *, idempotency_key: str, ticket_id: str) -> SessionsRevoked:
        return await revoke_sign_in_sessions(self.conn, await self.caller(), id_or_upn, idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def get_extension(self, id_or_upn: str, name: str) -> dict[str, object]:
        return await get_extension(self.conn, await self.caller(), id_or_upn, name)

    async def create_extension(self, id_or_upn: str, name: str, properties: dict[str, object]) -> dict[str, object]:
        return await create_extension(self.conn, await self.caller(), id_or_upn, name, properties)

    async def update_extension(self, id_or_upn: str, name: str, properties: dict[str, object]) -> None:
        await update_extension(self.conn, await self.caller(), id_or_upn, name, properties)


# -- open extensions (``/users/{id}/extensions``): a client's own data on a user ---------------------

#: Writing an extension needs a write scope on users (Graph: User.ReadWrite.All); either of these.
EXTENSION_WRITE_SCOPES = ("users.disable", "sessions.revoke")
#: Graph caps an open extension at 2 KB of JSON.
EXTENSION_MAX_BYTES = 2048


def _require_any(caller: Caller, scopes: tuple[str, ...]) -> None:
    if not any(caller.may(s) for s in scopes):
        raise GraphError(403, "Authorization_RequestDenied", f"Insufficient privileges to complete the operation. ({caller.coworker} lacks any of {', '.join(scopes)})")


def _checked(properties: dict[str, object]) -> str:
    text = json.dumps(properties)
    if len(text.encode()) > EXTENSION_MAX_BYTES:
        raise GraphError(400, "Request_BadRequest", f"An open extension holds at most {EXTENSION_MAX_BYTES} bytes of data; this one has {len(text.encode())}.")
    return text


async def get_extension(conn: asyncpg.Connection, caller: Caller, id_or_upn: str, name: str) -> dict[str, object]:
    """``GET /users/{id}/extensions/{name}``: the extension's own properties."""
    _require(caller, "users.read")
    user = await _user(conn, id_or_upn)
    found = await conn.fetchval("SELECT properties FROM entra_user_extensions WHERE user_id = $1 AND extension_name = $2", user["id"], name)
    if found is None:
        raise _not_found(name)
    return json.loads(found)


async def create_extension(conn: asyncpg.Connection, caller: Caller, id_or_upn: str, name: str, properties: dict[str, object]) -> dict[str, object]:
    """``POST /users/{id}/extensions`` (201); a second extension of the same name is a 409."""
    _require_any(caller, EXTENSION_WRITE_SCOPES)
    user = await _user(conn, id_or_upn, lock=True)
    made = await conn.fetchval(
        "INSERT INTO entra_user_extensions (user_id, extension_name, properties) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING properties",
        user["id"], name, _checked(properties),
    )
    if made is None:
        raise GraphError(409, "NameAlreadyExists", f"An extension already exists with given id '{name}'.")
    return json.loads(made)


async def update_extension(conn: asyncpg.Connection, caller: Caller, id_or_upn: str, name: str, properties: dict[str, object]) -> None:
    """``PATCH /users/{id}/extensions/{name}`` (204): the given properties replace theirs."""
    _require_any(caller, EXTENSION_WRITE_SCOPES)
    user = await _user(conn, id_or_upn, lock=True)
    current = await conn.fetchval("SELECT properties FROM entra_user_extensions WHERE user_id = $1 AND extension_name = $2 FOR UPDATE", user["id"], name)
    if current is None:
        raise _not_found(name)
    merged = json.loads(current) | properties
    await conn.execute("UPDATE entra_user_extensions SET properties = $3 WHERE user_id = $1 AND extension_name = $2", user["id"], name, _checked(merged))
