"""An Okta-like directory in PostgreSQL: the Management API's resource model, statuses and error codes.

Mirrors the parts of Okta's API the skills touch, with their errors as Okta reports them:
users (``GET /api/v1/users/{login}``, ``POST /api/v1/users``, the ``/lifecycle/activate|deactivate|
suspend|unsuspend|reset_password`` operations, refused with E0000038 or E0000001 when the user's
status does not allow them, E0000016 for an already active user), applications and their
assignments (``/api/v1/apps``, ``/api/v1/apps/{id}/users``), groups, and MFA factors
(``/api/v1/users/{id}/factors``, ``DELETE .../factors/{fid}`` to reset one so the user enrols
again). E0000007 is "not found" everywhere. Every call carries the calling coworker's own API token,
and the sandbox refuses (401 E0000011, 403 E0000006) a revoked token or a scope the token does not
carry, whatever the caller's code believes it may do. Writes take an idempotency key: a repeated key
returns what the first call did. ``OktaSandbox`` is the Okta connector over it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import struct
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.skills.connectors.okta import FACTOR_NAMES, App, AppUser, Assignment, Factor, FactorReset, Group, Lifecycle, NewUser, OktaError, Reset, User, masked_phone
from services.skills.rules import RESETTABLE
from deploy.sandbox import tokens
from deploy.sandbox.tokens import Caller, SandboxConnector, digest

SYSTEM = "okta"


def _require(caller: Caller, scope: str) -> None:
    if not caller.may(scope):
        raise OktaError(403, "E0000006", f"You do not have permission to perform the requested action ({caller.coworker} lacks {scope})")


async def authenticate(conn: asyncpg.Connection, token: str | None) -> Caller:
    caller = await tokens.authenticate(conn, SYSTEM, token)
    if caller is None:
        raise OktaError(401, "E0000011", "Invalid token provided")
    return caller


_USER_COLUMNS = "id, login, email, first_name, last_name, status, country, department, employee_number, title, manager_id"


async def get_user(conn: asyncpg.Connection, caller: Caller, login_or_id: str) -> User:
    _require(caller, "users.read")
    rows = await conn.fetch(
        # An id, a login, or a login's short name (``jane.lee``) as long as it is unambiguous, as Okta
        # accepts in the path: a short name two logins share (jane.lee@a, jane.lee@b) names nobody.
        f"SELECT {_USER_COLUMNS}, (login = lower($1) OR id = $1) AS exact FROM okta_users"
        " WHERE login = lower($1) OR id = $1 OR split_part(login, '@', 1) = lower($1) ORDER BY exact DESC LIMIT 2",
        login_or_id,
    )
    if not rows or (len(rows) > 1 and not rows[0]["exact"]):
        raise OktaError(404, "E0000007", f"Not found: Resource not found: {login_or_id} (User)")
    return User(**{k: v for k, v in dict(rows[0]).items() if k != "exact"})


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


def _not_found(what: str, kind: str) -> OktaError:
    return OktaError(404, "E0000007", f"Not found: Resource not found: {what} ({kind})")


def _invalid(summary: str) -> OktaError:
    return OktaError(400, "E0000001", f"Api validation failed: {summary}")


async def _user_row(conn: asyncpg.Connection, user_id: str, *, lock: bool = False) -> asyncpg.Record:
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM okta_users WHERE id = $1 OR login = lower($1)" + (" FOR UPDATE" if lock else ""), user_id)
    if row is None:
        raise _not_found(user_id, "User")
    return row


# --- users: creation and lifecycle -------------------------------------------------------------


#: Operation -> (statuses it may start from, the status it leads to). Okta refuses the rest.
_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    # A user without a password is PROVISIONED until they follow the activation email's link.
    "activate": (frozenset({"STAGED", "DEPROVISIONED"}), "PROVISIONED"),
    "deactivate": (frozenset({"STAGED", "PROVISIONED", "ACTIVE", "RECOVERY", "LOCKED_OUT", "PASSWORD_EXPIRED", "SUSPENDED"}), "DEPROVISIONED"),
    "suspend": (frozenset({"ACTIVE"}), "SUSPENDED"),
    "unsuspend": (frozenset({"SUSPENDED"}), "ACTIVE"),
}


def _refusal(operation: str, status: str) -> OktaError:
    """The error Okta answers an operation the user's status does not allow with."""
    if operation == "activate" and status not in {"STAGED", "DEPROVISIONED"}:
        return OktaError(403, "E0000016", "Activation failed because the user is already active")
    if operation in {"suspend", "unsuspend"}:
        # Okta documents suspending a user who is not ACTIVE (and unsuspending one not SUSPENDED) as E0000001.
        wanted = "ACTIVE" if operation == "suspend" else "SUSPENDED"
        return _invalid(f"Cannot {operation} a user that is not {wanted} (status {status})")
    return OktaError(403, "E0000038", f"This operation is not allowed in the user's current status: {status}")


