"""A Slack-like workspace in PostgreSQL: people and the coworkers' bot users, channels and their
members, user groups (on-call rotations: a group's default channels are where it is on call), and
the messages posted, with ``chat.postMessage``'s semantics: a bot posts only where it was invited
(``not_in_channel``), never to an archived channel (``is_archived``), and a private channel it is
not in does not exist for it (``channel_not_found``).

Every call carries the calling coworker's own bot token; the sandbox refuses a revoked one
(``invalid_auth``) or a scope it does not carry (``missing_scope``). The same idempotency key never
posts twice (the HTTP API, like Slack, takes no key: it passes a fresh one per post).
"""

from __future__ import annotations

import json
import time
from typing import Any

import asyncpg

from services.skills.connectors.slack import MAX_TEXT, Member, OnCall, Posted, SlackError, user_id
from deploy.sandbox import tokens
from deploy.sandbox.tokens import Caller, SandboxConnector

SYSTEM = "slack"


async def authenticate(conn: asyncpg.Connection, token: str | None) -> Caller:
    caller = await tokens.authenticate(conn, SYSTEM, token)
    if caller is None:
        raise SlackError("invalid_auth")
    return caller


def _require(caller: Caller, scope: str, provided: frozenset[str]) -> None:
    if not caller.may(scope):
        # Slack names scopes with a colon (chat:write); manifests cannot, so ours use a dot.
        raise SlackError("missing_scope", needed=scope.replace(".", ":"), provided=",".join(sorted(s.replace(".", ":") for s in provided)))


async def _bot(conn: asyncpg.Connection, caller: Caller) -> str:
    """The coworker's bot user, there since the app was installed for it (the token exists)."""
    bot = user_id(caller.coworker, bot=True)
    await conn.execute("INSERT INTO slack_users (id, name, real_name, is_bot) VALUES ($1, $2, $3, true) ON CONFLICT DO NOTHING", bot, f"{caller.coworker}-bot", caller.coworker.title())
    return bot


async def _channel(conn: asyncpg.Connection, channel: str, bot: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT c.id, c.name, c.is_private, c.is_archived, m.user_id IS NOT NULL AS member FROM slack_channels c"
        " LEFT JOIN slack_channel_members m ON m.channel_id = c.id AND m.user_id = $2 WHERE c.id = $1 OR c.name = lower(ltrim($1, '#'))",
        channel,
        bot,
    )
    if row is None or (row["is_private"] and not row["member"]):
        raise SlackError("channel_not_found")
    return row


async def oncall(conn: asyncpg.Connection, caller: Caller, channel: str) -> OnCall:
    """``channel`` and who is on call for it (``conversations.list`` + ``usergroups.list``)."""
    _require(caller, "channels.read", caller.scopes)
    _require(caller, "usergroups.read", caller.scopes)
    found = await _channel(conn, channel, await _bot(conn, caller))
    group = await conn.fetchrow("SELECT id, handle, users FROM slack_usergroups WHERE $1 = ANY(channels) ORDER BY handle LIMIT 1", found["id"])
    if group is None:
        return OnCall(found["id"], found["name"], None, None, ())
    people = await conn.fetch("SELECT id, name, real_name FROM slack_users WHERE id = ANY($1::text[]) AND NOT deleted ORDER BY name", group["users"])
    return OnCall(found["id"], found["name"], group["id"], group["handle"], tuple(Member(**dict(p)) for p in people))


async def post_message(
    conn: asyncpg.Connection, caller: Caller, channel: str, text: str, *, idempotency_key: str, ticket_id: str | None = None, metadata: dict[str, Any] | None = None
) -> Posted:
    _require(caller, "chat.write", caller.scopes)
    earlier = await conn.fetchrow("SELECT channel_id, ts, text FROM slack_messages WHERE idempotency_key = $1", idempotency_key)
    if earlier is not None:
        return Posted(**dict(earlier))
    if not text.strip():
        raise SlackError("no_text")
    if len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    bot = await _bot(conn, caller)
    found = await _channel(conn, channel, bot)
    if found["is_archived"]:
        raise SlackError("is_archived")
    if not found["member"]:
        raise SlackError("not_in_channel")
    ts = f"{time.time():.6f}"
    while await conn.fetchval("SELECT true FROM slack_messages WHERE channel_id = $1 AND ts = $2", found["id"], ts):
        ts = f"{float(ts) + 0.000001:.6f}"
    await conn.execute(
        "INSERT INTO slack_messages (channel_id, ts, user_id, text, idempotency_key, posted_by, ticket_id, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)",
        found["id"],
        ts,
        bot,
        text,
        idempotency_key,
        caller.coworker,
        ticket_id,
        json.dumps(metadata) if metadata is not None else None,
    )
    return Posted(found["id"], ts, text)


