"""What the three ticketing systems' writers share: an integration user's session with HTTP Basic
auth (Jira ``email:api_token``, ServiceNow ``user:password``, Zendesk ``email/token:api_token``)."""

from __future__ import annotations

import base64

import httpx
from aiolimiter import AsyncLimiter

from runtime.vendor.http import VendorHttp


class BasicSession(VendorHttp):
    """``login`` is how the system spells the user name before ``:<credential>``."""

    login = "{user}"

    def __init__(self, base_url: str, credential: str | None, client: httpx.AsyncClient, *, user: str | None, limiter: AsyncLimiter | None = None) -> None:
        super().__init__(base_url, credential, client, limiter=limiter)
        self.user = user

    def auth_headers(self) -> dict[str, str]:
        basic = base64.b64encode(f"{self.login.format(user=self.user)}:{self._credential}".encode()).decode()
        return {"Accept": "application/json", "Authorization": f"Basic {basic}"}
