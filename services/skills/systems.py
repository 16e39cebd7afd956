"""Which implementation speaks for each connected system: its sandbox by default, its real API when
configured (``SKILLS_REAL_SYSTEMS='{"okta": "https://acme.okta.com"}'``). Steps see one interface
either way, opened with the calling coworker's own credential."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
import httpx

from services.skills.connectors.errors import ApiError
from services.skills.connectors.jira_http import JiraHttp
from services.skills.connectors.okta_http import OktaHttp
from services.skills.mcp_tools import McpTools, system_of
from deploy.sandbox.entra import EntraSandbox
from deploy.sandbox.facilities import FacilitiesSandbox
from deploy.sandbox.jira import JiraSandbox
from deploy.sandbox.jumpcloud import JumpCloudSandbox
from deploy.sandbox.okta import OktaSandbox
from deploy.sandbox.payroll import PayrollSandbox
from deploy.sandbox.sharepoint import SharePointSandbox
from deploy.sandbox.slack import SlackSandbox
from deploy.sandbox.workday import WorkdaySandbox

SandboxFactory = Callable[[asyncpg.Connection, str | None], Any]
RealFactory = Callable[[str, str | None, httpx.AsyncClient], Any]

#: Every sandboxed system, by the name manifests grant tools on.
SANDBOXES: dict[str, SandboxFactory] = {"okta": OktaSandbox, "jumpcloud": JumpCloudSandbox, "jira": JiraSandbox, "slack": SlackSandbox, "workday": WorkdaySandbox, "payroll": PayrollSandbox,
                                       "entra": EntraSandbox, "sharepoint": SharePointSandbox, "facilities": FacilitiesSandbox}
#: Systems with a real API client, by the same names.
REAL: dict[str, RealFactory] = {"jira": JiraHttp, "okta": OktaHttp}


class Systems:
    def __init__(self, real: Mapping[str, str] | None = None, *, mcp: Mapping[str, str] | None = None, timeout_s: float = 10.0) -> None:
        real = dict(real or {})
        if unknown := sorted(set(real) - set(REAL)):
            raise ValueError(f"no real connector for {', '.join(unknown)}; real connectors exist for: {', '.join(sorted(REAL)) or 'none'}")
        # An external MCP server (``SKILLS_MCP_SERVERS``) is a real system ``mcp-<server>``: its administrator issues the credentials.
        self.mcp = {system_of(server): url for server, url in (mcp or {}).items()}
        self.real = real | self.mcp
        self._timeout = timeout_s
        self._client: httpx.AsyncClient | None = None

    def is_real(self, system: str) -> bool:
        return system in self.real

    def open(self, system: str, conn: asyncpg.Connection, credential: str | None) -> Any:
        """The connector for ``system`` as the coworker ``credential`` belongs to."""
        if system in self.mcp:
            return McpTools(self.mcp[system], credential, system=system, timeout_s=self._timeout)
        if system in self.real:
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=self._timeout)
            return REAL[system](self.real[system], credential, self._client)
        factory = SANDBOXES.get(system)
        if factory is None:
            raise ApiError(501, "not_connected", f"{system} is neither sandboxed nor connected in this deployment")
        return factory(conn, credential)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
