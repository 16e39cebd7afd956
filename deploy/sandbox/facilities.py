"""The building access system in PostgreSQL: cardholders (one per person, synced from HR), their badges
(status active, suspended or returned) and the zones a badge opens (``HQ-L3``, ``BLR-L2``...),
modelled on physical access control systems such as LenelS2 OnGuard or Genetec Synergis: a
cardholder has at most one badge in use; a badge opens nothing until zones are granted to it; a
restricted zone (server room, hardware lab) needs the cardholder's security clearance.

Errors are ``FacilitiesError``s, served as ``{"error": {"code", "message"}}`` by the HTTP API
(``api/facilities.py``): 400 ``zone_unknown``, 401 ``unauthorized``, 403 ``forbidden`` (a scope the
token lacks) and ``clearance_required``, 404 ``cardholder_not_found`` / ``badge_not_found``, 409
``badge_exists``, ``badge_not_active``, ``cardholder_inactive``. Writes take an idempotency key (the
client's ``Idempotency-Key``, or a fresh one); a repeated key returns what the first call did.
``FacilitiesSandbox`` is the facilities connector over it.
"""

from __future__ import annotations

import json
import secrets

import asyncpg

from services.skills.connectors.facilities import Badge, BadgeChange, Cardholder, FacilitiesError
from deploy.sandbox import tokens
from deploy.sandbox.tokens import Caller, SandboxConnector

SYSTEM = "facilities"


def _require(caller: Caller, scope: str) -> None:
    if not caller.may(scope):
        raise FacilitiesError(403, "forbidden", f"The API token of {caller.coworker} does not carry {scope}")


async def authenticate(conn: asyncpg.Connection, token: str | None) -> Caller:
    caller = await tokens.authenticate(conn, SYSTEM, token)
    if caller is None:
        raise FacilitiesError(401, "unauthorized", "Missing, invalid or revoked API token")
    return caller


async def _cardholder(conn: asyncpg.Connection, login: str) -> asyncpg.Record:
    login = login.strip().lower()
    row = await conn.fetchrow("SELECT id, login, name, home_site, status, clearance FROM facilities_cardholders WHERE login = $1 OR login = $1 || '@' || split_part(login, '@', 2) OR id = upper($1)", login)
    if row is None:
        raise FacilitiesError(404, "cardholder_not_found", f"No cardholder {login!r}")
    return row


async def _badge(conn: asyncpg.Connection, badge_id: str, *, lock: bool = False) -> Badge:
    row = await conn.fetchrow(
        "SELECT b.id, b.holder_id, c.login AS holder_login, b.status, b.issued_at FROM facilities_badges b JOIN facilities_cardholders c ON c.id = b.holder_id WHERE b.id = $1" + (" FOR UPDATE OF b" if lock else ""),
        badge_id,
    )
    if row is None:
        raise FacilitiesError(404, "badge_not_found", f"No badge {badge_id!r}")
    zones = tuple(r["zone"] for r in await conn.fetch("SELECT zone FROM facilities_badge_zones WHERE badge_id = $1 ORDER BY zone", badge_id))
    return Badge(**dict(row), zones=zones)


async def get_cardholder(conn: asyncpg.Connection, caller: Caller, login: str) -> Cardholder:
    """``GET /cardholders?login=``: a person by login (``name@domain`` or ``name``)."""
    _require(caller, "badges.read")
    return Cardholder(**dict(await _cardholder(conn, login)))


async def current_badge(conn: asyncpg.Connection, caller: Caller, login: str) -> Badge | None:
    """The cardholder's badge in use (active or suspended), or None when they have none."""
    _require(caller, "badges.read")
    holder = await _cardholder(conn, login)
    badge_id = await conn.fetchval("SELECT id FROM facilities_badges WHERE holder_id = $1 AND status <> 'returned'", holder["id"])
    return await _badge(conn, badge_id) if badge_id else None


async def get_badge(conn: asyncpg.Connection, caller: Caller, badge_id: str) -> Badge:
    _require(caller, "badges.read")
    return await _badge(conn, badge_id)