async def _earlier_lifecycle(conn: asyncpg.Connection, idempotency_key: str, operation: str) -> Lifecycle | None:
    """What the first call with this key did (it changed the user, or it would not be recorded)."""
    row = await conn.fetchrow(
        "SELECT l.user_id, l.operation, l.from_status, l.to_status, u.email FROM okta_user_lifecycle l JOIN okta_users u ON u.id = l.user_id WHERE l.idempotency_key = $1", idempotency_key
    )
    if row is None:
        return None
    if row["operation"] != operation:
        raise _invalid(f"idempotency key {idempotency_key!r} was used for {row['operation']}, not {operation}")
    emailed = row["email"] if operation == "activate" and await conn.fetchval("SELECT 1 FROM okta_emails WHERE user_id = $1 AND template = 'user_activation'", row["user_id"]) else None
    return Lifecycle(row["user_id"], operation, row["from_status"], row["to_status"], emailed_to=emailed)


async def create_user(conn: asyncpg.Connection, caller: Caller, profile: NewUser, *, idempotency_key: str, ticket_id: str) -> User:
    """``POST /api/v1/users?activate=false``: a STAGED user (activation is a separate lifecycle call)."""
    _require(caller, "users.create")
    if (earlier := await _earlier_lifecycle(conn, idempotency_key, "create")) is not None:
        return User(**dict(await _user_row(conn, earlier.user_id)))
    problems = [f"{name}: The field cannot be left blank" for name, value in (("login", profile.login), ("email", profile.email), ("firstName", profile.first_name), ("lastName", profile.last_name)) if not value.strip()]
    if profile.login.strip() and "@" not in profile.login:
        problems.append("login: Username must be in the form of an email address")
    if problems:
        raise _invalid("; ".join(problems))
    login = profile.login.strip().lower()
    if await conn.fetchval("SELECT 1 FROM okta_users WHERE login = $1", login):
        raise _invalid("login: An object with this field already exists in the current organization")
    if profile.manager_id and not await conn.fetchval("SELECT 1 FROM okta_users WHERE id = $1", profile.manager_id):
        raise _invalid(f"managerId: no user {profile.manager_id}")
    user_id = "00u" + secrets.token_hex(9)[:17]
    await conn.execute(
        "INSERT INTO okta_users (id, login, email, first_name, last_name, country, department, title, employee_number, manager_id, status)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'STAGED')",
        user_id, login, profile.email.strip().lower(), profile.first_name, profile.last_name, profile.country, profile.department, profile.title, profile.employee_number, profile.manager_id,
    )
    await conn.execute(
        "INSERT INTO okta_user_lifecycle (idempotency_key, user_id, operation, from_status, to_status, requested_by, ticket_id) VALUES ($1, $2, 'create', NULL, 'STAGED', $3, $4)",
        idempotency_key, user_id, caller.coworker, ticket_id,
    )
    return User(**dict(await _user_row(conn, user_id)))


