"""The sandbox cases of ``services/skills/purchases.py``."""

from __future__ import annotations

import asyncpg

from contracts.envelope import Envelope
from deploy.sandbox.cases.workbench import Case, Check


def purchases(*expected: tuple[str, str]) -> Check:
    """The purchase issues the case created: (summary, status) each."""

    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        made = [(r["summary"], r["status"]) for r in await conn.fetch("SELECT summary, status FROM jira_issues WHERE project_key = 'PUR' AND ticket_id IS NOT NULL ORDER BY key")]
        assert made == list(expected), f"purchase issues created: {made}; expected {list(expected)}"

    return check


def _sql(statement: str):  # noqa: ANN202
    return lambda conn: conn.execute(statement)


CASES = (
    Case("two monitors logged for approval", "purchase-request", "atom", "ana.silva", "need to buy two monitors for my desk", "resolved", inputs={"item": "monitor"},
         check=purchases(("Purchase: 2 x monitor for ana.silva", "Waiting for approval"))),
    Case("an open request is not logged twice", "purchase-request", "atom", "sarah.williams", "please order a monitor for me", "resolved", inputs={"item": "monitor"}, check=purchases()),
    Case("what to buy? asked, then logged", "purchase-request", "atom", "john.miller", "please raise a purchase order for me", "resolved", answers={"item": "a docking station"},
         check=purchases(("Purchase: 1 x docking-station for john.miller", "Waiting for approval"))),
    Case("Jira refuses: the project no longer takes purchases", "purchase-request", "atom", "priya.sharma", "renew our subscription for the design tool", "escalated", inputs={"item": "subscription"},
         error_code="jira_rejected", check=purchases(), prepare=_sql("UPDATE jira_projects SET issue_types = '{Task}' WHERE key = 'PUR'")),
    Case("a revoked Jira token", "purchase-request", "atom", "james.garcia", "need to buy a headset", "escalated", inputs={"item": "headset"}, error_code="credential_refused",
         check=purchases(), prepare=_sql("UPDATE sandbox_api_tokens SET revoked_at = now() WHERE coworker = 'atom' AND system = 'jira'")),
)
