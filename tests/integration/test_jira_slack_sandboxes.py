"""The Jira and Slack sandboxes answer as the real APIs do: Jira's keys, field errors, links and
permissions; Slack's ``ok: false`` errors for a channel a bot may not post in; both refuse a token
without the scope, and neither acts twice on one idempotency key."""

from __future__ import annotations

import asyncpg
import pytest

from services.skills.connectors.jira import JiraError, Query
from services.skills.connectors.slack import SlackError, user_id
from deploy.sandbox import tokens
from deploy.sandbox.jira import JiraSandbox
from deploy.sandbox.slack import SlackSandbox

JIRA_SCOPES = ["issues.read", "issues.create", "issues.link", "issues.comment"]


@pytest.fixture
async def conn(simulator) -> asyncpg.Connection:  # noqa: ANN001
    """A connection to the simulator's own database (seeded with 120 people), to call the Jira and
    Slack sandboxes' state logic directly."""
    async with simulator.database.pool.acquire() as connection:
        yield connection


async def jira(conn: asyncpg.Connection, scopes: list[str] = JIRA_SCOPES) -> JiraSandbox:
    return JiraSandbox(conn, await tokens.issue(conn, "jira", "jordan", 1, scopes))


async def slack(conn: asyncpg.Connection, scopes: tuple[str, ...] = ("channels.read", "usergroups.read", "chat.write"), *, coworker: str = "jordan") -> SlackSandbox:
    return SlackSandbox(conn, await tokens.issue(conn, "slack", coworker, 1, list(scopes)))


def incident(key: str, **changes: object) -> dict:
    return {"project": "INC", "issue_type": "Incident", "summary": "VPN down", "description": "since 9am", "priority": "High", "labels": ["vpn"], "idempotency_key": key, "ticket_id": "T-1"} | changes


async def test_an_issue_gets_the_projects_next_key_once_per_idempotency_key(conn: asyncpg.Connection) -> None:
    j = await jira(conn)
    first = await j.create_issue(**incident("k1"))
    assert (first.key, first.status, first.status_category, first.reporter) == ("INC-13", "Open", "new", "jordan")
    assert await j.create_issue(**incident("k1")) == first
    assert (await j.create_issue(**incident("k2"))).key == "INC-14"
    assert [i.key for i in await j.search(Query(project="INC", labels=("vpn",), open_only=True))] == ["INC-14", "INC-13", "INC-9", "INC-6"]


async def test_bad_input_is_refused_with_every_field_error_as_jira_reports_them(conn: asyncpg.Connection) -> None:
    j = await jira(conn)
    with pytest.raises(JiraError) as bad:
        await j.create_issue(**incident("k", summary=" ", priority="Urgent", labels=["two words"]))
    assert bad.value.status == 400 and set(bad.value.body["errors"]) == {"summary", "priority", "labels"}
    assert bad.value.body["errors"]["summary"] == "You must specify a summary of the issue."
    with pytest.raises(JiraError, match="issuetype"):
        await j.create_issue(**incident("k", project="PUR"))
    with pytest.raises(JiraError, match="does not exist for the field 'project'"):
        await j.search(Query(project="NOPE"))
    with pytest.raises(JiraError) as missing:
        await j.get_issue("INC-999")
    assert missing.value.status == 404 and missing.value.body["errorMessages"] == ["Issue does not exist or you do not have permission to see it."]


async def test_links_read_from_both_sides_and_are_not_made_twice(conn: asyncpg.Connection) -> None:
    j = await jira(conn)
    assert [(link.label, link.key) for link in (await j.get_issue("INC-10")).links] == [("is caused by", "IT-3")]
    assert [(link.label, link.key) for link in (await j.get_issue("IT-3")).links] == [("causes", "INC-10")]
    made = await j.create_issue(**incident("k"))
    for _ in range(2):
        await j.link_issues("Relates", inward=made.key, outward="INC-6")
    assert [(link.label, link.key) for link in (await j.get_issue(made.key)).links] == [("relates to", "INC-6")]
    with pytest.raises(JiraError) as unknown:
        await j.link_issues("Causes", inward=made.key, outward="INC-6")
    assert unknown.value.status == 404


async def test_a_comment_is_added_once_per_key_and_jira_refuses_a_token_without_the_scope(conn: asyncpg.Connection) -> None:
    j = await jira(conn)
    first = await j.add_comment("INC-6", "still down", idempotency_key="c1")
    assert await j.add_comment("INC-6", "still down", idempotency_key="c1") == first
    assert await conn.fetchval("SELECT count(*) FROM jira_comments") == 1
    reader = await jira(conn, ["issues.read"])
    with pytest.raises(JiraError) as refused:
        await reader.create_issue(**incident("k9"))
    assert refused.value.status == 403
    token = await tokens.issue(conn, "jira", "jordan", 2, JIRA_SCOPES)
    await tokens.revoke(conn, "jordan", system="jira")
    with pytest.raises(JiraError) as revoked:
        await JiraSandbox(conn, token).get_issue("INC-6")
    assert (revoked.value.status, revoked.value.messages) == (401, ["Client must be authenticated to access this resource."])


async def test_the_on_call_engineer_is_whoever_the_channels_rotation_holds(conn: asyncpg.Connection) -> None:
    s = await slack(conn)
    found = await s.oncall("#it-incidents")
    assert (found.handle, found.mention) == ("it-oncall", "<!subteam^S01ITONCALL|@it-oncall>")
    it_people = await conn.fetch("SELECT name FROM slack_users u JOIN slack_channel_members m ON m.user_id = u.id WHERE m.channel_id = $1 AND NOT u.is_bot", found.channel_id)
    assert len(found.members) == 1 and found.members[0].name in {r["name"] for r in it_people}
    assert (await s.oncall("general")).members == ()  # no rotation is paged in #general


async def test_a_message_is_posted_once_per_key_where_the_bot_was_invited(conn: asyncpg.Connection) -> None:
    s = await slack(conn)
    first = await s.post_message("it-incidents", "INC-13 is open", idempotency_key="m1")
    assert await s.post_message("it-incidents", "INC-13 is open", idempotency_key="m1") == first
    assert await conn.fetchval("SELECT user_id FROM slack_messages") == user_id("jordan", bot=True)
    for channel, error in [("general", "not_in_channel"), ("it-changes", "is_archived"), ("no-such-channel", "channel_not_found")]:
        with pytest.raises(SlackError) as refused:
            await s.post_message(channel, "hello", idempotency_key=f"m-{channel}")
        assert refused.value.code == error
    with pytest.raises(SlackError, match="no_text"):
        await s.post_message("it-incidents", "  ", idempotency_key="m-empty")
    assert await conn.fetchval("SELECT count(*) FROM slack_messages") == 1


async def test_slack_refuses_a_bot_without_the_scope_and_hides_private_channels_it_is_not_in(conn: asyncpg.Connection) -> None:
    reader = await slack(conn, ("channels.read", "usergroups.read"))
    with pytest.raises(SlackError) as missing:
        await reader.post_message("it-incidents", "hi", idempotency_key="m")
    assert missing.value.body == {"ok": False, "error": "missing_scope", "needed": "chat:write", "provided": "channels:read,usergroups:read"}
    stranger = await slack(conn, coworker="atom")
    with pytest.raises(SlackError, match="channel_not_found"):
        await stranger.oncall("it-oncall")  # private, and atom's bot was never invited
    with pytest.raises(SlackError) as bad:
        await SlackSandbox(conn, "xoxb-not-a-token").post_message("it-incidents", "hi", idempotency_key="m")
    assert (bad.value.code, bad.value.status) == ("invalid_auth", 401)
