"""The sandbox cases of ``services/skills/mfa_recovery.py``."""

from __future__ import annotations

import asyncpg

from contracts.envelope import Envelope
from deploy.sandbox.cases.workbench import Case, Check
from deploy.sandbox.hr_org import person as hr_person


def _employee_id(login: str) -> str:
    number = hr_person(login).employee_id
    assert number is not None
    return number


def _factors(login: str, expected: set[str], resets: int) -> Check:
    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        kinds = {r["kind"] for r in await conn.fetch("SELECT f.factor_type || '/' || f.provider AS kind FROM okta_factors f JOIN okta_users u ON u.id = f.user_id WHERE u.login = $1", f"{login}@acme.example")}
        done = await conn.fetchval("SELECT count(*) FROM okta_factor_resets r JOIN okta_users u ON u.id = r.user_id WHERE u.login = $1", f"{login}@acme.example")
        assert (kinds, done) == (expected, resets), f"{login}: factors {kinds} after {done} reset(s); expected {expected} after {resets}"

    return check


async def _at_risk(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "INSERT INTO entra_risky_users (user_id, risk_level, risk_state, risk_detail) SELECT id, 'high', 'atRisk', 'none' FROM entra_users WHERE user_principal_name = 'priya.sharma@acme.example'"
        " ON CONFLICT (user_id) DO UPDATE SET risk_level = 'high', risk_state = 'atRisk'"
    )


async def _no_factors(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM okta_factors WHERE user_id = (SELECT id FROM okta_users WHERE login = 'priya.sharma@acme.example')")


ANA, PRIYA, JOHN = _employee_id("ana.silva"), _employee_id("priya.sharma"), _employee_id("john.miller")
CASES = (
    Case("lost phone: Okta Verify is reset after the employee ID matches", "mfa-recovery", "jordan", "ana.silva", "I lost my phone and cannot approve the Okta Verify push any more",
         "resolved", answers={"employee_id": ANA}, approve=True, check=_factors("ana.silva", {"sms/OKTA"}, 1)),
    Case("locked-out user with one factor", "mfa-recovery", "jordan", "priya.sharma", "new phone, my MFA does not work and I am locked out",
         "resolved", answers={"employee_id": f"ID {PRIYA}"}, approve=True, check=_factors("priya.sharma", set(), 1)),
    Case("two factors and the ticket names neither: the requester is asked which", "mfa-recovery", "jordan", "john.miller", "please reset my MFA, I cannot sign in",
         "resolved", answers={"employee_id": JOHN, "factor": "the Google Authenticator codes"}, approve=True, check=_factors("john.miller", {"push/OKTA"}, 1)),
    Case("a wrong employee ID resets nothing", "mfa-recovery", "jordan", "ana.silva", "lost my phone, need Okta Verify reset",
         "escalated", error_code="identity_not_verified", answers={"employee_id": "100999"}, check=_factors("ana.silva", {"push/OKTA", "sms/OKTA"}, 0)),
    Case("a suspended account is not recovered", "mfa-recovery", "jordan", "lisa.wong", "lost my phone with Okta Verify", "escalated", error_code="user_not_active",
         check=_factors("lisa.wong", {"push/OKTA"}, 0)),
    Case("an account Entra rates at high risk goes to security first", "mfa-recovery", "jordan", "priya.sharma", "reset my Okta Verify please, new phone",
         "escalated", error_code="account_at_risk", answers={"employee_id": PRIYA}, prepare=_at_risk, check=_factors("priya.sharma", {"push/OKTA"}, 0)),
    Case("no factor enrolled: nothing to reset", "mfa-recovery", "jordan", "priya.sharma", "MFA not working", "escalated", error_code="no_factor",
         answers={"employee_id": PRIYA}, prepare=_no_factors, check=_factors("priya.sharma", set(), 0)),
    Case("someone the directory does not know", "mfa-recovery", "jordan", "nobody.here", "lost my phone", "escalated", error_code="identity_mismatch"),
    Case("a made-up id with a colleague's email resets no factor", "mfa-recovery", "jordan", "ghost.fuzzer", "lost my phone, reset Okta Verify",
         "escalated", email="ana.silva@acme.example", error_code="identity_mismatch", check=_factors("ana.silva", {"push/OKTA", "sms/OKTA"}, 0)),
    Case("the manager rejects the reset", "mfa-recovery", "jordan", "ana.silva", "lost my phone, Okta Verify push needs resetting",
         "escalated", error_code="approval_rejected", answers={"employee_id": ANA}, approve=False, check=_factors("ana.silva", {"push/OKTA", "sms/OKTA"}, 0)),
)