# -- the Web API's reads ---------------------------------------------------------------------------


async def bot_user(conn: asyncpg.Connection, caller: Caller) -> str:
    """The caller's bot user id (``auth.test``'s ``user_id``)."""
    return await _bot(conn, caller)


async def channels(conn: asyncpg.Connection, caller: Caller, *, private: bool, exclude_archived: bool, offset: int, limit: int) -> list[asyncpg.Record]:
    """A page of the channels the bot can see (public ones, and private ones it is in), by name."""
    _require(caller, "channels.read", caller.scopes)
    bot = await _bot(conn, caller)
    return list(await conn.fetch(
        "SELECT c.id, c.name, c.is_private, c.is_archived, c.topic, c.purpose, m.user_id IS NOT NULL AS member,"
        " (SELECT count(*) FROM slack_channel_members x WHERE x.channel_id = c.id) AS members"
        " FROM slack_channels c LEFT JOIN slack_channel_members m ON m.channel_id = c.id AND m.user_id = $1"
        " WHERE (NOT c.is_private OR ($2 AND m.user_id IS NOT NULL)) AND NOT ($3 AND c.is_archived) ORDER BY c.name OFFSET $4 LIMIT $5",
        bot, private, exclude_archived, offset, limit,
    ))


async def channel_members(conn: asyncpg.Connection, caller: Caller, channel: str, *, offset: int, limit: int) -> list[str]:
    """A page of a channel's member ids (``conversations.members``)."""
    _require(caller, "channels.read", caller.scopes)
    found = await _channel(conn, channel, await _bot(conn, caller))
    return [r["user_id"] for r in await conn.fetch("SELECT user_id FROM slack_channel_members WHERE channel_id = $1 ORDER BY user_id OFFSET $2 LIMIT $3", found["id"], offset, limit)]


async def usergroups(conn: asyncpg.Connection, caller: Caller) -> list[asyncpg.Record]:
    """Every user group (id, handle, name, description, channels, users), by handle."""
    _require(caller, "usergroups.read", caller.scopes)
    return list(await conn.fetch("SELECT id, handle, name, description, channels, users FROM slack_usergroups ORDER BY handle"))


async def user(conn: asyncpg.Connection, caller: Caller, user_id: str) -> asyncpg.Record:
    """One user (``users.info``); ``user_not_found`` when there is none."""
    _require(caller, "users.read", caller.scopes)
    row = await conn.fetchrow("SELECT id, name, real_name, is_bot, deleted FROM slack_users WHERE id = $1", user_id)
    if row is None:
        raise SlackError("user_not_found")
    return row


async def history(conn: asyncpg.Connection, caller: Caller, channel: str, *, oldest: str | None, latest: str | None, offset: int, limit: int) -> list[asyncpg.Record]:
    """A page of a channel's messages, newest first (``conversations.history``): a bot reads only
    where it is a member (``not_in_channel``), with the history scope of the channel's kind."""
    bot = await _bot(conn, caller)
    found = await _channel(conn, channel, bot)
    _require(caller, "groups.history" if found["is_private"] else "channels.history", caller.scopes)
    if not found["member"]:
        raise SlackError("not_in_channel")
    return list(await conn.fetch(
        "SELECT channel_id, ts, user_id, text, metadata FROM slack_messages WHERE channel_id = $1"
        " AND ($2::text IS NULL OR ts::numeric > $2::text::numeric) AND ($3::text IS NULL OR ts::numeric < $3::text::numeric)"
        " ORDER BY ts::numeric DESC OFFSET $4 LIMIT $5",
        found["id"], oldest, latest, offset, limit,
    ))


class SlackSandbox(SandboxConnector):
    """The Slack connector over the sandbox, in the step's transaction, as the coworker its token names."""

    authenticate = staticmethod(authenticate)

    async def oncall(self, channel: str) -> OnCall:
        return await oncall(self.conn, await self.caller(), channel)

    async def post_message(self, channel: str, text: str, *, idempotency_key: str) -> Posted:
        return await post_message(self.conn, await self.caller(), channel, text, idempotency_key=idempotency_key)
