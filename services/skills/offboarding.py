"""Offboarding, the access part: when someone leaves, their access ends everywhere at once - Okta
account suspended and every app taken away, Entra ID account disabled and its sign-in sessions
revoked (so a token already issued stops working), building badge suspended. The leaver is the
person the request names (``employee``), never the requester; every step is destructive, so a
supervised coworker's manager approves each one.

No step is compensated on purpose: if a later step fails, undoing the earlier ones would give a
leaver their access back. The skill stops, and the person who takes the ticket sees exactly what was
done and what was not (the account stays suspended, not deleted: HR's offboarding closes the record,
and IT deactivates the account after the retention period).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from contracts.envelope import Envelope
from contracts.events import SkillRequest
from services.skills.access_common import failed, named, person
from services.skills.cases import Case, Check
from services.skills.connectors.entra import Entra
from services.skills.connectors.errors import ApiError
from services.skills.connectors.facilities import Facilities
from services.skills.connectors.okta import Okta
from services.skills.skill import Skill, Step, StepContext, StepFailed

EMPLOYEE_QUESTION = "Who is leaving? Please give their name or work email."


async def suspend_okta(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    who = named(ctx, "employee", EMPLOYEE_QUESTION)
    try:
        user = await okta.get_user(who)
    except ApiError as exc:
        raise failed(ctx, "Okta", exc, "user_not_found", f"no Okta user {who!r}") from None
    if user.status == "DEPROVISIONED":
        raise StepFailed("already_offboarded", f"{user.login} is already deactivated in Okta; a person checks whether anything else is left")
    if user.status == "SUSPENDED":
        return {"user_id": user.id, "login": user.login, "from_status": user.status, "status": user.status, "changed": False}
    try:
        done = await okta.suspend_user(user.id, idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    except ApiError as exc:
        raise failed(ctx, "Okta", exc, "suspend_refused", f"Okta did not suspend {user.login} ({user.status})") from None
    return {"user_id": user.id, "login": user.login, "from_status": done.from_status, "status": done.status, "changed": done.changed}


async def unassign_apps(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    user = ctx.earlier["suspend-okta"]
    try:
        assigned = await okta.list_user_apps(user["user_id"])
        for app in assigned:
            try:
                await okta.unassign_user(app.app_id, user["user_id"], idempotency_key=f"{ctx.idempotency_key}:{app.app_id}", ticket_id=ctx.request.ticket_id)
            except ApiError as exc:
                if exc.status != 404:  # already gone
                    raise
    except ApiError as exc:
        raise failed(ctx, "Okta", exc, "unassign_refused", f"Okta did not remove every app from {user['login']}") from None
    return {"user_id": user["user_id"], "unassigned": len(assigned), "app_ids": [a.app_id for a in assigned]}


async def disable_entra(ctx: StepContext) -> dict[str, Any]:
    entra: Entra = ctx.system
    login = ctx.earlier["suspend-okta"]["login"]
    try:
        done = await entra.set_account_enabled(login, False, idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    except ApiError as exc:
        raise failed(ctx, "Entra ID", exc, "entra_user_not_found" if exc.status == 404 else "disable_refused", f"{login} was not disabled in Entra ID") from None
    return {"user_id": done.user_id, "account_enabled": done.account_enabled, "changed": done.changed}


async def revoke_sessions(ctx: StepContext) -> dict[str, Any]:
    entra: Entra = ctx.system
    user_id = ctx.earlier["disable-entra"]["user_id"]
    try:
        done = await entra.revoke_sign_in_sessions(user_id, idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    except ApiError as exc:
        raise failed(ctx, "Entra ID", exc, "revoke_refused", f"sessions of {user_id} were not revoked") from None
    return {"user_id": done.user_id, "sessions_valid_from": done.valid_from.isoformat()}


async def suspend_badge(ctx: StepContext) -> dict[str, Any]:
    badges: Facilities = ctx.system
    login = ctx.earlier["suspend-okta"]["login"]
    try:
        badge = await badges.current_badge(login)
        if badge is None:
            return {"badge_id": None, "status": None, "changed": False}
        done = await badges.suspend_badge(badge.id, reason=f"offboarding ({ctx.request.ticket_id})", idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    except ApiError as exc:
        if exc.status == 404 and exc.code == "cardholder_not_found":
            return {"badge_id": None, "status": None, "changed": False}
        raise failed(ctx, "the badge system", exc, "badge_refused", f"{login}'s badge was not suspended") from None
    return {"badge_id": done.badge_id, "status": done.status, "changed": done.changed}


def _summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    okta, apps, badge = outputs["suspend-okta"], outputs["unassign-apps"], outputs["suspend-badge"]
    badge_text = f"badge {badge['badge_id']} suspended" if badge["badge_id"] else "no badge to suspend"
    return (
        f"Access ended for {okta['login']}: Okta account suspended (was {okta['from_status']}), {apps['unassigned']} app assignment(s) removed, "
        f"Entra ID account disabled and its sign-in sessions revoked, {badge_text}. "
        "The accounts are suspended, not deleted, so mail and files stay available to HR and the manager until the retention period ends."
    )


def _leaver(request: SkillRequest) -> dict[str, Any]:
    return {"leaver": person(str(request.inputs.get("employee", ""))) or "(to be asked)"}


OFFBOARDING = Skill(
    name="offboarding",
    steps=(
        Step("suspend-okta", "okta", "users.lifecycle", suspend_okta, describe=_leaver, destructive=True),
        Step("unassign-apps", "okta", "apps.unassign", unassign_apps, describe=_leaver, destructive=True),
        Step("disable-entra", "entra", "users.disable", disable_entra, describe=_leaver, destructive=True),
        Step("revoke-sessions", "entra", "sessions.revoke", revoke_sessions, describe=_leaver, destructive=True),
        Step("suspend-badge", "facilities", "badges.suspend", suspend_badge, describe=_leaver, destructive=True),
    ),
    summarise=_summary,
)

SKILLS = (OFFBOARDING,)


# --- cases ------------------------------------------------------------------------------------


def _access(login: str, *, okta: str, apps: int | None, entra_enabled: bool | None, revoked: bool, badge: str | None) -> Check:
    """What the leaver can still reach after the case."""

    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        email = f"{login}@acme.example"
        state = {
            "okta": await conn.fetchval("SELECT status FROM okta_users WHERE login = $1", email),
            "apps": await conn.fetchval("SELECT count(*) FROM okta_app_users au JOIN okta_users u ON u.id = au.user_id WHERE u.login = $1", email),
            "entra_enabled": await conn.fetchval("SELECT account_enabled FROM entra_users WHERE user_principal_name = $1", email),
            "revoked": await conn.fetchval("SELECT count(*) > 0 FROM entra_changes c JOIN entra_users u ON u.id = c.user_id WHERE u.user_principal_name = $1 AND c.operation = 'revoke_sessions'", email),
            "badge": await conn.fetchval("SELECT b.status FROM facilities_badges b JOIN facilities_cardholders c ON c.id = b.holder_id WHERE c.login = $1 ORDER BY b.status_changed DESC LIMIT 1", email),
        }
        expected = {"okta": okta, "apps": apps if apps is not None else state["apps"], "entra_enabled": entra_enabled, "revoked": revoked, "badge": badge}
        assert state == expected, f"{login} after offboarding: {state}; expected {expected}"

    return check


async def _no_entra_account(conn: asyncpg.Connection) -> None:
    """The leaver's Entra account was never synced (say, a contractor only in Okta)."""
    for table in ("entra_group_members", "entra_risky_users"):
        await conn.execute(f"DELETE FROM {table} WHERE user_id = (SELECT id FROM entra_users WHERE user_principal_name = 'james.martinez@acme.example')")
    await conn.execute("DELETE FROM entra_users WHERE user_principal_name = 'james.martinez@acme.example'")