async def change_status(conn: asyncpg.Connection, caller: Caller, user_id: str, operation: str, *, idempotency_key: str, ticket_id: str, send_email: bool = True) -> Lifecycle:
    """``POST /api/v1/users/{id}/lifecycle/{operation}``; the same idempotency key acts once.

    Deactivating removes the user's app assignments, as Okta deprovisions a deactivated user from
    their apps. Activating a user without a password sends the activation email (the link goes to the
    user's inbox; only its hash is kept) and leaves them PROVISIONED until they follow it."""
    _require(caller, "users.lifecycle")
    if operation not in _TRANSITIONS:
        raise OktaError(404, "E0000022", f"The endpoint does not support the provided HTTP method (lifecycle/{operation})")
    if (earlier := await _earlier_lifecycle(conn, idempotency_key, operation)) is not None:
        return earlier
    user = await _user_row(conn, user_id, lock=True)
    allowed, to_status = _TRANSITIONS[operation]
    if user["status"] not in allowed:
        raise _refusal(operation, user["status"])
    await conn.execute("UPDATE okta_users SET status = $2, status_changed = now() WHERE id = $1", user["id"], to_status)
    await conn.execute(
        "INSERT INTO okta_user_lifecycle (idempotency_key, user_id, operation, from_status, to_status, requested_by, ticket_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        idempotency_key, user["id"], operation, user["status"], to_status, caller.coworker, ticket_id,
    )
    emailed = None
    if operation == "deactivate":
        await conn.execute("DELETE FROM okta_app_users WHERE user_id = $1", user["id"])
    if operation == "activate" and send_email:
        emailed = await conn.fetchval(
            "INSERT INTO okta_emails (user_id, to_address, template, token_sha256) VALUES ($1, $2, 'user_activation', $3) RETURNING to_address",
            user["id"], user["email"], digest(secrets.token_urlsafe(24)),
        )
    return Lifecycle(user["id"], operation, user["status"], to_status, emailed_to=emailed)


async def complete_activation(conn: asyncpg.Connection, user_id: str) -> str:
    """The user followed their activation link and chose a password (the user's side, no API token)."""
    status = await conn.fetchval("UPDATE okta_users SET status = 'ACTIVE', status_changed = now() WHERE id = $1 AND status = 'PROVISIONED' RETURNING status", user_id)
    if status is None:
        raise OktaError(403, "E0000038", "This operation is not allowed in the user's current status")
    return status


# --- applications and assignments ---------------------------------------------------------------

_APP_USER_COLUMNS = (
    "au.app_id, au.user_id, u.login, au.scope, au.status, au.sync_state, au.created, s.last_sign_in, au.sync_error, u.status AS user_status"
    " FROM okta_app_users au JOIN okta_users u ON u.id = au.user_id"
    " LEFT JOIN okta_app_sign_ins s ON s.app_id = au.app_id AND s.user_id = au.user_id"
)


async def list_apps(conn: asyncpg.Connection, caller: Caller, q: str | None = None) -> list[App]:
    """``GET /api/v1/apps?q=``: apps whose name or label starts with ``q`` (case-insensitive)."""
    _require(caller, "apps.read")
    rows = await conn.fetch(
        "SELECT id, name, label, status, sign_on_mode FROM okta_apps"
        " WHERE $1::text IS NULL OR name ILIKE $1 || '%' OR label ILIKE $1 || '%' ORDER BY label",
        q.strip() if q else None,
    )
    return [App(**dict(r)) for r in rows]


async def get_app(conn: asyncpg.Connection, caller: Caller, app_id: str) -> App:
    _require(caller, "apps.read")
    row = await conn.fetchrow("SELECT id, name, label, status, sign_on_mode FROM okta_apps WHERE id = $1", app_id)
    if row is None:
        raise _not_found(app_id, "AppInstance")
    return App(**dict(row))


async def list_app_users(conn: asyncpg.Connection, caller: Caller, app_id: str) -> list[AppUser]:
    """``GET /api/v1/apps/{id}/users``."""
    await get_app(conn, caller, app_id)
    rows = await conn.fetch(f"SELECT {_APP_USER_COLUMNS} WHERE au.app_id = $1 ORDER BY u.login", app_id)
    return [AppUser(**dict(r)) for r in rows]


async def get_app_user(conn: asyncpg.Connection, caller: Caller, app_id: str, user_id: str) -> AppUser:
    await get_app(conn, caller, app_id)
    row = await conn.fetchrow(f"SELECT {_APP_USER_COLUMNS} WHERE au.app_id = $1 AND au.user_id = $2", app_id, user_id)
    if row is None:
        raise _not_found(user_id, "AppUser")
    return AppUser(**dict(row))


