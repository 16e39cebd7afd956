"""The sandbox cases of ``services/skills/onboarding_it.py``."""

from __future__ import annotations

import asyncpg

from contracts.envelope import Envelope
from deploy.sandbox.cases.workbench import Case, Check
from services.skills.onboarding_it import role_apps


def _okta(login: str, status: str | None, apps: set[str]) -> Check:
    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        now = await conn.fetchval("SELECT status FROM okta_users WHERE login = $1", f"{login}@acme.example")
        has = {r["name"] for r in await conn.fetch("SELECT a.name FROM okta_app_users au JOIN okta_apps a ON a.id = au.app_id JOIN okta_users u ON u.id = au.user_id WHERE u.login = $1", f"{login}@acme.example")}
        assert (now, has) == (status, apps), f"{login}: Okta says {now} with apps {sorted(has)}; expected {status} with {sorted(apps)}"
        if status == "PROVISIONED":
            emails = await conn.fetchval("SELECT count(*) FROM okta_emails e JOIN okta_users u ON u.id = e.user_id WHERE u.login = $1 AND e.template = 'user_activation'", f"{login}@acme.example")
            assert emails == 1, f"{login} got {emails} activation email(s)"

    return check


async def _netsuite_full(conn: asyncpg.Connection) -> None:
    await conn.execute("UPDATE okta_apps SET licence_limit = greatest(1, (SELECT count(*) FROM okta_app_users au WHERE au.app_id = okta_apps.id)) WHERE name = 'netsuite'")


CASES = (
    Case("the staged new hire is activated with the Finance apps", "new-hire-accounts", "onboarding-manager", "ana.silva", "please onboard jane lee to the finance team", "resolved",
         inputs={"employee": "jane.lee"}, approve=True, check=_okta("jane.lee", "PROVISIONED", set(role_apps("Finance")))),
    Case("a hire only in Workday gets a new Okta account", "new-hire-accounts", "onboarding-manager", "ana.silva", "new joiner meera krishnan starts on monday", "resolved",
         inputs={"employee": "Meera Krishnan"}, approve=True, check=_okta("meera.krishnan", "PROVISIONED", set(role_apps("Engineering")))),
    Case("who the hire is, is asked", "new-hire-accounts", "onboarding-manager", "ana.silva", "new employee starts next week, prepare everything", "resolved",
         answers={"employee": "jane.lee@acme.example"}, approve=True, check=_okta("jane.lee", "PROVISIONED", set(role_apps("Finance")))),
    Case("nobody of that name in Workday", "new-hire-accounts", "onboarding-manager", "ana.silva", "onboard tom hanks", "escalated",
         inputs={"employee": "tom.hanks"}, error_code="hire_not_found"),
    Case("a long-standing employee is not onboarded again", "new-hire-accounts", "onboarding-manager", "john.miller", "onboard ana silva", "escalated",
         inputs={"employee": "ana.silva"}, error_code="not_a_new_hire"),
    Case("a role app out of licences: the activation is undone", "new-hire-accounts", "onboarding-manager", "ana.silva", "onboard jane lee", "escalated",
         inputs={"employee": "jane.lee"}, approve=True, prepare=_netsuite_full, error_code="provisioning_failed", check=_okta("jane.lee", "DEPROVISIONED", set())),
    Case("the manager rejects the activation", "new-hire-accounts", "onboarding-manager", "ana.silva", "onboard jane lee", "escalated",
         inputs={"employee": "jane.lee"}, approve=False, error_code="approval_rejected", check=_okta("jane.lee", "STAGED", set())),
)