async def _earlier(conn: asyncpg.Connection, idempotency_key: str, operation: str) -> BadgeChange | None:
    row = await conn.fetchrow("SELECT badge_id, operation, result FROM facilities_changes WHERE idempotency_key = $1", idempotency_key)
    if row is None:
        return None
    if row["operation"] != operation:
        raise FacilitiesError(409, "idempotency_conflict", f"idempotency key {idempotency_key!r} was used to {row['operation']}, not to {operation}")
    result = json.loads(row["result"])
    return BadgeChange(row["badge_id"], operation, result["status"], tuple(result["zones"]), changed=result["changed"])


async def _record(conn: asyncpg.Connection, caller: Caller, idempotency_key: str, ticket_id: str, badge_id: str, operation: str, *, changed: bool = True) -> BadgeChange:
    badge = await _badge(conn, badge_id)
    await conn.execute(
        "INSERT INTO facilities_changes (idempotency_key, badge_id, operation, result, requested_by, ticket_id) VALUES ($1, $2, $3, $4, $5, $6)",
        idempotency_key, badge_id, operation, json.dumps({"status": badge.status, "zones": list(badge.zones), "changed": changed}), caller.coworker, ticket_id,
    )
    return BadgeChange(badge_id, operation, badge.status, badge.zones, changed)


async def issue_badge(conn: asyncpg.Connection, caller: Caller, login: str, *, idempotency_key: str, ticket_id: str) -> BadgeChange:
    """``POST /badges``: a new active badge for the cardholder, opening no zone yet."""
    _require(caller, "badges.create")
    if (earlier := await _earlier(conn, idempotency_key, "issue")) is not None:
        return earlier
    holder = await _cardholder(conn, login)
    if holder["status"] != "active":
        raise FacilitiesError(409, "cardholder_inactive", f"Cardholder {holder['login']} is {holder['status']}; badges are issued only to active cardholders")
    existing = await conn.fetchrow("SELECT id, status FROM facilities_badges WHERE holder_id = $1 AND status <> 'returned'", holder["id"])
    if existing is not None:
        raise FacilitiesError(409, "badge_exists", f"Cardholder {holder['login']} already holds badge {existing['id']} ({existing['status']}); return it before issuing another")
    while True:
        badge_id = f"{secrets.randbelow(9_000_000) + 1_000_000:07d}"
        if not await conn.fetchval("SELECT 1 FROM facilities_badges WHERE id = $1", badge_id):
            break
    await conn.execute("INSERT INTO facilities_badges (id, holder_id, status) VALUES ($1, $2, 'active')", badge_id, holder["id"])
    return await _record(conn, caller, idempotency_key, ticket_id, badge_id, "issue")


async def add_zone(conn: asyncpg.Connection, caller: Caller, badge_id: str, zone: str, *, idempotency_key: str, ticket_id: str) -> BadgeChange:
    """``POST /badges/{id}/zones``: let the badge open ``zone``'s doors."""
    _require(caller, "badges.update")
    if (earlier := await _earlier(conn, idempotency_key, "add_zone")) is not None:
        return earlier
    badge = await _badge(conn, badge_id, lock=True)
    code = zone.strip().upper()
    known = await conn.fetchrow("SELECT code, restricted FROM facilities_zones WHERE code = $1", code)
    if known is None:
        zones = ", ".join(r["code"] for r in await conn.fetch("SELECT code FROM facilities_zones ORDER BY code"))
        raise FacilitiesError(400, "zone_unknown", f"No zone {zone!r}; zones: {zones}")
    if badge.status != "active":
        raise FacilitiesError(409, "badge_not_active", f"Badge {badge_id} is {badge.status}; zones are granted only to active badges")
    if known["restricted"] and not await conn.fetchval("SELECT clearance FROM facilities_cardholders WHERE id = $1", badge.holder_id):
        raise FacilitiesError(403, "clearance_required", f"Zone {code} is restricted; cardholder {badge.holder_login} has no security clearance")
    added = await conn.execute("INSERT INTO facilities_badge_zones (badge_id, zone) VALUES ($1, $2) ON CONFLICT DO NOTHING", badge_id, code)
    return await _record(conn, caller, idempotency_key, ticket_id, badge_id, "add_zone", changed=added.endswith(" 1"))


