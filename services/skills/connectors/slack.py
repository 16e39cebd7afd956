"""The Slack connector interface: what steps may ask of the workspace. ``SlackSandbox``
(deploy/sandbox/slack.py) speaks it over PostgreSQL; a real client would speak it over
Slack's Web API (``conversations.list``, ``usergroups.list``, ``chat.postMessage``).

Slack answers HTTP 200 with ``{"ok": false, "error": "channel_not_found"}``; ``SlackError`` keeps
Slack's error string as the code and gives it the status of its kind (401 bad token, 403 not
allowed, 404 no such channel, 429 rate limited), so a runner tells a refusal from an outage.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from runtime.vendor.errors import ApiError

MAX_TEXT = 40000


def user_id(name: str, *, bot: bool = False) -> str:
    """A Slack-style user id, the same for the same person or bot."""
    return "U" + hashlib.sha256(f"{'bot' if bot else 'user'}:{name}".encode()).hexdigest()[:10].upper()


class SlackError(ApiError):
    STATUS = {
        "not_authed": 401, "invalid_auth": 401, "account_inactive": 401, "token_revoked": 401,
        "missing_scope": 403, "not_in_channel": 403, "is_archived": 403, "restricted_action": 403,
        "channel_not_found": 404, "no_text": 400, "msg_too_long": 400, "invalid_arguments": 400,
        "ratelimited": 429, "internal_error": 500, "fatal_error": 500,
    }

    def __init__(self, error: str, **extra: Any) -> None:
        self.extra = extra
        detail = ", ".join(f"{k}: {v}" for k, v in extra.items())
        super().__init__(self.STATUS.get(error, 400), error, f"{error} ({detail})" if detail else error)

    @property
    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.code, **self.extra}


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    real_name: str


@dataclass(frozen=True)
class OnCall:
    """A channel, and the user group on call for it (the group whose default channels include it)."""

    channel_id: str
    channel: str
    group_id: str | None
    handle: str | None
    members: tuple[Member, ...]

    @property
    def mention(self) -> str:
        """How a message pages them: the group, or nobody when no group is on call here."""
        return f"<!subteam^{self.group_id}|@{self.handle}>" if self.group_id else ""


@dataclass(frozen=True)
class Posted:
    channel_id: str
    ts: str
    text: str


class Slack(Protocol):
    async def oncall(self, channel: str) -> OnCall: ...

    async def post_message(self, channel: str, text: str, *, idempotency_key: str) -> Posted: ...
