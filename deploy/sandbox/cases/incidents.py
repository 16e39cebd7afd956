"""The sandbox cases of ``services/skills/incidents.py``."""

from __future__ import annotations

import asyncpg

from contracts.envelope import Envelope
from deploy.sandbox.cases.workbench import Case, Check
from services.skills.connectors.slack import user_id
from services.skills.incidents import CHANNEL


def incident(*, priority: str | None = None, label: str = "", links: list[str] | None = None, comments: int = 0, paged: bool = True) -> Check:
    """The one incident the case made (INC-13: the seed has twelve), its links and comments, and the page."""

    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        made = await conn.fetch("SELECT key, priority, labels FROM jira_issues WHERE project_key = 'INC' AND ticket_id IS NOT NULL")
        assert [r["key"] for r in made] == ["INC-13"], f"expected one new incident INC-13, found {[r['key'] for r in made]}"
        if priority is not None:
            assert made[0]["priority"] == priority, f"INC-13 has priority {made[0]['priority']}, expected {priority}"
        assert label in made[0]["labels"], f"INC-13 is labelled {made[0]['labels']}, expected {label!r}"
        linked = [r["outward_key"] for r in await conn.fetch("SELECT outward_key FROM jira_issue_links WHERE inward_key = 'INC-13' ORDER BY outward_key")]
        assert linked == sorted(links or []), f"INC-13 relates to {linked}, expected {sorted(links or [])}"
        said = [r["body"] for r in await conn.fetch("SELECT body FROM jira_comments WHERE issue_key = 'INC-13'")]
        assert len(said) == comments and all("stopped before paging" in b for b in said), f"INC-13 comments: {said}"
        posts = await conn.fetch("SELECT m.text FROM slack_messages m JOIN slack_channels c ON c.id = m.channel_id WHERE c.name = $1", CHANNEL)
        if paged:
            assert len(posts) == 1 and "INC-13" in posts[0]["text"] and "<!subteam^" in posts[0]["text"], f"#{CHANNEL} got {[p['text'] for p in posts]}"
        else:
            assert not posts, f"#{CHANNEL} was posted to: {[p['text'] for p in posts]}"

    return check


async def _nothing_recorded(conn: asyncpg.Connection, events: list[Envelope]) -> None:
    assert not await conn.fetchval("SELECT count(*) FROM jira_issues WHERE ticket_id IS NOT NULL"), "an issue was created"


def _sql(statement: str):  # noqa: ANN202
    return lambda conn: conn.execute(statement)


CASES = (
    Case("vpn outage linked to the open vpn incidents, on-call paged", "incident-triage", "jordan", "ana.silva", "VPN is down for everyone in the office, nobody can connect", "resolved",
         inputs={"service": "vpn"}, check=incident(priority="Highest", label="vpn", links=["INC-6", "INC-9"])),
    Case("wifi degraded for a team: nothing open to link", "incident-triage", "jordan", "john.miller", "wifi keeps dropping on floor 4 for our team", "resolved",
         inputs={"service": "wifi"}, check=incident(priority="Medium", label="wifi", links=[])),
    Case("which service? asked, then recorded", "incident-triage", "jordan", "priya.sharma", "everything is down since 9am, nobody can work", "resolved",
         answers={"service": "the VPN I think"}, check=incident(priority="Highest", label="vpn", links=["INC-6", "INC-9"])),
    Case("bot removed from the channel: incident kept and commented", "incident-triage", "jordan", "james.martinez", "email outage, nobody can send mail", "escalated",
         inputs={"service": "email"}, error_code="notify_failed", check=incident(label="email", links=["INC-8"], comments=1, paged=False),
         prepare=_sql(f"DELETE FROM slack_channel_members WHERE user_id = '{user_id('jordan', bot=True)}' AND channel_id = (SELECT id FROM slack_channels WHERE name = '{CHANNEL}')")),
    Case("nobody on call: incident kept and commented", "incident-triage", "jordan", "sarah.williams", "sap is not reachable for the whole finance team", "escalated",
         inputs={"service": "sap"}, error_code="no_oncall", check=incident(label="sap", links=["INC-5"], comments=1, paged=False),
         prepare=_sql("UPDATE slack_usergroups SET users = '{}' WHERE handle = 'it-oncall'")),
    Case("Jira refuses linking without issues.link: incident kept and commented", "incident-triage", "jordan", "reyansh.rao", "vpn is very slow for several colleagues", "escalated",
         inputs={"service": "vpn"}, error_code="scope_refused", check=incident(label="vpn", links=[], comments=1, paged=False),
         prepare=_sql("UPDATE sandbox_api_tokens SET scopes = array_remove(scopes, 'issues.link') WHERE coworker = 'jordan' AND system = 'jira'")),
    Case("a revoked Jira token records nothing", "incident-triage", "jordan", "diya.bose", "salesforce is down for all users", "escalated",
         inputs={"service": "salesforce"}, error_code="credential_refused", check=_nothing_recorded,
         prepare=_sql("UPDATE sandbox_api_tokens SET revoked_at = now() WHERE coworker = 'jordan' AND system = 'jira'")),
)
