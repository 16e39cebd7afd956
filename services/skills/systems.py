"""Every connected system is reached over HTTP, by its vendor's client, at the base URL configuration
gives it (``SKILLS_SYSTEMS='{"okta": "https://acme.okta.com", ...}'``): the customer's own systems
in production, the local simulator's (``deploy/sandbox``) on the local stack, the same client class
either way. Steps see one interface per system, opened with the calling coworker's own credential.

Each system gets a client-side rate limit (``SKILLS_RATE_LIMITS``, requests per second; a leaky
bucket shared by every coworker on that system), so a burst of tickets does not earn a 429."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import httpx
from aiolimiter import AsyncLimiter

from runtime.vendor.errors import ApiError
from services.skills.mcp_tools import McpTools, system_of

#: Each system's client, by the name manifests grant tools on (module:class, imported when first used).
CLIENTS: dict[str, str] = {
    "okta": "okta_http:OktaHttp",
    "entra": "entra_http:EntraHttp",
    "sharepoint": "sharepoint_http:SharePointHttp",
    "workday": "workday_http:WorkdayHttp",
    "payroll": "payroll_http:PayrollHttp",
    "jumpcloud": "jumpcloud_http:JumpCloudHttp",
    "jira": "jira_http:JiraHttp",
    "slack": "slack_http:SlackHttp",
    "facilities": "facilities_http:FacilitiesHttp",
}

#: Requests per second per system when configuration does not say.
DEFAULT_RATE = 50.0


def client_class(system: str) -> Any:
    module, _, name = CLIENTS[system].partition(":")
    return getattr(importlib.import_module(f"services.skills.connectors.{module}"), name)


class Systems:
    def __init__(self, urls: Mapping[str, str] | None = None, *, mcp: Mapping[str, str] | None = None, rate_limits: Mapping[str, float] | None = None, timeout_s: float = 10.0, client: httpx.AsyncClient | None = None) -> None:
        urls = dict(urls or {})
        if unknown := sorted(set(urls) - set(CLIENTS)):
            raise ValueError(f"no connector for {', '.join(unknown)}; connectors exist for: {', '.join(sorted(CLIENTS))}")
        # An external MCP server (``SKILLS_MCP_SERVERS``) is a system ``mcp-<server>``: its administrator issues the credentials.
        self.mcp = {system_of(server): url for server, url in (mcp or {}).items()}
        self.urls = urls
        rates = dict(rate_limits or {})
        self._limiters = {system: AsyncLimiter(max(1.0, rates.get(system, DEFAULT_RATE)), 1.0) for system in urls}
        self._timeout = timeout_s
        self._client = client  # one pool of connections for every system (made on first use unless given)

    def connected(self, system: str) -> bool:
        return system in self.urls or system in self.mcp

    def open(self, system: str, credential: str | None, *, ticket: str | None = None) -> Any:
        """The connector for ``system`` as the coworker ``credential`` belongs to, working on ``ticket``."""
        if system in self.mcp:
            return McpTools(self.mcp[system], credential, system=system, timeout_s=self._timeout)
        if system not in self.urls:
            raise ApiError(501, "not_connected", f"{system} is not connected in this deployment (SKILLS_SYSTEMS has no URL for it)")
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))
        return client_class(system)(self.urls[system], credential, self._client, limiter=self._limiters[system], ticket=ticket)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
