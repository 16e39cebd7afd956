"""Password reset in Okta: find the user, check they may be reset, start their password recovery."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.events import SkillRequest
from runtime.redact import mask_email
from services.skills.sandbox import okta
from services.skills.skill import Skill, Step, StepContext, StepFailed


def _target(request: SkillRequest) -> str:
    """Whose password: always the requester's own account. A password is reset only for the
    person who asked (Okta then emails *them* the link); a ticket naming someone else changes nothing."""
    return request.ticket.requester.email or request.ticket.requester.id


async def _caller(ctx: StepContext) -> okta.Caller:
    """The coworker as Okta knows it: by its own API token, with the scopes that token carries."""
    try:
        return await okta.authenticate(ctx.conn, ctx.credential)
    except okta.OktaError as exc:
        raise StepFailed("credential_refused", f"Okta refused {ctx.request.coworker}'s credential: {exc.summary} ({exc.code})") from None


async def find_user(ctx: StepContext) -> dict[str, Any]:
    caller = await _caller(ctx)
    try:
        user = await okta.get_user(ctx.conn, caller, _target(ctx.request))
    except okta.OktaError as exc:
        if exc.status == 403:
            raise StepFailed("scope_refused", f"Okta refused: {exc.summary} ({exc.code})") from None
        raise StepFailed("user_not_found", f"Okta has no user {_target(ctx.request)!r} ({exc.code})") from None
    if user.status not in okta.RESETTABLE:
        raise StepFailed("user_not_active", f"Okta user {user.login} is {user.status}; a password can be reset only for an active user")
    return {"user_id": user.id, "login": user.login, "status": user.status}


async def reset_password(ctx: StepContext) -> dict[str, Any]:
    user = ctx.earlier["find-user"]
    caller = await _caller(ctx)
    try:
        reset = await okta.reset_password(ctx.conn, caller, user["user_id"], idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    except okta.OktaError as exc:
        raise StepFailed("reset_refused", f"Okta refused the reset: {exc.summary} ({exc.code})") from None
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
        Step("reset-password", "okta", "users.reset_password", reset_password, describe=lambda r: {"user": _target(r), "send_email": True}),
    ),
    summarise=_summary,
)
