"""What the identity and access skills share: who a request is about, and whether the account a
step found is the requester's. (How a system's error becomes a step's failure is ``failures.py``.)"""

from __future__ import annotations

import re

from contracts.events import SkillRequest
from services.skills import identity
from services.skills.connectors.okta import User
from services.skills.identity import Person
from services.skills.skill import NeedInput, StepContext, StepFailed

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
