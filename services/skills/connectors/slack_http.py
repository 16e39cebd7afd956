"""The Slack connector over Slack's Web API (``https://slack.com/api/<method>``), for the simulator
(``deploy/sandbox/api/slack.py``) and a customer's workspace alike: the base URL is
``https://slack.com`` (or the simulator's ``/slack``) and the credential the coworker's bot token,
sent as ``Authorization: Bearer xoxb-...`` and nowhere else.

It speaks ``conversations.list`` (to find a channel by name or id), ``usergroups.list`` with
``include_users`` (the rotation whose default channels include it) and ``users.info`` (who is in
it), ``conversations.history`` with ``include_all_metadata`` and ``chat.postMessage``; lists follow
``response_metadata.next_cursor``. Slack answers errors with HTTP 200 and ``{"ok": false, "error":
...}``: those become ``SlackError``s with Slack's error string; a 429 keeps its ``Retry-After`` as
``retry_after`` and, like 5xx and a transport failure, is transient.

Slack takes no idempotency key and posts every time it is asked, so a post is made safe to repeat
here: each message carries Slack message metadata (``event_type`` ``workforce_post``, the key in
``event_payload``), and before posting, the channel's recent history (``LOOKBACK_S``) is read with
its metadata; a message already carrying the key is returned instead of posting again. A retry
after a crash (the message posted, our record of it lost) therefore finds its message. The bot
needs ``channels:history`` (``groups:history`` in a private channel) to read it back, and
``users:read`` to name the people on call. A bot that is not in the channel cannot read it, and
cannot post there either (it has no ``chat:write.public``), so then ``chat.postMessage`` is asked
and answers why (``not_in_channel``, ``is_archived``).
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from runtime.vendor.errors import ApiError
from runtime.vendor.http import VendorHttp
from services.skills.connectors.slack import Member, OnCall, Posted, SlackError

#: The metadata event type that marks a message this connector posted.
EVENT_TYPE = "workforce_post"
#: How far back a channel's history is read for an earlier try's message (a retry comes within hours).
LOOKBACK_S = 24 * 3600
#: Pages followed at most, per list.
MAX_PAGES = 20
#: What a Slack conversation id looks like (a public or private channel, a DM).
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")


def error_from(response: httpx.Response) -> SlackError:
    """A non-200 answer (Slack's 429, a 5xx, a proxy's page) as a ``SlackError`` with the HTTP status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("error") if isinstance(body, dict) and body.get("error") else ("ratelimited" if response.status_code == 429 else "internal_error" if response.status_code >= 500 else f"http_{response.status_code}")
    error = SlackError(str(code))
    ApiError.__init__(error, response.status_code, error.code, f"{code} (HTTP {response.status_code} from Slack)")
    return error


class SlackHttp(VendorHttp):
    """The Slack connector over the Web API, as the coworker whose bot token it holds."""

    system = "slack"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._credential}"} if self._credential else {}

    def error_from(self, response: httpx.Response) -> SlackError:
        return error_from(response)

    async def api(self, method: str, **args: Any) -> dict[str, Any]:
        """One Web API call (JSON body); ``ok: false`` raises Slack's error."""
        response = await self.call("POST", f"/api/{method}", json={k: v for k, v in args.items() if v is not None})
        try:
            body = response.json()
        except ValueError:
            raise SlackError("invalid_response", detail=f"{method} did not answer JSON") from None
        if not body.get("ok"):
            extra = {k: body[k] for k in ("needed", "provided") if k in body}
            raise SlackError(str(body.get("error") or "unknown_error"), **extra)
        return body

    async def pages(self, method: str, key: str, **args: Any) -> list[Any]:
        """Every item under ``key`` of a cursor-paged method."""
        items: list[Any] = []
        cursor = None
        for _ in range(MAX_PAGES):
            body = await self.api(method, cursor=cursor, **args)
            items += body.get(key, [])
            cursor = (body.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return items

    async def channel(self, channel: str) -> dict[str, Any]:
        """The channel named ``channel`` (``#name``, ``name`` or an id) among those the bot can see."""
        wanted = channel.lstrip("#").lower()
        for found in await self.pages("conversations.list", "channels", types="public_channel,private_channel", limit=200):
            if found["id"] == channel or found.get("name", "").lower() == wanted:
                return found
        raise SlackError("channel_not_found")

    async def oncall(self, channel: str) -> OnCall:
        found = await self.channel(channel)
        groups = (await self.api("usergroups.list", include_users=True)).get("usergroups", [])
        paging = sorted((g for g in groups if found["id"] in ((g.get("prefs") or {}).get("channels") or [])), key=lambda g: g.get("handle", ""))
        if not paging:
            return OnCall(found["id"], found["name"], None, None, ())
        group = paging[0]
        members = []
        for uid in group.get("users") or []:
            person = (await self.api("users.info", user=uid))["user"]
            if not person.get("deleted"):
                members.append(Member(person["id"], person.get("name", ""), person.get("real_name") or (person.get("profile") or {}).get("real_name", "")))
        return OnCall(found["id"], found["name"], group["id"], group.get("handle"), tuple(sorted(members, key=lambda m: m.name)))

    async def earlier_post(self, channel_id: str, idempotency_key: str) -> Posted | None:
        """The message posted under ``idempotency_key`` in the last ``LOOKBACK_S``, if there is one."""
        oldest = f"{time.time() - LOOKBACK_S:.6f}"
        try:
            history = await self.pages("conversations.history", "messages", channel=channel_id, include_all_metadata=True, oldest=oldest, limit=200)
        except SlackError as exc:
            if exc.code == "not_in_channel":  # the bot cannot post here either: let chat.postMessage say why
                return None
            raise
        for message in history:
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == EVENT_TYPE and (metadata.get("event_payload") or {}).get("idempotency_key") == idempotency_key:
                return Posted(channel_id, message["ts"], message.get("text", ""))
        return None

    async def post_message(self, channel: str, text: str, *, idempotency_key: str) -> Posted:
        channel_id = channel if CHANNEL_ID.match(channel) else (await self.channel(channel))["id"]
        if (earlier := await self.earlier_post(channel_id, idempotency_key)) is not None:
            return earlier
        metadata = {"event_type": EVENT_TYPE, "event_payload": {"idempotency_key": idempotency_key}}
        body = await self.api("chat.postMessage", channel=channel_id, text=text, metadata=metadata)
        return Posted(body["channel"], body["ts"], (body.get("message") or {}).get("text", text))
