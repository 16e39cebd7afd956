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

from contracts.events import SkillRequest
from services.skills.access_common import named, person
from services.skills.connectors.entra import Entra
from runtime.vendor.errors import ApiError
from services.skills.connectors.facilities import Facilities
from services.skills.connectors.okta import Okta
from services.skills.failures import refused, step_failure
from services.skills.skill import Skill, Step, StepContext, StepFailed

EMPLOYEE_QUESTION = "Who is leaving? Please give their name or work email."


async def suspend_okta(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    who = named(ctx, "employee", EMPLOYEE_QUESTION)
    with refused("Okta", f"looking up the Okta user {who!r}", default="user_not_found", coworker=ctx.request.coworker):
        user = await okta.get_user(who)
    if user.status == "DEPROVISIONED":
        raise StepFailed("already_offboarded", f"{user.login} is already deactivated in Okta; a person checks whether anything else is left")
    if user.status == "SUSPENDED":
        return {"user_id": user.id, "login": user.login, "from_status": user.status, "status": user.status, "changed": False}
    with refused("Okta", f"suspending {user.login} ({user.status})", default="suspend_refused", coworker=ctx.request.coworker):
        done = await okta.suspend_user(user.id, idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    return {"user_id": user.id, "login": user.login, "from_status": done.from_status, "status": done.status, "changed": done.changed}


async def unassign_apps(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    user = ctx.earlier["suspend-okta"]
    with refused("Okta", f"removing every app from {user['login']}", default="unassign_refused", coworker=ctx.request.coworker):
        assigned = await okta.list_user_apps(user["user_id"])
        for app in assigned:
            try:
                await okta.unassign_user(app.app_id, user["user_id"], idempotency_key=f"{ctx.idempotency_key}:{app.app_id}", ticket_id=ctx.request.ticket_id)
            except ApiError as exc:
                if exc.status != 404:  # already gone
                    raise
    return {"user_id": user["user_id"], "unassigned": len(assigned), "app_ids": [a.app_id for a in assigned]}


async def disable_entra(ctx: StepContext) -> dict[str, Any]:
    entra: Entra = ctx.system
    login = ctx.earlier["suspend-okta"]["login"]
    with refused("Entra ID", f"disabling {login}", not_found="entra_user_not_found", default="disable_refused", coworker=ctx.request.coworker):
        done = await entra.set_account_enabled(login, False, idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    return {"user_id": done.user_id, "account_enabled": done.account_enabled, "changed": done.changed}


async def revoke_sessions(ctx: StepContext) -> dict[str, Any]:
    entra: Entra = ctx.system
    user_id = ctx.earlier["disable-entra"]["user_id"]
    with refused("Entra ID", f"revoking the sign-in sessions of {user_id}", default="revoke_refused", coworker=ctx.request.coworker):
        done = await entra.revoke_sign_in_sessions(user_id, idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
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
        raise step_failure(exc, system="the badge system", doing=f"suspending {login}'s badge", default="badge_refused", coworker=ctx.request.coworker) from None
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