async def list_user_apps(conn: asyncpg.Connection, caller: Caller, user_id: str) -> list[AppUser]:
    """The user's assignments (``GET /api/v1/apps?filter=user.id eq "{id}"``, with each app user)."""
    _require(caller, "apps.read")
    user = await _user_row(conn, user_id)
    rows = await conn.fetch(f"SELECT {_APP_USER_COLUMNS} WHERE au.user_id = $1 ORDER BY au.app_id", user["id"])
    return [AppUser(**dict(r)) for r in rows]


async def _earlier_change(conn: asyncpg.Connection, idempotency_key: str, action: str) -> Assignment | None:
    row = await conn.fetchrow("SELECT app_id, user_id, action, changed FROM okta_app_user_changes WHERE idempotency_key = $1", idempotency_key)
    if row is None:
        return None
    if row["action"] != action:
        raise _invalid(f"idempotency key {idempotency_key!r} was used to {row['action']}, not to {action}")
    now = await conn.fetchrow("SELECT status, sync_state FROM okta_app_users WHERE app_id = $1 AND user_id = $2", row["app_id"], row["user_id"])
    return Assignment(row["app_id"], row["user_id"], action, row["changed"], now["status"] if now else None, now["sync_state"] if now else None)


async def assign_user(conn: asyncpg.Connection, caller: Caller, app_id: str, user_id: str, *, idempotency_key: str, ticket_id: str) -> Assignment:
    """``POST /api/v1/apps/{id}/users`` (scope USER). An existing assignment is returned unchanged,
    as Okta does. Provisioning runs at once: an app out of licences keeps the assignment with
    ``syncState`` ERROR, as Okta shows a failed provisioning task."""
    _require(caller, "apps.assign")
    if (earlier := await _earlier_change(conn, idempotency_key, "assign")) is not None:
        return earlier
    app = await conn.fetchrow("SELECT id, label, status, licence_limit FROM okta_apps WHERE id = $1 FOR UPDATE", app_id)
    if app is None:
        raise _not_found(app_id, "AppInstance")
    user = await _user_row(conn, user_id)
    if app["status"] != "ACTIVE":
        raise _invalid(f"Cannot assign users to an inactive application ({app['label']})")
    if user["status"] == "DEPROVISIONED":
        raise OktaError(403, "E0000038", f"This operation is not allowed in the user's current status: {user['status']}")
    existing = await conn.fetchrow("SELECT status, sync_state FROM okta_app_users WHERE app_id = $1 AND user_id = $2", app_id, user["id"])
    if existing is None:
        seats = await conn.fetchval("SELECT count(*) FROM okta_app_users WHERE app_id = $1 AND sync_state <> 'ERROR'", app_id)
        full = app["licence_limit"] is not None and seats >= app["licence_limit"]
        status, sync, error = ("STAGED", "ERROR", f"Automatic provisioning of user {user['login']} to app {app['label']} failed: License limit exceeded ({app['licence_limit']} seats)") if full else ("PROVISIONED", "SYNCHRONIZED", None)
        await conn.execute(
            "INSERT INTO okta_app_users (app_id, user_id, scope, status, sync_state, sync_error) VALUES ($1, $2, 'USER', $3, $4, $5)",
            app_id, user["id"], status, sync, error,
        )
    else:
        status, sync = existing["status"], existing["sync_state"]
    await conn.execute(
        "INSERT INTO okta_app_user_changes (idempotency_key, app_id, user_id, action, changed, requested_by, ticket_id) VALUES ($1, $2, $3, 'assign', $4, $5, $6)",
        idempotency_key, app_id, user["id"], existing is None, caller.coworker, ticket_id,
    )
    return Assignment(app_id, user["id"], "assign", existing is None, status, sync)


