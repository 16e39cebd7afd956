"""Slack's Web API, as much of it as the Slack connector uses, over the Slack state logic
(``deploy/sandbox/slack.py``), one transaction per call.

Methods live at ``/api/<method>`` (the base URL stands for ``https://slack.com``), take their
arguments as a query string, a form body or (for writes) a JSON body, and the bot token as
``Authorization: Bearer xoxb-...`` (or a ``token`` argument). Every answer is HTTP 200 with
``{"ok": true, ...}`` or ``{"ok": false, "error": "channel_not_found"}``; only a rate limit is an HTTP
status (429 with ``Retry-After``, from the simulator's fault hook). Lists page by ``cursor`` and
``response_metadata.next_cursor`` (empty on the last page).

``auth.test``, ``conversations.list``, ``conversations.members``, ``conversations.history`` (with
message ``metadata`` when ``include_all_metadata`` is true), ``usergroups.list``,
``usergroups.users.list``, ``users.info``, ``chat.postMessage`` (with ``metadata``). Slack takes no
idempotency key, so neither does this: each post hands the state logic a fresh key and posts.

Simpler than Slack, on purpose: ``channels:read`` lists the private channels the bot is in (Slack
wants ``groups:read`` for those), and team, app and bot ids are fixed.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from deploy.sandbox.api import ticket_of
from deploy.sandbox import slack as state_logic
from deploy.sandbox.slack import SlackSandbox
from services.skills.connectors.slack import SlackError

TEAM = "T01ACMEWORK"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Args = dict[str, Any]


def _ok(**body: Any) -> web.Response:
    return web.json_response({"ok": True, **body})


def _cursor(offset: int) -> str:
    return base64.b64encode(f"next:{offset}".encode()).decode()


def _offset(args: Args) -> int:
    cursor = str(args.get("cursor") or "")
    if not cursor:
        return 0
    try:
        head, _, value = base64.b64decode(cursor, validate=True).decode().partition(":")
        if head == "next" and value.isdigit():
            return int(value)
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise SlackError("invalid_cursor")


def _limit(args: Args, default: int, most: int) -> int:
    try:
        value = int(args.get("limit") or default)
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments") from None
    return max(1, min(value, most))


def _true(args: Args, name: str) -> bool:
    return str(args.get(name, "")).lower() in ("1", "true", "yes")


def _page(items: list[Any], limit: int, offset: int) -> tuple[list[Any], dict[str, str]]:
    """The state logic is asked for one item more than a page: its presence says a next page exists."""
    return items[:limit], {"next_cursor": _cursor(offset + limit) if len(items) > limit else ""}


def _required(args: Args, name: str) -> str:
    value = args.get(name)
    if not value:
        raise SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] missing required field: {name}"]})
    return str(value)


def channel_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"], "name": row["name"], "is_channel": True, "is_group": False, "is_im": False, "is_private": row["is_private"],
        "is_archived": row["is_archived"], "is_general": row["name"] == "general", "is_member": row["member"], "is_shared": False,
        "is_ext_shared": False, "is_org_shared": False, "created": 1449252889, "creator": "U01ADMIN000", "name_normalized": row["name"],
        "topic": {"value": row["topic"], "creator": "", "last_set": 0}, "purpose": {"value": row["purpose"], "creator": "", "last_set": 0},
        "num_members": row["members"],
    }


def usergroup_json(row: Any, *, users: bool) -> dict[str, Any]:
    group = {
        "id": row["id"], "team_id": TEAM, "is_usergroup": True, "is_subteam": True, "name": row["name"], "description": row["description"],
        "handle": row["handle"], "is_external": False, "date_create": 1446746793, "date_update": 1446747568, "date_delete": 0,
        "auto_type": None, "created_by": "U01ADMIN000", "updated_by": "U01ADMIN000", "deleted_by": None,
        "prefs": {"channels": list(row["channels"]), "groups": []}, "user_count": len(row["users"]),
    }
    if users:
        group["users"] = list(row["users"])
    return group


def user_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"], "team_id": TEAM, "name": row["name"], "deleted": row["deleted"], "real_name": row["real_name"], "tz": "America/Chicago",
        "is_bot": row["is_bot"], "is_admin": False, "is_owner": False, "is_app_user": False, "updated": 1502138686,
        "profile": {"real_name": row["real_name"], "display_name": row["name"], "real_name_normalized": row["real_name"], "display_name_normalized": row["name"], "team": TEAM},
    }


def message_json(row: Any, *, metadata: bool) -> dict[str, Any]:
    message = {"type": "message", "user": row["user_id"], "text": row["text"], "ts": row["ts"], "team": TEAM}
    if metadata and row["metadata"] is not None:
        message["metadata"] = json.loads(row["metadata"]) if isinstance(row["metadata"], str) else row["metadata"]
    return message


def _metadata(value: Any) -> dict[str, Any] | None:
    """``metadata`` as Slack takes it: an object, or a JSON string of one (form bodies)."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise SlackError("invalid_metadata_format") from None
    if not isinstance(value, dict) or not isinstance(value.get("event_type"), str) or not isinstance(value.get("event_payload"), dict):
        raise SlackError("invalid_metadata_schema")
    return {"event_type": value["event_type"], "event_payload": value["event_payload"]}


