"""Password reset in Okta: find the user, check they may be reset, start their password recovery."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.events import SkillRequest
from runtime.redact import mask_email
from services.skills.access_common import the_requester
from services.skills.connectors.okta import Okta
from services.skills.failures import refused
from services.skills.rules import RESETTABLE
from services.skills.skill import Skill, Step, StepContext, StepFailed


def _target(request: SkillRequest) -> str:
    """Whose password: always the requester's own account. A password is reset only for the
    person who asked (Okta then emails *them* the link); a ticket naming someone else changes nothing."""
    return request.ticket.requester.email or request.ticket.requester.id


async def find_user(ctx: StepContext) -> dict[str, Any]:
    directory: Okta = ctx.system
    with refused("Okta", f"looking up the requester {_target(ctx.request)!r}", default="user_not_found", coworker=ctx.request.coworker):
        user = await directory.get_user(_target(ctx.request))
    the_requester(ctx, user)
    if user.status not in RESETTABLE:
        raise StepFailed("user_not_active", f"Okta user {user.login} is {user.status}; a password can be reset only for an active user")
    return {"user_id": user.id, "login": user.login, "status": user.status}


async def reset_password(ctx: StepContext) -> dict[str, Any]:
    user = ctx.earlier["find-user"]
    directory: Okta = ctx.system
    with refused("Okta", f"starting {user['login']}'s password recovery", default="reset_refused", coworker=ctx.request.coworker):
        reset = await directory.reset_password(user["user_id"], idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    # Okta emails the one-time link to the user's own address; nothing secret comes back to us.
    return {"user_id": reset.user_id, "status": reset.status, "email_sent_to": mask_email(reset.emailed_to or "")}


def _summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    reset = outputs["reset-password"]
    return (
        f"Started password recovery for {outputs['find-user']['login']} in Okta "
        f"(status {reset['status']}); a one-time reset link was emailed to {reset['email_sent_to']}."
    )


PASSWORD_RESET = Skill(
    name="password-reset",
    steps=(
        Step("find-user", "okta", "users.read", find_user, describe=lambda r: {"user": _target(r)}),
        Step("reset-password", "okta", "users.reset_password", reset_password, describe=lambda r: {"user": _target(r), "send_email": True}, destructive=True),
    ),
    summarise=_summary,
)


SKILLS = (PASSWORD_RESET,)
