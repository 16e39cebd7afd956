"""MFA recovery: a person who lost (or replaced) the phone they sign in with gets the lost factor
reset in Okta, so they enrol again at their next sign-in. Resetting MFA is what an attacker who
holds a password wants most, so the skill first makes sure it is the person: their Okta account is
theirs and in a state that may be recovered, they answer a question only they and the directory
know (their employee ID, which Okta's profile carries as ``employeeNumber``), and Microsoft Entra ID
Protection does not currently rate their sign-ins as risky. Only then is the one lost factor reset
(destructive: a supervised coworker asks its manager first; it cannot be undone).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts.events import SkillRequest
from services.skills.access_common import requester, resolved, the_requester
from services.skills.connectors.entra import Entra
from services.skills.connectors.okta import Factor, Okta
from services.skills.failures import refused
from services.skills.skill import NeedInput, Skill, Step, StepContext, StepFailed

#: Okta statuses in which a person can still sign in once their factor is reset.
RECOVERABLE = frozenset({"ACTIVE", "RECOVERY", "LOCKED_OUT", "PASSWORD_EXPIRED"})
#: Entra risk levels at which a factor is not reset until security has looked.
BLOCKING_RISK = frozenset({"medium", "high"})
#: How people name each factor type in a ticket or an answer.
FACTOR_WORDS: dict[str, tuple[str, ...]] = {
    "push": ("okta verify", "push", "verify app", "approve the notification", "notification"),
    "sms": ("sms", "text message", "text messages", "texts", "texted"),
    "token:software:totp": ("google authenticator", "authenticator", "totp", "six digit", "6 digit", "one time code", "code"),
}
EMPLOYEE_ID_QUESTION = "Before we reset your sign-in method we need to confirm it is you: what is your employee ID? (It is on your payslip and in Workday.)"


def _mentioned(text: str) -> set[str]:
    """The factor types ``text`` names."""
    words = " " + re.sub(r"[^a-z0-9]+", " ", text.lower()) + " "
    return {kind for kind, names in FACTOR_WORDS.items() if any(f" {name} " in words for name in names)}


async def find_user(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    with refused("Okta", f"looking up the requester {requester(ctx.request)!r}", default="user_not_found", coworker=ctx.request.coworker):
        user = await okta.get_user(requester(ctx.request))
    the_requester(ctx, user)
    if user.status not in RECOVERABLE:
        raise StepFailed("user_not_active", f"Okta user {user.login} is {user.status}; MFA is recovered only for an account that may sign in")
    return {"user_id": user.id, "login": user.login, "status": user.status}


async def verify_identity(ctx: StepContext) -> dict[str, Any]:
    """Compare the requester's answer with the directory's record of the person the requester was
    resolved as (never of anyone an answer or a ticket names); the record is never shown. Only the
    requester's own answer reaches this step (the runner refuses anyone else's)."""
    answer = str(ctx.inputs.get("employee_id", "")).strip()
    if not answer:
        raise NeedInput("employee_id", EMPLOYEE_ID_QUESTION)
    okta: Okta = ctx.system
    person = resolved(ctx)
    login = person.login
    with refused("Okta", f"reading {login}'s profile", default="user_not_found", coworker=ctx.request.coworker):
        user = await okta.get_user(person.user_id)
    if not user.employee_number:
        raise StepFailed("identity_unverifiable", f"Okta's profile of {login} has no employee number to check the answer against; a person must verify the requester")
    if re.sub(r"\D", "", answer) != user.employee_number:
        raise StepFailed("identity_not_verified", f"the employee ID the requester gave does not match the directory's record for {login}; MFA was not reset (verify the person another way, e.g. a video call with photo ID)")
    return {"verified": True, "method": "employee ID matched the directory"}


async def check_risk(ctx: StepContext) -> dict[str, Any]:
    entra: Entra = ctx.system
    login = ctx.earlier["find-user"]["login"]
    with refused("Entra ID", f"reading {login}'s sign-in risk", default="risk_unknown", coworker=ctx.request.coworker):
        risk = await entra.risky_user(login)
    if risk.at_risk and risk.risk_level in BLOCKING_RISK:
        raise StepFailed(
            "account_at_risk",
            f"Entra ID Protection rates {login}'s sign-ins {risk.risk_level} risk ({risk.risk_state}); resetting MFA now could hand the account to whoever holds the password, so security reviews it first",
        )
    return {"risk_level": risk.risk_level, "risk_state": risk.risk_state}


def _pick(factors: list[Factor], kinds: set[str]) -> list[Factor]:
    return [f for f in factors if f.factor_type in kinds]


async def find_factor(ctx: StepContext) -> dict[str, Any]:
    """The factor the requester lost: the only one they have, the one their ticket names, or the one
    they say when asked."""
    okta: Okta = ctx.system
    user = ctx.earlier["find-user"]
    with refused("Okta", f"listing {user['login']}'s MFA factors", default="factors_unreadable", coworker=ctx.request.coworker):
        factors = await okta.list_factors(user["user_id"])
    if not factors:
        raise StepFailed("no_factor", f"{user['login']} has no MFA factor enrolled, so there is nothing to reset; they are asked to enrol at their next sign-in, and a person should check why they cannot sign in")
    enrolled = ", ".join(f.name for f in factors)
    if len(factors) == 1:
        chosen = factors
    else:
        answer = str(ctx.inputs.get("factor", "")).strip()
        if answer:
            chosen = _pick(factors, _mentioned(answer))
            if len(chosen) != 1:
                raise StepFailed("factor_not_found", f"the requester said {answer!r}, which names {'none' if not chosen else 'more than one'} of {user['login']}'s factors ({enrolled})")
        else:
            chosen = _pick(factors, _mentioned(f"{ctx.request.ticket.title} {ctx.request.ticket.description}"))
            if len(chosen) != 1:
                raise NeedInput("factor", f"Which sign-in method did you lose? You have: {enrolled}.")
    factor = chosen[0]
    return {"factor_id": factor.id, "factor": factor.name, "factor_type": factor.factor_type, "provider": factor.provider, "status": factor.status, "device": factor.device, "enrolled": [f.name for f in factors]}


async def reset_factor(ctx: StepContext) -> dict[str, Any]:
    okta: Okta = ctx.system
    user, factor = ctx.earlier["find-user"], ctx.earlier["find-factor"]
    with refused("Okta", f"resetting {factor['factor']} for {user['login']}", default="reset_refused", coworker=ctx.request.coworker):
        reset = await okta.reset_factor(user["user_id"], factor["factor_id"], idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    remaining = [name for name in factor["enrolled"] if name != factor["factor"]]
    return {"user_id": reset.user_id, "factor": factor["factor"], "reset": True, "remaining": remaining}


def _enrolment_path(factor_type: str) -> str:
    if factor_type == "push":
        return "install Okta Verify on your phone, tap Add account and scan the QR code Okta shows"
    if factor_type == "sms":
        return "enter the mobile number to text codes to, then the code it receives"
    return "add the account in your authenticator app by scanning the QR code Okta shows, then enter the six-digit code"


def _summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    reset, factor = outputs["reset-factor"], outputs["find-factor"]
    kept = f" Your other sign-in methods still work: {', '.join(reset['remaining'])}." if reset["remaining"] else ""
    return (
        f"Identity confirmed and {factor['factor']} reset for {outputs['find-user']['login']} in Okta. "
        f"At your next sign-in Okta asks you to set it up again: {_enrolment_path(factor['factor_type'])} "
        f"(or later from Settings > Security Methods).{kept}"
    )


def _who(request: SkillRequest) -> dict[str, Any]:
    return {"user": requester(request)}


MFA_RECOVERY = Skill(
    name="mfa-recovery",
    steps=(
        Step("find-user", "okta", "users.read", find_user, describe=_who),
        Step("verify-identity", "okta", "users.read", verify_identity, describe=lambda r: {"user": requester(r), "question": "employee ID"}),
        Step("check-risk", "entra", "risk.read", check_risk, describe=_who),
        Step("find-factor", "okta", "factors.read", find_factor, describe=_who),
        # Not undoable: the factor's enrolment secret is gone; the person enrols again.
        Step("reset-factor", "okta", "factors.reset", reset_factor, describe=lambda r: {"user": requester(r), "factor": r.inputs.get("factor") or "the lost factor"}, destructive=True),
    ),
    summarise=_summary,
)

SKILLS = (MFA_RECOVERY,)