async def unassign_user(conn: asyncpg.Connection, caller: Caller, app_id: str, user_id: str, *, idempotency_key: str, ticket_id: str) -> Assignment:
    """``DELETE /api/v1/apps/{id}/users/{uid}``: E0000007 when the user is not assigned."""
    _require(caller, "apps.unassign")
    if (earlier := await _earlier_change(conn, idempotency_key, "unassign")) is not None:
        return earlier
    if not await conn.fetchval("SELECT 1 FROM okta_apps WHERE id = $1", app_id):
        raise _not_found(app_id, "AppInstance")
    row = await conn.fetchrow("DELETE FROM okta_app_users WHERE app_id = $1 AND user_id = $2 RETURNING scope, status, sync_state, created", app_id, user_id)
    if row is None:
        raise _not_found(user_id, "AppUser")
    await conn.execute(
        "INSERT INTO okta_app_user_changes (idempotency_key, app_id, user_id, action, changed, snapshot, requested_by, ticket_id) VALUES ($1, $2, $3, 'unassign', true, $4, $5, $6)",
        idempotency_key, app_id, user_id, json.dumps({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(row).items()}), caller.coworker, ticket_id,
    )
    return Assignment(app_id, user_id, "unassign", True)


# --- groups -------------------------------------------------------------------------------------


async def list_user_groups(conn: asyncpg.Connection, caller: Caller, user_id: str) -> list[Group]:
    """``GET /api/v1/users/{id}/groups``."""
    _require(caller, "groups.read")
    user = await _user_row(conn, user_id)
    rows = await conn.fetch("SELECT g.id, g.name, g.description FROM okta_groups g JOIN okta_group_members m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.name", user["id"])
    return [Group(**dict(r)) for r in rows]


async def list_group_members(conn: asyncpg.Connection, caller: Caller, group_id: str) -> list[str]:
    """``GET /api/v1/groups/{id}/users``: the members' logins."""
    _require(caller, "groups.read")
    if not await conn.fetchval("SELECT 1 FROM okta_groups WHERE id = $1", group_id):
        raise _not_found(group_id, "UserGroup")
    return [r["login"] for r in await conn.fetch("SELECT u.login FROM okta_group_members m JOIN okta_users u ON u.id = m.user_id WHERE m.group_id = $1 ORDER BY u.login", group_id)]


# --- MFA factors --------------------------------------------------------------------------------

_FACTOR_PREFIX = {"push": "opf", "token:software:totp": "ost", "sms": "mbl"}


def _factor(row: asyncpg.Record) -> Factor:
    profile = json.loads(row["profile"]) if isinstance(row["profile"], str) else dict(row["profile"] or {})
    device = profile.get("name") if row["factor_type"] == "push" else (masked_phone(profile.get("phoneNumber", "")) if row["factor_type"] == "sms" else None)
    return Factor(row["id"], row["factor_type"], row["provider"], row["status"], device)


async def list_factors(conn: asyncpg.Connection, caller: Caller, user_id: str) -> list[Factor]:
    """``GET /api/v1/users/{id}/factors``."""
    _require(caller, "factors.read")
    user = await _user_row(conn, user_id)
    rows = await conn.fetch("SELECT id, factor_type, provider, status, profile FROM okta_factors WHERE user_id = $1 ORDER BY created, id", user["id"])
    return [_factor(r) for r in rows]


async def reset_factor(conn: asyncpg.Connection, caller: Caller, user_id: str, factor_id: str, *, idempotency_key: str, ticket_id: str) -> FactorReset:
    """``DELETE /api/v1/users/{id}/factors/{fid}``: unenrol the factor, so the user enrols again at
    their next sign-in (if a sign-on policy requires one). Not undoable: the enrolment's secret is gone."""
    _require(caller, "factors.reset")
    earlier = await conn.fetchrow("SELECT user_id, factor_id, factor_type, provider FROM okta_factor_resets WHERE idempotency_key = $1", idempotency_key)
    if earlier is not None:
        return FactorReset(**dict(earlier))
    user = await _user_row(conn, user_id)
    row = await conn.fetchrow("DELETE FROM okta_factors WHERE id = $1 AND user_id = $2 RETURNING factor_type, provider", factor_id, user["id"])
    if row is None:
        raise _not_found(factor_id, "UserFactor")
    await conn.execute(
        "INSERT INTO okta_factor_resets (idempotency_key, user_id, factor_id, factor_type, provider, requested_by, ticket_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        idempotency_key, user["id"], factor_id, row["factor_type"], row["provider"], caller.coworker, ticket_id,
    )
    return FactorReset(user["id"], factor_id, row["factor_type"], row["provider"])


