"""Zendesk's Tickets API in the composite simulator, under ``/zendesk`` (``/zendesk/api/v2/tickets.json``,
...): the account of ``deploy/sandbox/zendesk.py`` (its HTTP side and ticket rules, unchanged),
over the simulator's schema, one transaction per request, seeded on first use with the integration's
agent (``ZENDESK_SANDBOX_EMAIL``, default ``atom-bot@acme.example``, an admin) and three requesters.

Auth is Zendesk's, with an API token the administration API issued for system ``zendesk``
(``POST /_sandbox/tokens {"system": "zendesk", ...}``):

- ``Authorization: Basic base64(<email>/token:<token>)``: as with a Zendesk API token, the request
  acts as the account's user with that email, who must be an agent or an admin (the integration's
  agent, or an agent added with ``POST /api/v2/users.json {"user": {..., "role": "agent"}}``); an
  unknown email or an end-user's is a 401, as Zendesk answers it.
- ``Authorization: Bearer <token>`` (an OAuth access token): acts as the integration's agent, who
  authorised the integration's OAuth client.

A revoked token is a 401 (``{"error": "Couldn't authenticate you"}``); the scopes a token carries
are not checked. Faults and holds come from the simulator's shared ``/_sandbox/faults`` and
``/_sandbox/holds``; the standalone account's own hooks are not served here.
"""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from deploy.sandbox import tokens, zendesk
from deploy.sandbox.server import SandboxState
from deploy.sandbox.zendesk import ZendeskSandbox, ZendeskStore

SYSTEM = "zendesk"
AGENTS = ("agent", "admin")


class IssuedTokens(ZendeskSandbox):
    """The account, authenticating the tokens the simulator's administration API issued."""

    hooks = False

    async def authenticate(self, request: web.Request) -> int | None:
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            caller = await tokens.authenticate(self.store.db, SYSTEM, credential.strip())
            return await self.integration_agent() if caller is not None else None
        if scheme.lower() != "basic":
            return None
        try:
            email, sep, token = base64.b64decode(credential, validate=True).decode().partition("/token:")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not sep or await tokens.authenticate(self.store.db, SYSTEM, token) is None:
            return None
        user = await self.store.user_by_email(email)
        return user["id"] if user is not None and user["role"] in AGENTS else None


def create_app(state: SandboxState) -> web.Application:
    return zendesk.create_app(None, ZendeskStore(state), IssuedTokens)
