"""The sandbox cases of ``services/skills/access.py``."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from contracts.envelope import Envelope
from deploy.sandbox.cases.workbench import Case, Check
from services.skills.rules import STALE_AFTER_DAYS


def _assigned(login: str, app: str, expected: bool, *, changes: int) -> Check:
    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        has = await conn.fetchval(
            "SELECT count(*) FROM okta_app_users au JOIN okta_users u ON u.id = au.user_id JOIN okta_apps a ON a.id = au.app_id WHERE u.login = $1 AND a.name = $2", f"{login}@acme.example", app
        )
        made = await conn.fetchval("SELECT count(*) FROM okta_app_user_changes c JOIN okta_apps a ON a.id = c.app_id WHERE a.name = $1 AND c.changed", app)
        assert (bool(has), made) == (expected, changes), f"{login} {'has' if has else 'has not'} {app} after {made} change(s); expected {expected} after {changes}"

    return check


_STALE = (
    "SELECT count(*) FROM okta_app_users au JOIN okta_apps a ON a.id = au.app_id LEFT JOIN okta_app_sign_ins s ON s.app_id = au.app_id AND s.user_id = au.user_id"
    " WHERE a.name = $1 AND au.created < now() - interval '90 days' AND (s.last_sign_in IS NULL OR s.last_sign_in < now() - interval '90 days')"
)


def _reviewed(app: str, *, revoked: bool) -> Check:
    """After the review: no stale assignment left (or all still there), only stale ones were revoked, and everyone active kept theirs."""

    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        stale = await conn.fetchval(_STALE, app)
        removed = await conn.fetch(
            "SELECT c.user_id, s.last_sign_in, (c.snapshot->>'created')::timestamptz AS created FROM okta_app_user_changes c JOIN okta_apps a ON a.id = c.app_id"
            " LEFT JOIN okta_app_sign_ins s ON s.app_id = c.app_id AND s.user_id = c.user_id WHERE a.name = $1 AND c.action = 'unassign'",
            app,
        )
        kept = await conn.fetchval("SELECT count(*) FROM okta_app_users au JOIN okta_apps a ON a.id = au.app_id WHERE a.name = $1", app)
        if revoked:
            assert stale == 0 and removed, f"{app}: {stale} stale assignment(s) left, {len(removed)} revoked"
            cutoff = datetime.now(UTC).timestamp() - STALE_AFTER_DAYS * 86400
            assert all(r["created"].timestamp() < cutoff and (r["last_sign_in"] is None or r["last_sign_in"].timestamp() < cutoff) for r in removed), f"{app}: an assignment in use was revoked"
            assert kept > 0, f"{app}: every assignment was revoked"
        else:
            assert stale > 0 and not removed, f"{app}: {len(removed)} revoked though the review did not finish"

    return check


async def _fill_figma(conn: asyncpg.Connection) -> None:
    """Figma's seats are all taken (as seeded): make sure, whatever the seed's size."""
    await conn.execute("UPDATE okta_apps SET licence_limit = greatest(1, (SELECT count(*) FROM okta_app_users au WHERE au.app_id = okta_apps.id)) WHERE name = 'figma'")


CASES = (
    Case("new app is assigned after the manager approves", "app-access", "enterprise-app-agent", "ana.silva", "please give me access to github", "resolved",
         inputs={"app": "github"}, approve=True, check=_assigned("ana.silva", "github", True, changes=1)),
    Case("access manager grants jira", "app-access", "access-manager", "john.miller", "need access to jira for the new project", "resolved",
         inputs={"app": "jira"}, approve=True, check=_assigned("john.miller", "jira", True, changes=1)),
    Case("an app the user already has changes nothing", "app-access", "enterprise-app-agent", "ana.silva", "I need tableau", "resolved",
         inputs={"app": "tableau"}, approve=True, check=_assigned("ana.silva", "tableau", True, changes=0)),
    Case("teams comes with Microsoft 365, which the user has", "app-access", "enterprise-app-agent", "john.miller", "add me to teams", "resolved",
         inputs={"app": "teams"}, approve=True, check=_assigned("john.miller", "office365", True, changes=0)),
    Case("a new hire not yet active gets no apps", "app-access", "enterprise-app-agent", "jane.lee", "I need slack", "escalated", error_code="user_not_active",
         inputs={"app": "slack"}, check=_assigned("jane.lee", "slack", False, changes=0)),
    Case("which app is asked, then granted", "app-access", "enterprise-app-agent", "john.miller", "i need access please", "resolved",
         answers={"app": "confluence"}, approve=True, check=_assigned("john.miller", "confluence", True, changes=1)),
    Case("an app Okta does not manage goes to a person", "app-access", "enterprise-app-agent", "ana.silva", "give me access to oracle", "escalated",
         inputs={"app": "oracle"}, error_code="app_not_found"),
    Case("a retired app is not assigned", "app-access", "enterprise-app-agent", "ana.silva", "access to gitlab please", "escalated",
         inputs={"app": "gitlab"}, error_code="app_inactive"),
    Case("an app out of licences: the assignment is undone", "app-access", "enterprise-app-agent", "ana.silva", "please give me figma", "escalated",
         inputs={"app": "figma"}, approve=True, prepare=_fill_figma, error_code="provisioning_failed", check=_assigned("ana.silva", "figma", False, changes=2)),
    Case("the manager rejects", "app-access", "access-manager", "ana.silva", "access to github", "escalated", inputs={"app": "github"}, approve=False,
         error_code="approval_rejected", check=_assigned("ana.silva", "github", False, changes=0)),
    Case("a suspended user gets nothing", "app-access", "enterprise-app-agent", "lisa.wong", "need github", "escalated", inputs={"app": "github"},
         error_code="user_not_active", check=_assigned("lisa.wong", "github", False, changes=0)),
    Case("stale tableau access is revoked after approval", "access-review", "enterprise-app-agent", "ana.silva", "quarterly access review for tableau", "resolved",
         inputs={"app": "tableau"}, approve=True, check=_reviewed("tableau", revoked=True)),
    Case("which app to review is asked", "access-review", "enterprise-app-agent", "ana.silva", "quarterly access review please", "resolved",
         answers={"app": "jira"}, approve=True, check=_reviewed("jira", revoked=True)),
    Case("the manager rejects the revocations", "access-review", "enterprise-app-agent", "ana.silva", "access review for docusign", "escalated",
         inputs={"app": "docusign"}, approve=False, error_code="approval_rejected", check=_reviewed("docusign", revoked=False)),
    Case("an unknown app cannot be reviewed", "access-review", "enterprise-app-agent", "ana.silva", "who has access to the old crm", "escalated",
         inputs={"app": "mainframe"}, error_code="app_not_found"),
)