async def factor_records(conn: asyncpg.Connection, caller: Caller, user_id: str, factor_id: str | None = None) -> list[dict[str, Any]]:
    """The user's factors as ``GET /api/v1/users/{id}/factors[/{fid}]`` shows them (the enrolment
    profile as the user gave it, and its timestamps); one factor's absence is E0000007."""
    _require(caller, "factors.read")
    user = await _user_row(conn, user_id)
    rows = await conn.fetch(
        "SELECT id, factor_type, provider, status, profile, created, last_updated FROM okta_factors WHERE user_id = $1 AND ($2::text IS NULL OR id = $2) ORDER BY created, id",
        user["id"], factor_id,
    )
    if factor_id is not None and not rows:
        raise _not_found(factor_id, "UserFactor")
    return [{**dict(r), "profile": json.loads(r["profile"]) if isinstance(r["profile"], str) else dict(r["profile"] or {})} for r in rows]


async def user_record(conn: asyncpg.Connection, caller: Caller, login_or_id: str) -> dict[str, Any]:
    """The user as ``GET /api/v1/users/{id}`` shows them: the profile and Okta's timestamps."""
    user = await get_user(conn, caller, login_or_id)
    times = await conn.fetchrow("SELECT created, status_changed, mobile_phone FROM okta_users WHERE id = $1", user.id)
    return {"user": user, **dict(times)}


# --- the System Log -----------------------------------------------------------------------------

#: The System Log as a union: the writes the API recorded, and the seeded sign-ins as SSO events.
_EVENTS = """
    SELECT uuid, published, event_type, display_message, severity, actor, client, outcome, target, transaction, debug_context FROM okta_system_log
    UNION ALL
    SELECT md5(s.app_id || s.user_id || s.last_sign_in::text), s.last_sign_in, 'user.authentication.sso', 'User single sign on to app', 'INFO',
           jsonb_build_object('id', u.id, 'type', 'User', 'alternateId', u.login, 'displayName', u.first_name || ' ' || u.last_name),
           jsonb_build_object('userAgent', jsonb_build_object('rawUserAgent', 'Mozilla/5.0', 'os', 'Unknown', 'browser', 'UNKNOWN'), 'zone', 'null', 'device', 'Computer'),
           '{"result": "SUCCESS"}'::jsonb,
           jsonb_build_array(jsonb_build_object('id', a.id, 'type', 'AppInstance', 'alternateId', a.label, 'displayName', a.label)),
           '{"type": "WEB", "id": null, "detail": {}}'::jsonb, '{"debugData": {}}'::jsonb
    FROM okta_app_sign_ins s JOIN okta_users u ON u.id = s.user_id JOIN okta_apps a ON a.id = s.app_id
"""


async def record_event(
    conn: asyncpg.Connection, caller: Caller, event_type: str, display_message: str, targets: list[dict[str, str]], *, user_agent: str, request_id: str, request_uri: str
) -> str:
    """Write what an API call did to the System Log, as Okta does: the token's owner as the actor, the
    caller's raw ``User-Agent`` as the client, and the request id as the transaction."""
    uuid = secrets.token_hex(16)
    actor = {"id": caller.coworker, "type": "User", "alternateId": caller.coworker, "displayName": caller.coworker}
    client = {"userAgent": {"rawUserAgent": user_agent, "os": "Unknown", "browser": "UNKNOWN"}, "zone": "null", "device": "Unknown", "ipAddress": "127.0.0.1"}
    await conn.execute(
        "INSERT INTO okta_system_log (uuid, event_type, display_message, actor, client, outcome, target, transaction, debug_context) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        uuid, event_type, display_message, json.dumps(actor), json.dumps(client), json.dumps({"result": "SUCCESS"}), json.dumps(targets),
        json.dumps({"type": "WEB", "id": request_id, "detail": {}}), json.dumps({"debugData": {"requestId": request_id, "requestUri": request_uri}}),
    )
    return uuid


#: The System Log's filter fields the sandbox evaluates (``field eq "value"``, joined by ``and``).
LOG_FILTER_FIELDS = ("eventType", "target.id", "actor.id")