async def remove_zone(conn: asyncpg.Connection, caller: Caller, badge_id: str, zone: str, *, idempotency_key: str, ticket_id: str) -> BadgeChange:
    """``DELETE /badges/{id}/zones/{zone}``."""
    _require(caller, "badges.update")
    if (earlier := await _earlier(conn, idempotency_key, "remove_zone")) is not None:
        return earlier
    await _badge(conn, badge_id, lock=True)
    removed = await conn.execute("DELETE FROM facilities_badge_zones WHERE badge_id = $1 AND zone = $2", badge_id, zone.strip().upper())
    return await _record(conn, caller, idempotency_key, ticket_id, badge_id, "remove_zone", changed=removed.endswith(" 1"))


_STATUS_CHANGES = {
    # operation: (scope, statuses it may start from, status it leads to)
    "suspend": ("badges.suspend", {"active"}, "suspended"),
    "reactivate": ("badges.update", {"suspended"}, "active"),
    "return": ("badges.update", {"active", "suspended"}, "returned"),
}


async def change_status(conn: asyncpg.Connection, caller: Caller, badge_id: str, operation: str, *, reason: str, idempotency_key: str, ticket_id: str) -> BadgeChange:
    """``POST /badges/{id}/suspend|reactivate|return``. A returned badge opens nothing again: its
    zones are removed. Suspending a suspended badge changes nothing."""
    scope, allowed, to_status = _STATUS_CHANGES[operation]
    _require(caller, scope)
    if (earlier := await _earlier(conn, idempotency_key, operation)) is not None:
        return earlier
    badge = await _badge(conn, badge_id, lock=True)
    if badge.status == to_status:
        return await _record(conn, caller, idempotency_key, ticket_id, badge_id, operation, changed=False)
    if badge.status not in allowed:
        raise FacilitiesError(409, "badge_not_active", f"Badge {badge_id} is {badge.status}; it cannot be {to_status}")
    await conn.execute("UPDATE facilities_badges SET status = $2, status_changed = now(), status_reason = $3 WHERE id = $1", badge_id, to_status, reason[:200])
    if to_status == "returned":
        await conn.execute("DELETE FROM facilities_badge_zones WHERE badge_id = $1", badge_id)
    return await _record(conn, caller, idempotency_key, ticket_id, badge_id, operation)


class FacilitiesSandbox(SandboxConnector):
    """The facilities connector over the sandbox, in the step's transaction, as the coworker its token names."""

    authenticate = staticmethod(authenticate)

    async def get_cardholder(self, login: str) -> Cardholder:
        return await get_cardholder(self.conn, await self.caller(), login)

    async def current_badge(self, login: str) -> Badge | None:
        return await current_badge(self.conn, await self.caller(), login)

    async def get_badge(self, badge_id: str) -> Badge:
        return await get_badge(self.conn, await self.caller(), badge_id)

    async def issue_badge(self, login: str, *, idempotency_key: str, ticket_id: str) -> BadgeChange:
        return await issue_badge(self.conn, await self.caller(), login, idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def add_zone(self, badge_id: str, zone: str, *, idempotency_key: str, ticket_id: str) -> BadgeChange:
        return await add_zone(self.conn, await self.caller(), badge_id, zone, idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def remove_zone(self, badge_id: str, zone: str, *, idempotency_key: str, ticket_id: str) -> BadgeChange:
        return await remove_zone(self.conn, await self.caller(), badge_id, zone, idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def suspend_badge(self, badge_id: str, *, reason: str, idempotency_key: str, ticket_id: str) -> BadgeChange:
        return await change_status(self.conn, await self.caller(), badge_id, "suspend", reason=reason, idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def reactivate_badge(self, badge_id: str, *, reason: str, idempotency_key: str, ticket_id: str) -> BadgeChange:
        return await change_status(self.conn, await self.caller(), badge_id, "reactivate", reason=reason, idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def return_badge(self, badge_id: str, *, reason: str, idempotency_key: str, ticket_id: str) -> BadgeChange:
        return await change_status(self.conn, await self.caller(), badge_id, "return", reason=reason, idempotency_key=idempotency_key, ticket_id=ticket_id)
