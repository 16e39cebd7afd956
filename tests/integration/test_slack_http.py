"""The Slack client against the Slack simulator over real HTTP: who is on call for a channel, a post
where the bot was invited, Slack's ``ok: false`` errors (a bad token, a missing scope, a channel
the bot may not post in) as HTTP 200s, a 429 as a transient error with its ``Retry-After``, and a
post repeated under one idempotency key posting once although Slack, real or simulated, takes no
key: the client finds its earlier message by its metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from runtime.vendor.errors import ApiError
from services.skills.connectors.slack import SlackError, user_id
from services.skills.connectors.slack_http import EVENT_TYPE, SlackHttp

SCOPES = ["channels.read", "usergroups.read", "users.read", "channels.history", "chat.write"]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def slack(simulator, client: httpx.AsyncClient, scopes: list[str] = SCOPES, *, coworker: str = "jordan") -> SlackHttp:  # noqa: ANN001
    return SlackHttp(simulator.urls()["slack"], await simulator.token("slack", coworker, scopes), client)


async def test_the_on_call_engineer_is_whoever_the_channels_rotation_holds(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    s = await slack(simulator, client)
    found = await s.oncall("#it-incidents")
    assert (found.channel_id, found.channel, found.handle, found.mention) == ("C01ITINCID0", "it-incidents", "it-oncall", "<!subteam^S01ITONCALL|@it-oncall>")
    on_call = await simulator.database.pool.fetchval("SELECT users[1] FROM slack_usergroups WHERE handle = 'it-oncall'")
    name, real_name = await simulator.database.pool.fetchrow("SELECT name, real_name FROM slack_users WHERE id = $1", on_call)
    assert [(m.id, m.name, m.real_name) for m in found.members] == [(on_call, name, real_name)]
    assert await s.oncall("C01ITINCID0") == found
    quiet = await s.oncall("general")
    assert (quiet.group_id, quiet.members, quiet.mention) == (None, (), "")


async def test_a_post_repeated_under_one_key_posts_once(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    s = await slack(simulator, client)
    first = await s.post_message("C01ITINCID0", "INC-13 is open", idempotency_key="t1:incident-triage:5")
    again = await s.post_message("it-incidents", "INC-13 is open", idempotency_key="t1:incident-triage:5")
    other = await s.post_message("C01ITINCID0", "INC-14 is open", idempotency_key="t2:incident-triage:5")
    assert first == again and first.channel_id == "C01ITINCID0" and first.text == "INC-13 is open" and other.ts != first.ts
    rows = await simulator.database.pool.fetch("SELECT text, user_id, metadata::text FROM slack_messages ORDER BY ts")
    assert [(r["text"], r["user_id"]) for r in rows] == [("INC-13 is open", user_id("jordan", bot=True)), ("INC-14 is open", user_id("jordan", bot=True))]
    assert EVENT_TYPE in rows[0]["metadata"] and "t1:incident-triage:5" in rows[0]["metadata"]


async def test_the_simulator_itself_takes_no_idempotency_key_and_shows_metadata_only_when_asked(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    s = await slack(simulator, client)
    for _ in range(2):
        await s.api("chat.postMessage", channel="C01ITINCID0", text="same words", metadata={"event_type": "x", "event_payload": {"k": "1"}})
    plain = await s.api("conversations.history", channel="C01ITINCID0")
    marked = await s.api("conversations.history", channel="C01ITINCID0", include_all_metadata=True)
    assert [m["text"] for m in plain["messages"]] == ["same words", "same words"] and "metadata" not in plain["messages"][0]
    assert marked["messages"][0]["metadata"] == {"event_type": "x", "event_payload": {"k": "1"}}


async def test_slack_says_no_with_http_200_and_its_error_string(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    s = await slack(simulator, client)
    for channel, error in [("C01GENERAL0", "not_in_channel"), ("C01ITCHANG0", "is_archived"), ("no-such-channel", "channel_not_found")]:
        with pytest.raises(SlackError) as refused:
            await s.post_message(channel, "hello", idempotency_key=f"m-{channel}")
        assert (refused.value.code, refused.value.transient) == (error, False)
    with pytest.raises(SlackError, match="no_text"):
        await s.post_message("C01ITINCID0", "  ", idempotency_key="empty")
    raw = await client.post(f"{s.base}/api/chat.postMessage", json={"channel": "C01GENERAL0", "text": "hi"}, headers=s.auth_headers())
    assert (raw.status_code, raw.json()) == (200, {"ok": False, "error": "not_in_channel"})
    stranger = await slack(simulator, client, coworker="atom")
    with pytest.raises(SlackError, match="channel_not_found"):
        await stranger.oncall("it-oncall")  # private, and atom's bot was never invited
    assert await simulator.database.pool.fetchval("SELECT count(*) FROM slack_messages") == 0


async def test_a_bad_token_a_revoked_one_and_a_missing_scope(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    with pytest.raises(SlackError) as bad:
        await SlackHttp(simulator.urls()["slack"], "xoxb-not-a-token", client).oncall("it-incidents")
    assert (bad.value.code, bad.value.status, bad.value.transient) == ("invalid_auth", 401, False)
    with pytest.raises(SlackError) as none:
        await SlackHttp(simulator.urls()["slack"], None, client).oncall("it-incidents")
    assert (none.value.code, none.value.status) == ("not_authed", 401)
    cannot_write = await slack(simulator, client, ["channels.read", "usergroups.read", "users.read", "channels.history"])
    with pytest.raises(SlackError) as missing:
        await cannot_write.post_message("C01ITINCID0", "hi", idempotency_key="m")
    assert (missing.value.status, missing.value.code) == (403, "missing_scope") and missing.value.extra["needed"] == "chat:write"
    cannot_read_back = await slack(simulator, client, ["channels.read", "chat.write"])
    with pytest.raises(SlackError) as blind:
        await cannot_read_back.post_message("C01ITINCID0", "hi", idempotency_key="m")
    assert blind.value.extra["needed"] == "channels:history", "a post it could not find again is not made"
    token = await simulator.token("slack", "jordan", SCOPES, version=2)
    async with simulator.admin as admin:
        (await admin.post("/tokens/revoke", json={"coworker": "jordan", "system": "slack", "version": 2})).raise_for_status()
    with pytest.raises(SlackError) as revoked:
        await SlackHttp(simulator.urls()["slack"], token, client).post_message("C01ITINCID0", "hi", idempotency_key="m")
    assert (revoked.value.code, revoked.value.status) == ("invalid_auth", 401)
    assert await simulator.database.pool.fetchval("SELECT count(*) FROM slack_messages") == 0


async def test_a_429_arrives_as_a_transient_error_with_slacks_retry_after(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    s = await slack(simulator, client)
    await simulator.hook("faults", system="slack", status=429, retry_after=30, path="chat.postMessage")
    with pytest.raises(ApiError) as limited:
        await s.post_message("C01ITINCID0", "paging", idempotency_key="rl")
    assert (limited.value.status, limited.value.code, limited.value.transient) == (429, "ratelimited", True) and limited.value.retry_after == pytest.approx(30)
    await s.post_message("C01ITINCID0", "paging", idempotency_key="rl")
    assert await simulator.database.pool.fetchval("SELECT count(*) FROM slack_messages") == 1


async def test_lists_page_by_cursor(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    s = await slack(simulator, client)
    first = await s.api("conversations.list", types="public_channel,private_channel", limit=2)
    assert len(first["channels"]) == 2 and first["response_metadata"]["next_cursor"]
    every = await s.pages("conversations.list", "channels", types="public_channel,private_channel", limit=2)
    assert [c["name"] for c in every] == ["general", "it-changes", "it-help", "it-incidents", "it-oncall"]
    members = await s.pages("conversations.members", "members", channel="C01ITINCID0", limit=3)
    assert set(members) == {r["user_id"] for r in await simulator.database.pool.fetch("SELECT user_id FROM slack_channel_members WHERE channel_id = 'C01ITINCID0'")}
    assert (await s.api("usergroups.users.list", usergroup="S01ITONCALL"))["users"] == [m.id for m in (await s.oncall("it-incidents")).members]
