"""How a connected system's error becomes a step's failure: the one mapping every skill and the
runner (``execution.attempt``) share.

An outage (429, 5xx, unreachable: ``ApiError.transient``) is never a failure here. It is raised
again, so the runner retries it within the step's limits and reports ``system_unavailable`` only
once they are spent (``gave_up``); a skill never turns an outage into a final refusal.

Any other error is the system's answer, and becomes ``StepFailed`` by the first of:

1. 401: ``credential_refused``. The coworker's credential was refused (revoked, expired, never
   issued); its administrator issues a new one.
2. 403 whose vendor code means "this credential lacks a permission" (``SCOPE_REFUSALS``):
   ``scope_refused``; the administrator grants the scope. A 403 with another code refuses the
   action itself, not the coworker (Okta's E0000038 "not allowed in the user's current status",
   the badge system's ``clearance_required``, Slack's ``not_in_channel``) and goes on to 3.
3. The vendor's code in the skill's own table (``codes``: ``{"A178": "already_terminated"}``).
4. 404, when the skill names its not-found code (``not_found``: ``user_not_found``).
5. The code the caller names for everything else (``default``).

The reason names the system, what the step was doing, the vendor's status, code and summary, and
for 1 and 2 the coworker whose credential it was. A vendor's summary is scrubbed of anything that
looks like a secret and capped; a credential is never in it (connectors never put one there).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from runtime.redact import redact_text
from runtime.vendor.errors import ApiError
from services.skills.skill import StepFailed

#: The 403 codes with which each system says the caller's credential lacks a permission: Okta,
#: Microsoft Graph (Entra, SharePoint), the badge system and payroll, Workday, Jira and JumpCloud
#: (their HTTP reason), Slack, an MCP server, and a vendor whose error body we could not read;
#: compared without case (payroll says ``FORBIDDEN``, Jira ``Forbidden``, the badge system ``forbidden``).
SCOPE_REFUSALS = frozenset(
    code.lower() for code in ("E0000006", "Authorization_RequestDenied", "accessDenied", "Forbidden", "insufficient_permissions", "missing_scope", "insufficient_scope", "HTTP403")
)

#: How much of a vendor's summary a reason keeps.
SUMMARY_CHARS = 300


def is_scope_refusal(exc: ApiError) -> bool:
    """The system refused the caller's credential a permission (not the action itself)."""
    return exc.status == 403 and exc.code.lower() in SCOPE_REFUSALS


def said(exc: ApiError) -> str:
    """What the system answered, as a person reads it: ``404 E0000007: Not found: ...``."""
    summary = redact_text(exc.summary)
    if len(summary) > SUMMARY_CHARS:
        summary = summary[: SUMMARY_CHARS - 1] + "…"
    return f"{exc.status} {exc.code}: {summary}"


def step_failure(
    exc: ApiError,
    *,
    system: str,
    doing: str,
    default: str,
    not_found: str | None = None,
    codes: Mapping[str, str] | None = None,
    coworker: str | None = None,
) -> StepFailed:
    """The ``StepFailed`` for ``system``'s error ``exc`` while the step was ``doing`` (``looking up
    the Okta user 'ana.silva'``); see the module's docstring for the order. A transient ``exc`` is
    raised again."""
    if exc.transient:
        raise exc
    who = coworker or "the coworker"
    if exc.status == 401:
        return StepFailed("credential_refused", f"{system} refused {who}'s credential while {doing} ({said(exc)}); its administrator must issue a valid one")
    if is_scope_refusal(exc):
        return StepFailed("scope_refused", f"{system} refused {who} while {doing}: its credential lacks the permission ({said(exc)})")
    if codes and exc.code in codes:
        code = codes[exc.code]
    elif exc.status == 404 and not_found is not None:
        code = not_found
    else:
        code = default
    return StepFailed(code, f"{system} answered {said(exc)} while {doing}")


@contextmanager
def refused(
    system: str,
    doing: str,
    *,
    default: str,
    not_found: str | None = None,
    codes: Mapping[str, str] | None = None,
    coworker: str | None = None,
) -> Iterator[None]:
    """``step_failure`` for an ``ApiError`` raised in the block: ``with refused("Workday", "reading
    ana's balances", default="balance_unavailable"): ...``. An outage passes through to be retried."""
    try:
        yield
    except ApiError as exc:
        raise step_failure(exc, system=system, doing=doing, default=default, not_found=not_found, codes=codes, coworker=coworker) from None


def gave_up(system: str, step: str, tried: list[str]) -> StepFailed:
    """``system_unavailable``: an outage outlasted every attempt ``step`` allows (``tried`` lists them)."""
    return StepFailed("system_unavailable", f"{system} did not do {step}: gave up after {len(tried)} attempt(s) ({'; '.join(tried)})")