async def list_events(
    conn: asyncpg.Connection, caller: Caller, *, since: datetime, until: datetime, where: dict[str, str], limit: int, after: tuple[datetime, str] | None = None
) -> list[dict[str, Any]]:
    """``GET /api/v1/logs``: events in ``[since, until)`` matching ``where``, oldest first, ``limit`` + 1
    of them (the extra one tells the caller a next page exists). Any valid token may read the log (an
    API token carries its administrator's read access to it)."""
    rows = await conn.fetch(
        f"SELECT * FROM ({_EVENTS}) e WHERE published >= $1 AND published < $2"
        " AND ($3::text IS NULL OR event_type = $3) AND ($4::text IS NULL OR target @> jsonb_build_array(jsonb_build_object('id', $4::text)))"
        " AND ($5::text IS NULL OR actor->>'id' = $5) AND ($6::timestamptz IS NULL OR (published, uuid) > ($6, $7::text))"
        " ORDER BY published, uuid LIMIT $8",
        since, until, where.get("eventType"), where.get("target.id"), where.get("actor.id"), after[0] if after else None, after[1] if after else None, limit + 1,
    )
    return [dict(r) for r in rows]


# The user's side of enrolment (Okta's end-user flow, no API token): enrol, then activate.


@dataclass(frozen=True)
class Enrolment:
    factor: Factor
    #: For TOTP, the shared secret the authenticator app stores (shown once, to the user).
    shared_secret: str | None = None


ENROLLABLE = frozenset({"ACTIVE", "RECOVERY", "PASSWORD_EXPIRED", "PROVISIONED"})


async def enroll_factor(conn: asyncpg.Connection, user_id: str, factor_type: str, provider: str = "OKTA", *, device: str | None = None, phone: str | None = None) -> Enrolment:
    """``POST /api/v1/users/{id}/factors``: a PENDING_ACTIVATION factor."""
    if (factor_type, provider) not in FACTOR_NAMES:
        raise _invalid(f"factorType: {factor_type} from {provider} is not supported")
    user = await _user_row(conn, user_id)
    if user["status"] not in ENROLLABLE:
        raise OktaError(403, "E0000038", f"This operation is not allowed in the user's current status: {user['status']}")
    if await conn.fetchval("SELECT 1 FROM okta_factors WHERE user_id = $1 AND factor_type = $2 AND provider = $3", user["id"], factor_type, provider):
        raise _invalid("factorEnrollRequest: A factor of this type is already set up.")
    if factor_type == "sms" and not phone:
        raise _invalid("phoneNumber: The field cannot be left blank")
    secret = base64.b32encode(secrets.token_bytes(20)).decode() if factor_type == "token:software:totp" else None
    code = f"{secrets.randbelow(10**6):06d}" if factor_type == "sms" else None  # texted to the phone; kept only as a hash
    profile = {"name": device or "Phone", "platform": "IOS"} if factor_type == "push" else ({"phoneNumber": phone} if factor_type == "sms" else {"credentialId": user["login"]})
    factor_id = _FACTOR_PREFIX[factor_type] + secrets.token_hex(9)[:17]
    row = await conn.fetchrow(
        "INSERT INTO okta_factors (id, user_id, factor_type, provider, status, profile, shared_secret, code_sha256) VALUES ($1, $2, $3, $4, 'PENDING_ACTIVATION', $5, $6, $7)"
        " RETURNING id, factor_type, provider, status, profile",
        factor_id, user["id"], factor_type, provider, json.dumps(profile), secret, digest(code) if code else None,
    )
    return Enrolment(_factor(row), secret)


