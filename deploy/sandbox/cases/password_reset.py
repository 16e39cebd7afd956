"""The sandbox cases of ``services/skills/password_reset.py``."""

from __future__ import annotations

import asyncpg

from contracts.envelope import Envelope
from deploy.sandbox.cases.workbench import Case, Check


def _okta_status(login: str, status: str, resets: int) -> Check:
    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        now = await conn.fetchval("SELECT status FROM okta_users WHERE login = $1", f"{login}@acme.example")
        done = await conn.fetchval("SELECT count(*) FROM okta_password_resets r JOIN okta_users u ON u.id = r.user_id WHERE u.login = $1", f"{login}@acme.example")
        assert (now, done) == (status, resets), f"{login}: Okta says {now} with {done} reset(s); expected {status} with {resets}"

    return check


CASES = (
    Case("active user resets", "password-reset", "jordan", "ana.silva", "I forgot my password", "resolved", check=_okta_status("ana.silva", "RECOVERY", 1)),
    Case("locked-out user is unlocked by recovery", "password-reset", "jordan", "priya.sharma", "locked out of my account", "resolved", check=_okta_status("priya.sharma", "RECOVERY", 1)),
    Case("suspended user is not reset", "password-reset", "jordan", "lisa.wong", "reset my password please", "escalated", error_code="user_not_active", check=_okta_status("lisa.wong", "SUSPENDED", 0)),
    Case("someone the directory does not know", "password-reset", "jordan", "nobody.here", "I forgot my password", "escalated", error_code="identity_mismatch"),
    Case("a made-up id with a colleague's email resets nothing", "password-reset", "jordan", "ghost.fuzzer", "I forgot my password", "escalated",
         email="ana.silva@acme.example", error_code="identity_mismatch", check=_okta_status("ana.silva", "ACTIVE", 0)),
    Case("one person's id with another's email resets nothing", "password-reset", "jordan", "john.miller", "I forgot my password", "escalated",
         email="ana.silva@acme.example", error_code="identity_mismatch", check=_okta_status("ana.silva", "ACTIVE", 0)),
    Case("supervised, manager approves", "password-reset", "jordan", "john.miller", "password expired", "resolved", autonomy="supervised", approve=True, check=_okta_status("john.miller", "RECOVERY", 1)),
    Case("supervised, manager rejects", "password-reset", "jordan", "john.miller", "password expired", "escalated", autonomy="supervised", approve=False, error_code="approval_rejected", check=_okta_status("john.miller", "PASSWORD_EXPIRED", 0)),
)