CASES = (
    Case("a leaver loses Okta, apps, Entra and the building at once", "offboarding", "enterprise-app-agent", "ana.silva", "james martinez leaves on friday, please remove his access", "resolved",
         inputs={"employee": "James Martinez"}, approve=True, check=_access("james.martinez", okta="SUSPENDED", apps=0, entra_enabled=False, revoked=True, badge="suspended")),
    Case("who is leaving, is asked", "offboarding", "enterprise-app-agent", "ana.silva", "an employee leaves today, please offboard", "resolved",
         answers={"employee": "james.martinez@acme.example"}, approve=True, check=_access("james.martinez", okta="SUSPENDED", apps=0, entra_enabled=False, revoked=True, badge="suspended")),
    Case("someone already deactivated is not offboarded twice", "offboarding", "enterprise-app-agent", "ana.silva", "rahul verma left, remove access", "escalated",
         inputs={"employee": "rahul.verma"}, approve=True, error_code="already_offboarded", check=_access("rahul.verma", okta="DEPROVISIONED", apps=0, entra_enabled=False, revoked=False, badge="returned")),
    Case("nobody of that name", "offboarding", "enterprise-app-agent", "ana.silva", "offboard tom hanks", "escalated", inputs={"employee": "tom hanks"}, approve=True, error_code="user_not_found"),
    Case("the manager rejects: nothing changes", "offboarding", "enterprise-app-agent", "ana.silva", "offboard james martinez", "escalated", inputs={"employee": "james.martinez"},
         approve=False, error_code="approval_rejected", check=_access("james.martinez", okta="ACTIVE", apps=None, entra_enabled=True, revoked=False, badge="active")),
    Case("no Entra account: what was done stays done, the rest goes to a person", "offboarding", "enterprise-app-agent", "ana.silva", "offboard james martinez", "escalated",
         inputs={"employee": "james.martinez"}, approve=True, prepare=_no_entra_account, error_code="entra_user_not_found",
         check=_access("james.martinez", okta="SUSPENDED", apps=0, entra_enabled=None, revoked=False, badge="active")),
)
