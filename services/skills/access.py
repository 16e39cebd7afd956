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

import asyncpg

from contracts.envelope import Envelope
from contracts.events import SkillRequest
from services.skills.access_common import failed, requester
from services.skills.cases import Case, Check
from services.skills.connectors.errors import ApiError
from services.skills.connectors.okta import App, Okta
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
    try:
        found = await okta.list_apps(name)
    except ApiError as exc:
        raise failed(ctx, "Okta", exc, "app_not_found", f"could not look up {name!r}") from None
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
    try:
        user = await okta.get_user(requester(ctx.request))
    except ApiError as exc:
        raise failed(ctx, "Okta", exc, "user_not_found", f"no Okta user {requester(ctx.request)!r}") from None
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
            raise failed(ctx, "Okta", exc, "app_not_found", f"could not read {user['login']}'s assignment to {app.label}") from None
        assigned = False
    return {"app_id": app.id, "app": app.label, "already_assigned": assigned}


async def assign_app(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    user, app = ctx.earlier["find-user"], ctx.earlier["find-app"]
    try:
        done = await okta.assign_user(app["app_id"], user["user_id"], idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    except ApiError as exc:
        raise failed(ctx, "Okta", exc, "assignment_refused", f"Okta did not assign {app['app']} to {user['login']}") from None
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
            raise failed(ctx, "Okta", exc, "unassign_refused", f"Okta did not remove {outputs['app']}") from None
    return {"unassigned": True, "app": outputs["app"]}


async def check_provisioning(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    user, app = ctx.earlier["find-user"], ctx.earlier["find-app"]
    try:
        state = await okta.get_app_user(app["app_id"], user["user_id"])
    except ApiError as exc:
        raise failed(ctx, "Okta", exc, "provisioning_unknown", f"could not read {user['login']}'s account in {app['app']}") from None
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
    try:
        users = await okta.list_app_users(app["app_id"])
    except ApiError as exc:
        raise failed(ctx, "Okta", exc, "assignments_unreadable", f"could not list who has {app['app']}") from None
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
                raise failed(ctx, "Okta", exc, "revoke_refused", f"Okta did not remove {app['app']} from {user['login']}") from None
            continue
        revoked.append({"user_id": user["user_id"], "login": user["login"]})
    return {"app_id": app["app_id"], "app": app["app"], "revoked": revoked}


async def restore(ctx: StepContext, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Undo: give back the assignments this review revoked."""
    okta: Okta = ctx.system
    for user in outputs["revoked"]:
        try:
            await okta.assign_user(outputs["app_id"], user["user_id"], idempotency_key=f"{ctx.idempotency_key}:{user['user_id']}", ticket_id=ctx.request.ticket_id)
        except ApiError as exc:
            raise failed(ctx, "Okta", exc, "restore_refused", f"Okta did not give {outputs['app']} back to {user['login']}") from None
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


# --- cases ------------------------------------------------------------------------------------


def _assigned(login: str, app: str, expected: bool, *, changes: int) -> Check:
    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        has = await conn.fetchval(
            "SELECT count(*) FROM okta_app_users au JOIN okta_users u ON u.id = au.user_id JOIN okta_apps a ON a.id = au.app_id WHERE u.login = $1 AND a.name = $2", f"{login}@acme.example", app
        )
        made = await conn.fetchval("SELECT count(*) FROM okta_app_user_changes c JOIN okta_apps a ON a.id = c.app_id WHERE a.name = $1 AND c.changed", app)
        assert (bool(has), made) == (expected, changes), f"{login} {'has' if has else 'has not'} {app} after {made} change(s); expected {expected} after {changes}"

    return check


_STALE = (
    "SELECT count(*) FROM okta_app_users au JOIN okta_apps a ON a.id = au.app_id LEFT JOIN okta_app_sign_ins s ON s.app_id = au.app_id AND s.user_id = au.user_id"
    " WHERE a.name = $1 AND au.created < now() - interval '90 days' AND (s.last_sign_in IS NULL OR s.last_sign_in < now() - interval '90 days')"
)


def _reviewed(app: str, *, revoked: bool) -> Check:
    """After the review: no stale assignment left (or all still there), only stale ones were revoked, and everyone active kept theirs."""

    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        stale = await conn.fetchval(_STALE, app)
        removed = await conn.fetch(
            "SELECT c.user_id, s.last_sign_in, (c.snapshot->>'created')::timestamptz AS created FROM okta_app_user_changes c JOIN okta_apps a ON a.id = c.app_id"
            " LEFT JOIN okta_app_sign_ins s ON s.app_id = c.app_id AND s.user_id = c.user_id WHERE a.name = $1 AND c.action = 'unassign'",
            app,
        )
        kept = await conn.fetchval("SELECT count(*) FROM okta_app_users au JOIN okta_apps a ON a.id = au.app_id WHERE a.name = $1", app)
        if revoked:
            assert stale == 0 and removed, f"{app}: {stale} stale assignment(s) left, {len(removed)} revoked"
            cutoff = datetime.now(UTC).timestamp() - STALE_AFTER_DAYS * 86400
            assert all(r["created"].timestamp() < cutoff and (r["last_sign_in"] is None or r["last_sign_in"].timestamp() < cutoff) for r in removed), f"{app}: an assignment in use was revoked"
            assert kept > 0, f"{app}: every assignment was revoked"
        else:
            assert stale > 0 and not removed, f"{app}: {len(removed)} revoked though the review did not finish"

    return check


async def _fill_figma(conn: asyncpg.Connection) -> None:
    """Figma's seats are all taken (as seeded): make sure, whatever the seed's size."""
    await conn.execute("UPDATE okta_apps SET licence_limit = greatest(1, (SELECT count(*) FROM okta_app_users au WHERE au.app_id = okta_apps.id)) WHERE name = 'figma'")


CASES = (
    Case("new app is assigned after the manager approves", "app-access", "enterprise-app-agent", "ana.silva", "please give me access to github", "resolved",
         inputs={"app": "github"}, approve=True, check=_assigned("ana.silva", "github", True, changes=1)),
    Case("access manager grants jira", "app-access", "access-manager", "john.miller", "need access to jira for the new project", "resolved",
         inputs={"app": "jira"}, approve=True, check=_assigned("john.miller", "jira", True, changes=1)),
    Case("an app the user already has changes nothing", "app-access", "enterprise-app-agent", "ana.silva", "I need tableau", "resolved",
         inputs={"app": "tableau"}, approve=True, check=_assigned("ana.silva", "tableau", True, changes=0)),
    Case("teams comes with Microsoft 365, which the user has", "app-access", "enterprise-app-agent", "john.miller", "add me to teams", "resolved",
         inputs={"app": "teams"}, approve=True, check=_assigned("john.miller", "office365", True, changes=0)),
    Case("a new hire not yet active gets no apps", "app-access", "enterprise-app-agent", "jane.lee", "I need slack", "escalated", error_code="user_not_active",
         inputs={"app": "slack"}, check=_assigned("jane.lee", "slack", False, changes=0)),
    Case("which app is asked, then granted", "app-access", "enterprise-app-agent", "john.miller", "i need access please", "resolved",
         answers={"app": "confluence"}, approve=True, check=_assigned("john.miller", "confluence", True, changes=1)),
    Case("an app Okta does not manage goes to a person", "app-access", "enterprise-app-agent", "ana.silva", "give me access to oracle", "escalated",
         inputs={"app": "oracle"}, error_code="app_not_found"),
    Case("a retired app is not assigned", "app-access", "enterprise-app-agent", "ana.silva", "access to gitlab please", "escalated",
         inputs={"app": "gitlab"}, error_code="app_inactive"),
    Case("an app out of licences: the assignment is undone", "app-access", "enterprise-app-agent", "ana.silva", "please give me figma", "escalated",
         inputs={"app": "figma"}, approve=True, prepare=_fill_figma, error_code="provisioning_failed", check=_assigned("ana.silva", "figma", False, changes=2)),
    Case("the manager rejects", "app-access", "access-manager", "ana.silva", "access to github", "escalated", inputs={"app": "github"}, approve=False,
         error_code="approval_rejected", check=_assigned("ana.silva", "github", False, changes=0)),
    Case("a suspended user gets nothing", "app-access", "enterprise-app-agent", "lisa.wong", "need github", "escalated", inputs={"app": "github"},
         error_code="user_not_active", check=_assigned("lisa.wong", "github", False, changes=0)),
    Case("stale tableau access is revoked after approval", "access-review", "enterprise-app-agent", "ana.silva", "quarterly access review for tableau", "resolved",
         inputs={"app": "tableau"}, approve=True, check=_reviewed("tableau", revoked=True)),
    Case("which app to review is asked", "access-review", "enterprise-app-agent", "ana.silva", "quarterly access review please", "resolved",
         answers={"app": "jira"}, approve=True, check=_reviewed("jira", revoked=True)),
    Case("the manager rejects the revocations", "access-review", "enterprise-app-agent", "ana.silva", "access review for docusign", "escalated",
         inputs={"app": "docusign"}, approve=False, error_code="approval_rejected", check=_reviewed("docusign", revoked=False)),
    Case("an unknown app cannot be reviewed", "access-review", "enterprise-app-agent", "ana.silva", "who has access to the old crm", "escalated",
         inputs={"app": "mainframe"}, error_code="app_not_found"),
)
