"""What the identity and access skills share: who a request is about, and how a system's answer
becomes the skill's (an outage is raised again for the runner to retry; a refused credential or
scope is the same refusal on every system; anything else is the step's own failure, with the
system's code and words kept)."""

from __future__ import annotations

import re

from contracts.events import SkillRequest
from services.skills import identity
from services.skills.connectors.errors import ApiError
from services.skills.connectors.okta import User
from services.skills.identity import Person
from services.skills.skill import NeedInput, StepContext, StepFailed

#: The codes with which each system refuses a caller a scope (Okta, Graph for Entra and SharePoint,
#: the badge system, Workday).
SCOPE_REFUSALS = frozenset({"E0000006", "Authorization_RequestDenied", "accessDenied", "forbidden", "insufficient_permissions"})


def requester(request: SkillRequest) -> str:
    """The requester's login (their email), which is also their Okta login."""
    return request.ticket.requester.email or request.ticket.requester.id


def resolved(ctx: StepContext) -> Person:
    """Who asked, as the directory resolved them before the first step ran."""
    if ctx.requester is None:
        raise StepFailed(identity.UNVERIFIABLE, "the requester was not resolved in the directory before this step; a person must check who asked")
    return ctx.requester


def the_requester(ctx: StepContext, user: User) -> User:
    """``user``, the account a step found for the requester, when it is the person the directory
    resolved them as (the step then acts on the right account); else the step stops."""
    person = resolved(ctx)
    if user.id != person.user_id:
        raise StepFailed(identity.MISMATCH, f"the account found for the requester ({user.login}) is not the person the directory resolved them as ({person.login}); nothing was changed")
    return user


def person(value: str) -> str:
    """A person as a request names them (``Jane Lee``, ``jane.lee``, ``jane.lee@acme.example``), as a
    login or a login's short name, which the org's systems look people up by."""
    text = value.strip().strip("\"'<>").lower()
    if "@" in text:
        return text
    return ".".join(part for part in re.split(r"[\s._]+", text) if part)


def named(ctx: StepContext, field: str, question: str) -> str:
    """The person an input names (asking the requester when the request does not say)."""
    value = str(ctx.inputs.get(field, "")).strip()
    if not value:
        raise NeedInput(field, question)
    return person(value)


def failed(ctx: StepContext, system: str, exc: ApiError, code: str, what: str) -> StepFailed:
    """The ``StepFailed`` for a non-transient ``exc`` from ``system``; a transient one is raised again."""
    if exc.transient:
        raise exc
    if exc.status == 401:
        return StepFailed("credential_refused", f"{system} refused {ctx.request.coworker}'s credential: {exc.summary} ({exc.code})")
    if exc.status == 403 and exc.code in SCOPE_REFUSALS:
        return StepFailed("scope_refused", f"{system} refused {ctx.request.coworker}: {exc.summary} ({exc.code})")
    return StepFailed(code, f"{what}: {system} answered {exc.status} {exc.code}: {exc.summary}")