def create_app(state: Any) -> web.Application:
    """Slack's Web API over ``state`` (a ``SandboxState``)."""

    async def arguments(request: web.Request) -> tuple[Args, str | None]:
        args: Args = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise SlackError("invalid_json") from None
                if not isinstance(body, dict):
                    raise SlackError("invalid_json")
                args |= body
            else:
                args |= dict(await request.post())
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
        token = token or (str(args.pop("token")) if args.get("token") else None)
        if not token:
            raise SlackError("not_authed")
        return args, token

    def method(run: Callable[[SlackSandbox, Args], Awaitable[web.Response]]) -> Handler:
        async def handle(request: web.Request) -> web.Response:
            try:
                args, token = await arguments(request)
                args["_ticket"] = ticket_of(request)
                async with state.session(SlackSandbox, token) as slack:
                    return await run(slack, args)
            except SlackError as exc:
                return web.json_response(exc.body)  # Slack answers an error with HTTP 200

        return handle

    async def auth_test(slack: SlackSandbox, args: Args) -> web.Response:
        caller = await slack.caller()
        bot = await state_logic.bot_user(slack.conn, caller)
        return _ok(url="https://acme.slack.com/", team="Acme", user=f"{caller.coworker}-bot", team_id=TEAM, user_id=bot, bot_id="B" + bot[1:], is_enterprise_install=False)

    async def conversations_list(slack: SlackSandbox, args: Args) -> web.Response:
        types = {t.strip() for t in str(args.get("types") or "public_channel").split(",")}
        limit, offset = _limit(args, 100, 1000), _offset(args)
        rows = await state_logic.channels(slack.conn, await slack.caller(), private="private_channel" in types, exclude_archived=_true(args, "exclude_archived"), offset=offset, limit=limit + 1)
        if "public_channel" not in types:
            rows = [r for r in rows if r["is_private"]]
        page, meta = _page(rows, limit, offset)
        return _ok(channels=[channel_json(r) for r in page], response_metadata=meta)

    async def conversations_members(slack: SlackSandbox, args: Args) -> web.Response:
        limit, offset = _limit(args, 100, 1000), _offset(args)
        ids = await state_logic.channel_members(slack.conn, await slack.caller(), _required(args, "channel"), offset=offset, limit=limit + 1)
        page, meta = _page(ids, limit, offset)
        return _ok(members=page, response_metadata=meta)

    async def conversations_history(slack: SlackSandbox, args: Args) -> web.Response:
        limit, offset = _limit(args, 100, 999), _offset(args)
        rows = await state_logic.history(slack.conn, await slack.caller(), _required(args, "channel"), oldest=args.get("oldest") or None, latest=args.get("latest") or None, offset=offset, limit=limit + 1)
        page, meta = _page(rows, limit, offset)
        messages = [message_json(r, metadata=_true(args, "include_all_metadata")) for r in page]
        return _ok(messages=messages, has_more=len(rows) > limit, pin_count=0, channel_actions_ts=None, channel_actions_count=0, response_metadata=meta)

    async def usergroups_list(slack: SlackSandbox, args: Args) -> web.Response:
        rows = await state_logic.usergroups(slack.conn, await slack.caller())
        return _ok(usergroups=[usergroup_json(r, users=_true(args, "include_users")) for r in rows])

    async def usergroups_users_list(slack: SlackSandbox, args: Args) -> web.Response:
        wanted = _required(args, "usergroup")
        group = next((r for r in await state_logic.usergroups(slack.conn, await slack.caller()) if r["id"] == wanted), None)
        if group is None:
            raise SlackError("no_such_subteam")
        return _ok(users=list(group["users"]))

    async def users_info(slack: SlackSandbox, args: Args) -> web.Response:
        return _ok(user=user_json(await state_logic.user(slack.conn, await slack.caller(), _required(args, "user"))))

    async def post_message(slack: SlackSandbox, args: Args) -> web.Response:
        channel = _required(args, "channel")
        metadata = _metadata(args.get("metadata"))
        posted = await state_logic.post_message(slack.conn, await slack.caller(), channel, str(args.get("text") or ""), idempotency_key=uuid.uuid4().hex, ticket_id=args.get("_ticket") or None, metadata=metadata)
        bot = await state_logic.bot_user(slack.conn, await slack.caller())
        message: dict[str, Any] = {"type": "message", "subtype": "bot_message", "text": posted.text, "ts": posted.ts, "user": bot, "bot_id": "B" + bot[1:], "team": TEAM}
        if metadata:
            message["metadata"] = metadata
        return _ok(channel=posted.channel_id, ts=posted.ts, message=message)

    app = web.Application()
    for name, run in {
        "auth.test": auth_test, "conversations.list": conversations_list, "conversations.members": conversations_members,
        "conversations.history": conversations_history, "usergroups.list": usergroups_list, "usergroups.users.list": usergroups_users_list,
        "users.info": users_info, "chat.postMessage": post_message,
    }.items():
        handler = method(run)
        app.router.add_get(f"/api/{name}", handler)
        app.router.add_post(f"/api/{name}", handler)

    async def unknown(request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error": "unknown_method", "req_method": request.match_info["name"]})

    app.router.add_route("*", "/api/{name}", unknown)
    return app
