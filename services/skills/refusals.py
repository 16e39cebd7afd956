"""How a step turns a system's answer into the skill's: an outage is raised again (the runner retries
it), a refused credential or scope becomes the same refusal whatever the system, and anything else
is the step's own failure with the system's code and words kept."""

from __future__ import annotations

from services.skills.connectors.errors import ApiError
from services.skills.skill import StepContext, StepFailed


def refusal(ctx: StepContext, system: str, exc: ApiError, code: str, what: str) -> StepFailed:
    """The ``StepFailed`` for a non-transient ``exc`` from ``system``; re-raises a transient one."""
    if exc.transient:
        raise exc
    if exc.status == 401:
        return StepFailed("credential_refused", f"{system} refused {ctx.request.coworker}'s credential: {exc.summary} ({exc.code})")
    if exc.status == 403:
        return StepFailed("scope_refused", f"{system} refused {ctx.request.coworker}: {exc.summary} ({exc.code})")
    return StepFailed(code, f"{what}: {system} answered {exc.status} {exc.code}: {exc.summary}")
