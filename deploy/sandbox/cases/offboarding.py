"""The sandbox cases of ``services/skills/offboarding.py``."""

from __future__ import annotations

import asyncpg

from contracts.envelope import Envelope
from deploy.sandbox.cases.workbench import Case, Check


def _access(login: str, *, okta: str, apps: int | None, entra_enabled: bool | None, revoked: bool, badge: str | None) -> Check:
    """What the leaver can still reach after the case."""

    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        email = f"{login}@acme.example"
        state = {
            "okta": await conn.fetchval("SELECT status FROM okta_users WHERE login = $1", email),
            "apps": await conn.fetchval("SELECT count(*) FROM okta_app_users au JOIN okta_users u ON u.id = au.user_id WHERE u.login = $1", email),
            "entra_enabled": await conn.fetchval("SELECT account_enabled FROM entra_users WHERE user_principal_name = $1", email),
            "revoked": await conn.fetchval("SELECT count(*) > 0 FROM entra_changes c JOIN entra_users u ON u.id = c.user_id WHERE u.user_principal_name = $1 AND c.operation = 'revoke_sessions'", email),
            "badge": await conn.fetchval("SELECT b.status FROM facilities_badges b JOIN facilities_cardholders c ON c.id = b.holder_id WHERE c.login = $1 ORDER BY b.status_changed DESC LIMIT 1", email),
        }
        expected = {"okta": okta, "apps": apps if apps is not None else state["apps"], "entra_enabled": entra_enabled, "revoked": revoked, "badge": badge}
        assert state == expected, f"{login} after offboarding: {state}; expected {expected}"

    return check


async def _no_entra_account(conn: asyncpg.Connection) -> None:
    """The leaver's Entra account was never synced (say, a contractor only in Okta)."""
    for table in ("entra_group_members", "entra_risky_users"):
        await conn.execute(f"DELETE FROM {table} WHERE user_id = (SELECT id FROM entra_users WHERE user_principal_name = 'james.martinez@acme.example')")
    await conn.execute("DELETE FROM entra_users WHERE user_principal_name = 'james.martinez@acme.example'")


CASES = (
    Case("a leaver loses Okta, apps, Entra and the building at once", "offboarding", "enterprise-app-agent", "ana.silva", "james martinez leaves on friday, please remove his access", "resolved",
         inputs={"employee": "James Martinez"}, approve=True, check=_access("james.martinez", okta="SUSPENDED", apps=0, entra_enabled=False, revoked=True, badge="suspended")),
    Case("who is leaving, is asked", "offboarding", "enterprise-app-agent", "ana.silva", "an employee leaves today, please offboard", "resolved",
         answers={"employee": "james.martinez@acme.example"}, approve=True, check=_access("james.martinez", okta="SUSPENDED", apps=0, entra_enabled=False, revoked=True, badge="suspended")),
    Case("someone already deactivated is not offboarded twice", "offboarding", "enterprise-app-agent", "ana.silva", "rahul verma left, remove access", "escalated",
         inputs={"employee": "rahul.verma"}, approve=True, error_code="already_offboarded", check=_access("rahul.verma", okta="DEPROVISIONED", apps=0, entra_enabled=False, revoked=False, badge="returned")),
    Case("nobody of that name", "offboarding", "enterprise-app-agent", "ana.silva", "offboard tom hanks", "escalated", inputs={"employee": "tom hanks"}, approve=True, error_code="user_not_found"),
    Case("the manager rejects: nothing changes", "offboarding", "enterprise-app-agent", "ana.silva", "offboard james martinez", "escalated", inputs={"employee": "james.martinez"},
         approve=False, error_code="approval_rejected", check=_access("james.martinez", okta="ACTIVE", apps=None, entra_enabled=True, revoked=False, badge="active")),
    Case("no Entra account: what was done stays done, the rest goes to a person", "offboarding", "enterprise-app-agent", "ana.silva", "offboard james martinez", "escalated",
         inputs={"employee": "james.martinez"}, approve=True, prepare=_no_entra_account, error_code="entra_user_not_found",
         check=_access("james.martinez", okta="SUSPENDED", apps=0, entra_enabled=None, revoked=False, badge="active")),
)
