"""Application access in Okta: grant a requester an app (``app-access``), and take away access
nobody uses (``access-review``).

``app-access`` finds the requester and the app, assigns the app (destructive: a supervised coworker
asks its manager first), then checks that Okta actually provisioned the account in the app; a failed
provisioning (say, the app is out of licences) undoes the assignment, so nobody is left with an
assignment that does not work.

``access-review`` lists an app's assignments with each user's last sign-in to it (Okta's System
Log), finds those unused for more than 90 days (``rules.STALE_AFTER_DAYS``), and revokes them
(destructive). A revoked assignment can be given back (the compensation re-assigns it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from contracts.events import SkillRequest
from services.skills.access_common import requester
from runtime.vendor.errors import ApiError
from services.skills.connectors.okta import App, Okta
from services.skills.failures import refused, step_failure
from services.skills.rules import STALE_AFTER_DAYS, is_stale
from services.skills.skill import Skill, Step, StepContext, StepFailed

#: Statuses in which a user may be given an app.
ASSIGNABLE = frozenset({"ACTIVE", "RECOVERY", "LOCKED_OUT", "PASSWORD_EXPIRED", "PROVISIONED"})
#: What people call an app -> the Okta app that gives it (Teams, Outlook and SharePoint come with Microsoft 365).
ALIASES = {"teams": "office365", "outlook": "office365", "sharepoint": "office365", "microsoft 365": "office365", "office": "office365", "crm": "salesforce", "erp": "netsuite", "git": "github"}


def _app_name(request: SkillRequest) -> str:
    raw = re.sub(r"\s+", " ", str(request.inputs.get("app", "")).strip().lower())
    return ALIASES.get(raw, raw)


async def _find_app(ctx: StepContext, okta: Okta) -> App:
    """The Okta app the request names: by its key (``salesforce``) or the start of its label."""
    name = _app_name(ctx.request)
    with refused("Okta", f"looking up the app {name!r}", default="app_not_found", coworker=ctx.request.coworker):
        found = await okta.list_apps(name)
    # The app's key or label as asked, or an unambiguous start of its key (``sales`` -> salesforce);
    # a label that merely starts with the word (``oracle`` -> Oracle NetSuite) is a guess a person confirms.
    matches = [a for a in found if a.name == name or a.label.lower() == name] or [a for a in found if a.name.startswith(name)]
    if not matches:
        closest = f" (closest: {', '.join(a.label for a in found)})" if found else ""
        raise StepFailed("app_not_found", f"Okta has no application {name!r}{closest}; access to it is not granted through Okta as asked, so a person routes it")
    if len(matches) > 1:
        raise StepFailed("app_ambiguous", f"{name!r} could be {', '.join(a.label for a in matches)}; a person must say which")
    app = matches[0]
    if app.status != "ACTIVE":
        raise StepFailed("app_inactive", f"{app.label} is {app.status} in Okta (retired); nobody can be assigned to it")
    return app


# --- app-access ----------------------------------------------------------------------------------


async def find_user(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    with refused("Okta", f"looking up the requester {requester(ctx.request)!r}", default="user_not_found", coworker=ctx.request.coworker):
        user = await okta.get_user(requester(ctx.request))
    if user.status not in ASSIGNABLE:
        raise StepFailed("user_not_active", f"Okta user {user.login} is {user.status}; apps are granted only to accounts that may sign in")
    return {"user_id": user.id, "login": user.login, "status": user.status}


async def find_app(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    app = await _find_app(ctx, okta)
    user = ctx.earlier["find-user"]
    try:
        await okta.get_app_user(app.id, user["user_id"])
        assigned = True
    except ApiError as exc:
        if exc.status != 404:
            raise step_failure(exc, system="Okta", doing=f"reading {user['login']}'s assignment to {app.label}", default="app_not_found", coworker=ctx.request.coworker) from None
        assigned = False
    return {"app_id": app.id, "app": app.label, "already_assigned": assigned}


async def assign_app(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    user, app = ctx.earlier["find-user"], ctx.earlier["find-app"]
    with refused("Okta", f"assigning {app['app']} to {user['login']}", default="assignment_refused", coworker=ctx.request.coworker):
        done = await okta.assign_user(app["app_id"], user["user_id"], idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    return {"app_id": app["app_id"], "app": app["app"], "user_id": user["user_id"], "created": done.changed, "status": done.status, "sync_state": done.sync_state}


async def unassign_app(ctx: StepContext, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Undo: remove the assignment this request made (never one the user had before)."""
    if not outputs.get("created"):
        return {"unassigned": False, "why": "the user already had the app before this request"}
    okta: Okta = ctx.system
    try:
        await okta.unassign_user(outputs["app_id"], outputs["user_id"], idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    except ApiError as exc:
        if exc.status != 404:  # already gone is undone
            raise step_failure(exc, system="Okta", doing=f"removing the assignment of {outputs['app']} this request made", default="unassign_refused", coworker=ctx.request.coworker) from None
    return {"unassigned": True, "app": outputs["app"]}


async def check_provisioning(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    user, app = ctx.earlier["find-user"], ctx.earlier["find-app"]
    with refused("Okta", f"reading {user['login']}'s account in {app['app']}", default="provisioning_unknown", coworker=ctx.request.coworker):
        state = await okta.get_app_user(app["app_id"], user["user_id"])
    if state.sync_state == "ERROR":
        raise StepFailed("provisioning_failed", f"Okta assigned {app['app']} but could not create the account in it: {state.sync_error or 'provisioning error'}")
    return {"status": state.status, "sync_state": state.sync_state}


def _access_summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    assigned, login = outputs["assign-app"], outputs["find-user"]["login"]
    if not assigned["created"]:
        return f"{login} already has {assigned['app']} in Okta; nothing was changed. It is on the Okta dashboard."
    return f"Assigned {assigned['app']} to {login} in Okta (account {outputs['check-provisioning']['status'].lower()}); it appears on the Okta dashboard within a few minutes."


def _asked(request: SkillRequest) -> dict[str, Any]:
    return {"user": requester(request), "app": _app_name(request)}


APP_ACCESS = Skill(
    name="app-access",
    steps=(
        Step("find-user", "okta", "users.read", find_user, describe=_asked),
        Step("find-app", "okta", "apps.read", find_app, describe=_asked),
        Step("assign-app", "okta", "apps.assign", assign_app, describe=_asked, destructive=True, compensate=unassign_app),
        Step("check-provisioning", "okta", "apps.read", check_provisioning, describe=_asked),
    ),
    summarise=_access_summary,
)


# --- access-review -------------------------------------------------------------------------------


async def review_app(ctx: StepContext) -> dict[str, Any]:
    app = await _find_app(ctx, ctx.system)
    return {"app_id": app.id, "app": app.label}


async def find_stale(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    app = ctx.earlier["find-app"]
    with refused("Okta", f"listing who has {app['app']}", default="assignments_unreadable", coworker=ctx.request.coworker):
        users = await okta.list_app_users(app["app_id"])
    now = datetime.now(UTC)
    stale = [u for u in users if is_stale(u, now)]
    return {
        "app": app["app"],
        "assigned": len(users),
        "stale": [
            {"user_id": u.user_id, "login": u.login, "assigned": u.created.date().isoformat(), "last_sign_in": u.last_sign_in.date().isoformat() if u.last_sign_in else None}
            for u in stale
        ],
    }


async def revoke_stale(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    app = ctx.earlier["find-app"]
    revoked: list[dict[str, Any]] = []
    for user in ctx.earlier["find-stale"]["stale"]:
        try:
            await okta.unassign_user(app["app_id"], user["user_id"], idempotency_key=f"{ctx.idempotency_key}:{user['user_id']}", ticket_id=ctx.request.ticket_id)
        except ApiError as exc:
            if exc.status != 404:  # removed since the review listed it: nothing left to revoke
                raise step_failure(exc, system="Okta", doing=f"removing {app['app']} from {user['login']}", default="revoke_refused", coworker=ctx.request.coworker) from None
            continue
        revoked.append({"user_id": user["user_id"], "login": user["login"]})
    return {"app_id": app["app_id"], "app": app["app"], "revoked": revoked}


async def restore(ctx: StepContext, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Undo: give back the assignments this review revoked."""
    okta: Okta = ctx.system
    for user in outputs["revoked"]:
        with refused("Okta", f"giving {outputs['app']} back to {user['login']}", default="restore_refused", coworker=ctx.request.coworker):
            await okta.assign_user(outputs["app_id"], user["user_id"], idempotency_key=f"{ctx.idempotency_key}:{user['user_id']}", ticket_id=ctx.request.ticket_id)
    return {"restored": len(outputs["revoked"])}


def _review_summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    listed, revoked = outputs["find-stale"], outputs["revoke-stale"]["revoked"]
    if not revoked:
        return f"Access review of {listed['app']}: {listed['assigned']} assignment(s), none unused for more than {STALE_AFTER_DAYS} days; nothing was revoked."
    names = ", ".join(u["login"] for u in revoked[:20]) + (f" and {len(revoked) - 20} more" if len(revoked) > 20 else "")
    return f"Access review of {listed['app']}: revoked {len(revoked)} of {listed['assigned']} assignment(s) unused for more than {STALE_AFTER_DAYS} days ({names}). Anyone who still needs it can request it again."


ACCESS_REVIEW = Skill(
    name="access-review",
    steps=(
        Step("find-app", "okta", "apps.read", review_app, describe=lambda r: {"app": _app_name(r)}),
        Step("find-stale", "okta", "apps.read", find_stale, describe=lambda r: {"app": _app_name(r), "unused_for_days": STALE_AFTER_DAYS}),
        Step("revoke-stale", "okta", "apps.unassign", revoke_stale, describe=lambda r: {"app": _app_name(r), "revoke": f"assignments unused for more than {STALE_AFTER_DAYS} days"}, destructive=True, compensate=restore),
    ),
    summarise=_review_summary,
)

SKILLS = (APP_ACCESS, ACCESS_REVIEW)
