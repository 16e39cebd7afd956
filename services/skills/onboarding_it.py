"""Onboarding, the IT part: a new hire's Okta account, made from their Workday record, activated,
and given the apps their role needs (the access matrix below) - nothing more.

The hire must be in Workday as a Pre-Hire (or hired in the last 30 days). Their Okta account is
created STAGED from the record, or the STAGED one HR provisioning already made is used; activation
emails them the link to set a password (Okta keeps them PROVISIONED until they follow it) and is
destructive, as is assigning apps. If the apps cannot all be assigned, the activation is undone by
deactivating the account (Okta's only way back from an activation) and an account this request
created is deactivated too: no half-provisioned account is left able to sign in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from services.skills.access_common import named
from runtime.vendor.errors import ApiError
from services.skills.connectors.okta import NewUser, Okta
from services.skills.connectors.workday import Workday
from services.skills.failures import refused, step_failure
from services.skills.people import named_in
from services.skills.skill import Skill, Step, StepContext, StepFailed

#: Every employee's apps, then each department's: the IT access matrix a new hire starts with.
BASELINE_APPS = ("office365", "slack", "zoom", "workday")
ROLE_APPS: dict[str, tuple[str, ...]] = {
    "Engineering": ("confluence", "jira", "github"),
    "Finance": ("tableau", "netsuite"),
    "Sales": ("salesforce",),
    "Marketing": ("confluence",),
    "Support": ("zendesk", "servicenow", "jira", "confluence"),
    "HR": ("greenhouse", "docusign"),
    "Legal": ("docusign",),
    "Operations": ("jira", "confluence"),
    "IT": ("servicenow", "jira", "confluence"),
}
#: How long after the start date a hire still counts as new.
NEW_FOR = timedelta(days=30)
EMPLOYEE_QUESTION = "Who is the new hire? Please give their name or work email."


def role_apps(department: str) -> tuple[str, ...]:
    return BASELINE_APPS + ROLE_APPS.get(department, ())


async def find_hire(ctx: StepContext) -> dict[str, Any]:
    workday: Workday = ctx.system
    if not str(ctx.inputs.get("employee", "")).strip():
        # "onboard Jane Lee": the one new hire the ticket names, if it names exactly one.
        mentioned = await named_in(ctx.request.ticket.text, lambda name: workday.find_workers(name, include_terminated=False), key=lambda w: w.id)
        new_hires = [w for w in mentioned if _is_new(w)]
        if len(new_hires) == 1:
            return _hire_outputs(new_hires[0])
    who = named(ctx, "employee", EMPLOYEE_QUESTION)
    with refused("Workday", f"looking up the hire {who!r}", default="hire_not_found", coworker=ctx.request.coworker):
        found = await workday.find_workers(who, include_terminated=False)
    if not found:
        raise StepFailed("hire_not_found", f"Workday has no worker {who!r}; IT onboarding starts once HR has recorded the hire")
    if len(found) > 1:
        raise StepFailed("hire_ambiguous", f"{who!r} matches {len(found)} workers in Workday ({', '.join(w.email for w in found)}); a person must say which")
    worker = found[0]
    if not _is_new(worker):
        raise StepFailed("not_a_new_hire", f"{worker.email} is {worker.status} in Workday since {worker.hire_date.isoformat()}; onboarding is for new hires")
    return _hire_outputs(worker)


def _is_new(worker: Any) -> bool:
    return worker.status == "Pre-Hire" or (worker.status == "Active" and worker.hire_date >= date.today() - NEW_FOR)


def _hire_outputs(worker: Any) -> dict[str, Any]:
    return {
        "worker_id": worker.id, "email": worker.email, "first_name": worker.first_name, "last_name": worker.last_name, "country": worker.country,
        "department": worker.department, "title": worker.job_title, "_employee_id": worker.employee_id, "start_date": worker.hire_date.isoformat(),
        "manager_email": worker.manager_email, "workday_status": worker.status,
    }


async def create_account(ctx: StepContext) -> dict[str, Any]:
    """The hire's Okta account: the STAGED one that exists, or a new one from the Workday record."""
    okta: Okta = ctx.system
    hire = ctx.earlier["find-hire"]
    try:
        existing = await okta.get_user(hire["email"])
    except ApiError as exc:
        if exc.status != 404:
            raise step_failure(exc, system="Okta", doing=f"looking up an existing account for {hire['email']}", default="account_unreadable", coworker=ctx.request.coworker) from None
        existing = None
    if existing is not None:
        if existing.status not in {"STAGED", "PROVISIONED"}:
            raise StepFailed("account_exists", f"{existing.login} already has an Okta account that is {existing.status}; a person checks whether this is a rehire or a duplicate")
        return {"user_id": existing.id, "login": existing.login, "status": existing.status, "created": False}
    manager_id = None
    if hire["manager_email"]:
        try:
            manager_id = (await okta.get_user(hire["manager_email"])).id
        except ApiError as exc:
            if exc.status != 404:
                raise step_failure(exc, system="Okta", doing=f"looking up the manager {hire['manager_email']}", default="account_unreadable", coworker=ctx.request.coworker) from None
    profile = NewUser(
        login=hire["email"], email=hire["email"], first_name=hire["first_name"], last_name=hire["last_name"], country=hire["country"],
        department=hire["department"], title=hire["title"], employee_number=hire["_employee_id"], manager_id=manager_id,
    )
    with refused("Okta", f"creating the account {hire['email']}", default="account_refused", coworker=ctx.request.coworker):
        user = await okta.create_user(profile, idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    return {"user_id": user.id, "login": user.login, "status": user.status, "created": True}


async def deactivate_created(ctx: StepContext, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Undo: an account this request created is deactivated (one it found is left as it was)."""
    if not outputs.get("created"):
        return {"deactivated": False, "why": "the account existed before this request"}
    return await _deactivate(ctx, outputs["user_id"])


async def _deactivate(ctx: StepContext, user_id: str) -> dict[str, Any]:
    okta: Okta = ctx.system
    try:
        done = await okta.deactivate_user(user_id, idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    except ApiError as exc:
        if exc.code == "E0000038":  # already deactivated
            return {"deactivated": True, "user_id": user_id}
        raise step_failure(exc, system="Okta", doing=f"deactivating {user_id}", default="deactivation_refused", coworker=ctx.request.coworker) from None
    return {"deactivated": True, "user_id": user_id, "status": done.status}


async def activate_account(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    account = ctx.earlier["create-account"]
    if account["status"] == "PROVISIONED":
        return {"user_id": account["user_id"], "status": "PROVISIONED", "activated": False}
    with refused("Okta", f"activating {account['login']}", default="activation_refused", coworker=ctx.request.coworker):
        done = await okta.activate_user(account["user_id"], idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id, send_email=True)
    return {"user_id": done.user_id, "status": done.status, "activated": True, "email_sent": done.emailed_to is not None}


async def deactivate_activated(ctx: StepContext, outputs: Mapping[str, Any]) -> dict[str, Any]:
    if not outputs.get("activated"):
        return {"deactivated": False, "why": "this request did not activate the account"}
    return await _deactivate(ctx, outputs["user_id"])


async def assign_apps(ctx: StepContext) -> dict[str, Any]:
    """Assign every app of the hire's role; if one cannot be assigned or provisioned, take back the
    ones this step assigned and fail (the sandbox also rolls the step back; a real Okta does not)."""
    okta: Okta = ctx.system
    hire, account = ctx.earlier["find-hire"], ctx.earlier["create-account"]
    wanted = role_apps(hire["department"])
    with refused("Okta", "listing Okta's apps", default="apps_unreadable", coworker=ctx.request.coworker):
        apps = {a.name: a for a in await okta.list_apps()}
    if missing := [name for name in wanted if name not in apps]:
        raise StepFailed("app_not_found", f"the {hire['department']} role needs {', '.join(missing)}, which Okta does not have")
    made: list[str] = []
    try:
        for name in wanted:
            done = await okta.assign_user(apps[name].id, account["user_id"], idempotency_key=f"{ctx.idempotency_key}:{name}", ticket_id=ctx.request.ticket_id)
            if done.changed:
                made.append(name)
            if done.sync_state == "ERROR":
                state = await okta.get_app_user(apps[name].id, account["user_id"])
                raise StepFailed("provisioning_failed", f"Okta could not provision {apps[name].label} for {account['login']}: {state.sync_error or 'provisioning error'}")
    except (StepFailed, ApiError) as exc:
        for name in made:
            with contextlib.suppress(ApiError):  # best effort: the compensation deactivates the account, which drops its apps
                await okta.unassign_user(apps[name].id, account["user_id"], idempotency_key=f"{ctx.idempotency_key}:{name}:undo", ticket_id=ctx.request.ticket_id)
        if isinstance(exc, StepFailed):
            raise
        raise step_failure(exc, system="Okta", doing=f"assigning the {hire['department']} apps to {account['login']}", default="assignment_refused", coworker=ctx.request.coworker) from None
    return {"user_id": account["user_id"], "apps": [apps[n].label for n in wanted], "app_ids": [apps[n].id for n in made]}


async def unassign_apps(ctx: StepContext, outputs: Mapping[str, Any]) -> dict[str, Any]:
    okta: Okta = ctx.system
    for app_id in outputs["app_ids"]:
        try:
            await okta.unassign_user(app_id, outputs["user_id"], idempotency_key=f"{ctx.idempotency_key}:{app_id}", ticket_id=ctx.request.ticket_id)
        except ApiError as exc:
            if exc.status != 404:
                raise step_failure(exc, system="Okta", doing=f"removing the app {app_id} this request assigned", default="unassign_refused", coworker=ctx.request.coworker) from None
    return {"unassigned": len(outputs["app_ids"])}


def _summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    hire, account, apps = outputs["find-hire"], outputs["create-account"], outputs["assign-apps"]
    made = "created" if account["created"] else "prepared"
    return (
        f"Okta account {made} and activated for {hire['first_name']} {hire['last_name']} ({account['login']}, {hire['title']}, {hire['department']}), "
        f"starting {hire['start_date']}: the activation email asks them to set a password and enrol in Okta Verify. "
        f"Apps assigned: {', '.join(apps['apps'])}. Anything beyond the role's apps needs a separate access request approved by their manager."
    )


def _asked(request: Any) -> dict[str, Any]:
    return {"new_hire": str(request.inputs.get("employee", ""))}


ONBOARDING = Skill(
    name="new-hire-accounts",
    steps=(
        Step("find-hire", "workday", "workers.read", find_hire, describe=_asked),
        Step("create-account", "okta", "users.create", create_account, describe=_asked, compensate=deactivate_created),
        Step("activate-account", "okta", "users.lifecycle", activate_account, describe=_asked, destructive=True, compensate=deactivate_activated),
        Step("assign-apps", "okta", "apps.assign", assign_apps, describe=lambda r: {**_asked(r), "apps": "the role's apps"}, destructive=True, compensate=unassign_apps),
    ),
    summarise=_summary,
)

SKILLS = (ONBOARDING,)
