"""How a connected system's error becomes a step's failure (services/skills/failures.py), the one
mapping every skill and the runner share."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contracts.events import SkillRequest
from services.skills.connectors.entra import GraphError
from runtime.vendor.errors import ApiError, unreachable
from services.skills.connectors.facilities import FacilitiesError
from services.skills.connectors.jira import JiraError
from services.skills.connectors.jumpcloud import JumpCloudError
from services.skills.connectors.okta import OktaError
from services.skills.connectors.payroll import PayrollError
from services.skills.connectors.sharepoint import SharePointError
from services.skills.connectors.slack import SlackError
from services.skills.connectors.workday_http import WorkdayError
from services.skills.execution import attempt
from services.skills.failures import SUMMARY_CHARS, refused, step_failure
from services.skills.skill import Step, StepContext, StepFailed
from tests.conftest import ticket

SKILLS = Path(__file__).resolve().parents[2] / "services" / "skills"


def okta_says(status: int, code: str = "E0000007", summary: str = "Not found: Resource not found: ana.silva (User)") -> OktaError:
    return OktaError(status, code, summary)


def failure(exc: ApiError, **kwargs: object) -> StepFailed:
    given = {"system": "Okta", "doing": "looking up the Okta user 'ana.silva'", "default": "lookup_refused", "coworker": "jordan"} | kwargs
    return step_failure(exc, **given)  # type: ignore[arg-type]


# -- outages are never a final answer ------------------------------------------------------------


@pytest.mark.parametrize(
    "outage",
    [okta_says(429, "E0000047", "API call exceeded rate limit"), okta_says(500, "E0000009", "Internal Server Error"), SlackError("ratelimited"), unreachable("Okta", ConnectionError())],
    ids=["rate limited", "server error", "slack asks to slow down", "unreachable"],
)
def test_an_outage_is_raised_again_for_the_runner_to_retry_never_turned_into_a_refusal(outage: ApiError) -> None:
    with pytest.raises(ApiError) as raised:
        failure(outage, codes={outage.code: "mapped"}, not_found="user_not_found")
    assert raised.value is outage
    with pytest.raises(ApiError) as passed, refused("Okta", "resetting a password", default="reset_refused"):
        raise outage
    assert passed.value is outage


# -- the coworker's credential -------------------------------------------------------------------


def test_a_refused_credential_is_credential_refused_on_every_system_and_names_whose_it_was() -> None:
    for exc in (okta_says(401, "E0000011", "Invalid token provided"), GraphError(401, "InvalidAuthenticationToken", "Access token has expired"), SlackError("token_revoked"), JiraError(401)):
        got = failure(exc, codes={exc.code: "mapped"})
        assert got.code == "credential_refused", exc
        assert "jordan's credential" in got.reason and "looking up the Okta user 'ana.silva'" in got.reason and exc.code in got.reason


@pytest.mark.parametrize(
    "lacking",
    [
        OktaError(403, "E0000006", "You do not have permission to perform the requested action"),
        GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
        SharePointError(403, "accessDenied", "Access denied."),
        JiraError(403, ["You do not have permission to link issues"]),
        JumpCloudError(403, "Forbidden: the API key does not carry devices.run_command"),
        SlackError("missing_scope", needed="chat:write"),
        PayrollError(403, "FORBIDDEN", "The API client is not authorised for this operation"),
        FacilitiesError(403, "forbidden", "The API token does not carry badges.issue"),
        WorkdayError(403, "insufficient_permissions", "User has insufficient permissions"),
        ApiError(403, "HTTP403", "Forbidden"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_credential_that_lacks_a_permission_is_scope_refused_whatever_the_vendor_calls_it(lacking: ApiError) -> None:
    got = failure(lacking, default="assignment_refused")
    assert got.code == "scope_refused"
    assert got.reason.startswith("Okta refused jordan while looking up the Okta user 'ana.silva': its credential lacks the permission")
    assert f"403 {lacking.code}" in got.reason


def test_a_403_that_refuses_the_action_not_the_credential_is_the_steps_own_failure() -> None:
    wrong_state = OktaError(403, "E0000038", "This operation is not allowed in the user's current status: DEPROVISIONED")
    assert failure(wrong_state, default="suspend_refused").code == "suspend_refused"
    no_clearance = FacilitiesError(403, "clearance_required", "Zone HQ-DC is restricted; cardholder jane.lee has no security clearance")
    assert failure(no_clearance, default="zone_refused", codes={"clearance_required": "clearance_required"}).code == "clearance_required"
    assert failure(SlackError("not_in_channel"), default="notify_failed").code == "notify_failed"


# -- the step's own answers ----------------------------------------------------------------------


def test_a_404_is_the_skills_not_found_code_when_it_names_one_else_its_default() -> None:
    gone = GraphError(404, "Request_ResourceNotFound", "Resource 'jane.lee@acme.example' does not exist")
    assert failure(gone, system="Entra ID", not_found="entra_user_not_found", default="disable_refused").code == "entra_user_not_found"
    assert failure(gone, system="Entra ID", default="disable_refused").code == "disable_refused"
    assert failure(GraphError(400, "Request_BadRequest", "Invalid value"), not_found="entra_user_not_found", default="disable_refused").code == "disable_refused"


def test_the_vendors_code_maps_to_the_skills_own_through_the_table_it_passes() -> None:
    codes = {"A1011": "insufficient_balance", "A1008": "overlapping_request"}
    overlap = WorkdayError(409, "A1008", "The request overlaps an existing time off request")
    assert failure(overlap, system="Workday", codes=codes, default="request_refused").code == "overlapping_request"
    assert failure(WorkdayError(400, "A1038", "Invalid date"), system="Workday", codes=codes, default="request_refused").code == "request_refused"
    # the table speaks for the action, not for the credential: a refused token stays credential_refused
    assert failure(WorkdayError(401, "A1008", "Invalid token"), codes=codes, default="request_refused").code == "credential_refused"
    # a 404 the table names is the table's code, not the not-found one
    assert failure(WorkdayError(404, "not_found", "Resource not found"), codes={"not_found": "worker_gone"}, not_found="worker_not_found", default="x").code == "worker_gone"


def test_anything_else_is_the_default_the_caller_names() -> None:
    assert failure(PayrollError(422, "VALIDATION_ERROR", "pan is not a valid PAN"), system="Payroll", default="enrolment_refused").code == "enrolment_refused"
    assert failure(JiraError(400, errors={"issuetype": "The issue type selected is invalid."}), system="Jira", default="jira_rejected").code == "jira_rejected"


# -- what a person reads -------------------------------------------------------------------------


def test_the_reason_says_which_system_what_was_being_done_and_the_vendors_code_and_summary() -> None:
    got = failure(okta_says(404), default="user_not_found")
    assert got.reason == "Okta answered 404 E0000007: Not found: Resource not found: ana.silva (User) while looking up the Okta user 'ana.silva'"
    assert "the coworker's credential" in step_failure(okta_says(401, "E0000011", "Invalid token provided"), system="Okta", doing="x", default="d").reason


def test_the_reason_never_carries_a_secret_and_stays_short() -> None:
    leaky = ApiError(400, "invalid_request", "bad api_key=sk-live-1234567890abcdef, sent Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijk")
    reason = failure(leaky).reason
    assert "sk-live-1234567890abcdef" not in reason and "eyJhbGciOiJIUzI1NiJ9" not in reason and "[REDACTED]" in reason
    long = failure(ApiError(400, "E0000001", "x" * 5000)).reason
    assert len(long) < SUMMARY_CHARS + 120 and long.count("x") < SUMMARY_CHARS


def test_the_block_form_raises_the_same_failure_without_the_vendors_traceback() -> None:
    with pytest.raises(StepFailed) as raised, refused("Payroll", "creating Jane Lee's final pay", codes={"CONFLICT": "final_pay_exists"}, not_found="not_in_payroll", default="final_pay_refused", coworker="hr-offboarding-agent"):
        raise PayrollError(409, "CONFLICT", "a final pay already exists for this employee")
    assert raised.value.code == "final_pay_exists" and raised.value.__suppress_context__
    assert raised.value.reason == "Payroll answered 409 CONFLICT: a final pay already exists for this employee while creating Jane Lee's final pay"


# -- the runner maps what a step lets through the same way ---------------------------------------


def _context() -> StepContext:
    created = ticket("T-failures")
    request = SkillRequest(ticket_id="T-failures", skill="app-access", coworker="enterprise-app-agent", coworker_version=1, ticket=created.data, confidence=0.9)
    return StepContext(request, "T-failures:app-access:1", {})


async def _runs(exc: ApiError, attempts: int = 2) -> tuple[str | None, str | None, int]:
    async def raises(ctx: StepContext) -> dict[str, object]:
        raise exc

    step = Step("assign-app", "okta", "apps.assign", raises, attempts=attempts)
    run = await attempt(step, _context(), raises, None, backoff_s=0.001)
    assert run.status == "failed"
    return run.error_code, run.error, run.attempts


async def test_the_runner_calls_an_escaped_scope_refusal_scope_refused_and_a_refused_token_credential_refused() -> None:
    code, reason, tried = await _runs(OktaError(403, "E0000006", "You do not have permission to perform the requested action"))
    assert (code, tried) == ("scope_refused", 1)
    assert reason is not None and "okta refused enterprise-app-agent while running the step assign-app" in reason and "E0000006" in reason
    assert (await _runs(OktaError(401, "E0000011", "Invalid token provided")))[0] == "credential_refused"
    assert (await _runs(OktaError(400, "E0000001", "Api validation failed: login")))[0] == "system_refused"


async def test_the_runner_retries_an_escaped_outage_and_only_then_calls_it_system_unavailable() -> None:
    code, reason, tried = await _runs(OktaError(503, "E0000009", "Service unavailable"), attempts=3)
    assert (code, tried) == ("system_unavailable", 3)
    assert reason is not None and reason.startswith("okta did not do assign-app: gave up after 3 attempt(s)") and reason.count("503 E0000009") == 3


# -- one place -----------------------------------------------------------------------------------

#: The codes only failures.py gives: a skill never decides them itself.
SHARED = ("credential_refused", "scope_refused", "system_refused", "system_unavailable")


def test_no_skill_maps_a_credential_scope_or_outage_itself() -> None:
    pattern = re.compile(r"StepFailed\(\s*[\"'](" + "|".join(SHARED) + r")[\"']")
    mapping_itself = [p.name for p in SKILLS.glob("*.py") if p.name != "failures.py" and pattern.search(p.read_text())]
    assert mapping_itself == []
    assert not (SKILLS / "refusals.py").exists(), "services/skills/refusals.py was a second mapping; failures.py is the one"
