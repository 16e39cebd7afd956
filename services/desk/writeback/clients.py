"""The three writers, built from the desk configuration and the environment (``Connection.url``,
``.user``, the credential in the variable ``.token_env``), over one shared ``httpx.AsyncClient``,
each behind its own client-side rate limit (below each vendor's published one)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

import httpx
from aiolimiter import AsyncLimiter

from services.desk.config import DeskConfig, EscalationGroup, Resolve
from services.desk.writeback import NotConfigured
from services.desk.writeback.jira import JiraWriter
from services.desk.writeback.plan import UpstreamTicket
from services.desk.writeback.servicenow import ServiceNowWriter
from services.desk.writeback.zendesk import ZendeskWriter

WRITERS = {"jira": JiraWriter, "servicenow": ServiceNowWriter, "zendesk": ZendeskWriter}
#: Requests a second per system: Jira Cloud and Zendesk Enterprise (700 a minute) allow about ten;
#: a ServiceNow instance's rate-limit rules are its own, twenty is a modest share.
RATES = {"jira": 10.0, "servicenow": 20.0, "zendesk": 10.0}


class Writer(Protocol):
    """What the write-back asks of each system (every method may raise ``ApiError``)."""

    async def comment(self, ticket: UpstreamTicket, text: str, *, public: bool) -> str: ...
    async def find_comment(self, ticket: UpstreamTicket, marker: str) -> str | None: ...
    async def resolve(self, ticket: UpstreamTicket, close_notes: str, how: Resolve) -> str: ...
    async def reassign(self, ticket: UpstreamTicket, group: EscalationGroup) -> str: ...
    async def find_child(self, ticket: UpstreamTicket, marker: str) -> str | None: ...
    async def create_child(self, ticket: UpstreamTicket, title: str, text: str, marker: str) -> str: ...


class Clients:
    """One writer per configured system, made on first use; a missing URL, user or credential is
    ``NotConfigured`` naming what to set."""

    def __init__(self, config: DeskConfig, http: httpx.AsyncClient, *, env: Mapping[str, str] | None = None, rates: Mapping[str, float] = RATES) -> None:
        self.config, self.http, self.env = config, http, os.environ if env is None else env
        self.limiters = {system: AsyncLimiter(max(1.0, rate), 1.0) for system, rate in rates.items()}
        self._made: dict[str, Writer] = {}

    def get(self, system: str) -> Writer:
        if system in self._made:
            return self._made[system]
        found = self.config.system(system)
        if found is None or system not in WRITERS:
            raise NotConfigured(f"no {system} system is configured (or it is disabled) in the desk configuration")
        api = found.api
        missing = [name for name, value in (("url", api.url), ("user", api.user), ("token_env", api.token_env)) if not value]
        if missing:
            raise NotConfigured(f"systems.{system}.api needs {', '.join(missing)}")
        token = self.env.get(api.token_env or "")
        if not token:
            raise NotConfigured(f"the {system} credential is missing: the environment variable {api.token_env} is not set")
        writer = WRITERS[system](api.url, token, self.http, user=api.user, limiter=self.limiters.get(system))  # type: ignore[arg-type]
        self._made[system] = writer
        return writer

    def zendesk(self) -> ZendeskWriter:
        """Zendesk's writer, for the intake's requester lookup (``user_email``)."""
        return self.get("zendesk")  # type: ignore[return-value]