def totp(secret: str, at: float | None = None, *, step: int = 30, digits: int = 6) -> str:
    """The RFC 6238 code an authenticator app shows for ``secret`` at ``at``."""
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(base64.b32decode(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 10**digits:0{digits}d}"


async def activate_factor(conn: asyncpg.Connection, user_id: str, factor_id: str, pass_code: str | None = None) -> Factor:
    """``POST .../factors/{fid}/lifecycle/activate``: a TOTP or SMS factor needs the current code
    (E0000068 when wrong); a push factor activates when the device confirms (no code)."""
    user = await _user_row(conn, user_id)
    row = await conn.fetchrow("SELECT id, factor_type, provider, status, profile, shared_secret, code_sha256 FROM okta_factors WHERE id = $1 AND user_id = $2 FOR UPDATE", factor_id, user["id"])
    if row is None:
        raise _not_found(factor_id, "UserFactor")
    if row["status"] != "PENDING_ACTIVATION":
        raise _invalid("Factor is already active")
    if row["factor_type"] == "token:software:totp":
        now = time.time()
        good = pass_code is not None and any(hmac.compare_digest(pass_code, totp(row["shared_secret"], now + drift)) for drift in (-30, 0, 30))
    elif row["factor_type"] == "sms":
        good = pass_code is not None and hmac.compare_digest(digest(pass_code), row["code_sha256"])
    else:
        good = True
    if not good:
        raise OktaError(403, "E0000068", "Invalid Passcode/Answer")
    activated = await conn.fetchrow(
        "UPDATE okta_factors SET status = 'ACTIVE', code_sha256 = NULL, last_updated = now() WHERE id = $1 RETURNING id, factor_type, provider, status, profile", factor_id
    )
    return _factor(activated)


class OktaSandbox(SandboxConnector):
    """The Okta connector over the sandbox, in the step's transaction, as the coworker its token names."""

    authenticate = staticmethod(authenticate)

    async def get_user(self, login_or_id: str) -> User:
        return await get_user(self.conn, await self.caller(), login_or_id)

    async def reset_password(self, user_id: str, *, idempotency_key: str, ticket_id: str, send_email: bool = True) -> Reset:
        return await reset_password(self.conn, await self.caller(), user_id, idempotency_key=idempotency_key, ticket_id=ticket_id, send_email=send_email)

    async def create_user(self, profile: NewUser, *, idempotency_key: str, ticket_id: str) -> User:
        return await create_user(self.conn, await self.caller(), profile, idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def activate_user(self, user_id: str, *, idempotency_key: str, ticket_id: str, send_email: bool = True) -> Lifecycle:
        return await change_status(self.conn, await self.caller(), user_id, "activate", idempotency_key=idempotency_key, ticket_id=ticket_id, send_email=send_email)

    async def deactivate_user(self, user_id: str, *, idempotency_key: str, ticket_id: str) -> Lifecycle:
        return await change_status(self.conn, await self.caller(), user_id, "deactivate", idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def suspend_user(self, user_id: str, *, idempotency_key: str, ticket_id: str) -> Lifecycle:
        return await change_status(self.conn, await self.caller(), user_id, "suspend", idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def unsuspend_user(self, user_id: str, *, idempotency_key: str, ticket_id: str) -> Lifecycle:
        return await change_status(self.conn, await self.caller(), user_id, "unsuspend", idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def list_apps(self, q: str | None = None) -> list[App]:
        return await list_apps(self.conn, await self.caller(), q)

    async def list_app_users(self, app_id: str) -> list[AppUser]:
        return await list_app_users(self.conn, await self.caller(), app_id)

    async def get_app_user(self, app_id: str, user_id: str) -> AppUser:
        return await get_app_user(self.conn, await self.caller(), app_id, user_id)

    async def list_user_apps(self, user_id: str) -> list[AppUser]:
        return await list_user_apps(self.conn, await self.caller(), user_id)

    async def assign_user(self, app_id: str, user_id: str, *, idempotency_key: str, ticket_id: str) -> Assignment:
        return await assign_user(self.conn, await self.caller(), app_id, user_id, idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def unassign_user(self, app_id: str, user_id: str, *, idempotency_key: str, ticket_id: str) -> Assignment:
        return await unassign_user(self.conn, await self.caller(), app_id, user_id, idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def list_user_groups(self, user_id: str) -> list[Group]:
        return await list_user_groups(self.conn, await self.caller(), user_id)

    async def list_group_members(self, group_id: str) -> list[str]:
        return await list_group_members(self.conn, await self.caller(), group_id)

    async def list_factors(self, user_id: str) -> list[Factor]:
        return await list_factors(self.conn, await self.caller(), user_id)

    async def reset_factor(self, user_id: str, factor_id: str, *, idempotency_key: str, ticket_id: str) -> FactorReset:
        return await reset_factor(self.conn, await self.caller(), user_id, factor_id, idempotency_key=idempotency_key, ticket_id=ticket_id)
