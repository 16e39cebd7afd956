"""Tools of external MCP servers as steps of a skill.

A configured server (``SKILLS_MCP_SERVERS='{"wiki": "http://127.0.0.1:9000/mcp"}'``) is the system
``mcp-wiki``: a step on it calls one of its tools with the coworker's own credential for ``mcp-wiki``
as the bearer token (issued by that server's administrator and kept in the vault, like any real
system's). The step's scope is ``tools.<tool>``, so a manifest grants ``tools: {mcp-wiki: [tools.search]}``
and the authoriser decides on it like on any other step; the call is recorded as a ``skill.step``.
(A scope needs a dot, which is why it is ``tools.search`` and not the bare tool name.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from contracts.events import SkillRequest
from runtime.vendor.errors import ApiError, unreachable
from services.skills.skill import Outputs, Skill, Step, StepContext, StepFailed

#: A configured MCP server ``wiki`` is the system ``mcp-wiki``.
MCP_PREFIX = "mcp-"
#: The ``_meta`` key a call's idempotency key travels under; a server that honours it acts once per key.
IDEMPOTENCY_META = "workforce/idempotency_key"
#: The most of a tool's result a step keeps (events stay small; the full answer is the server's to keep).
MAX_RESULT_CHARS = 8000

_SCOPE_WORD = re.compile(r"^[a-z][a-z0-9_]*$")


def system_of(server: str) -> str:
    return f"{MCP_PREFIX}{server}"


def scope_of(tool: str) -> str:
    """The tool scope a step calling ``tool`` needs: ``tools.<tool>``."""
    if not _SCOPE_WORD.match(tool):
        raise ValueError(f"MCP tool {tool!r} cannot name a scope: use a tool whose name is lower-case letters, digits and underscores")
    return f"tools.{tool}"


@dataclass(frozen=True)
class ToolResult:
    """What a tool answered: its structured content when it gave one, and its text blocks."""

    structured: Any
    text: str
    is_error: bool

    def record(self) -> dict[str, Any]:
        """The result as a step keeps it, cut to ``MAX_RESULT_CHARS``."""
        if self.structured is not None:
            dumped = json.dumps(self.structured, default=str)
            if len(dumped) <= MAX_RESULT_CHARS:
                return {"structured": self.structured}
            return {"structured_truncated": dumped[:MAX_RESULT_CHARS]}
        return {"text": self.text[:MAX_RESULT_CHARS], "truncated": len(self.text) > MAX_RESULT_CHARS}


class McpTools:
    """One external MCP server's tools, called as one coworker (its credential is the bearer token).

    HTTP refusals keep their meaning (401/403 refuse the coworker; 429/5xx and an unreachable
    server are transient and retried by the runner); a tool that answers with an error is a result
    with ``is_error``, for the step to judge."""

    def __init__(self, url: str, token: str | None, *, system: str, timeout_s: float = 10.0) -> None:
        self.url, self._token, self.system, self._timeout = url, token, system, timeout_s

    async def call(self, tool: str, arguments: Mapping[str, Any], *, idempotency_key: str | None = None) -> ToolResult:
        if not self._token:
            raise ApiError(401, "invalid_token", f"no credential for {self.system}: its administrator has issued none to this coworker")
        failures: list[int] = []

        async def remember(response: httpx2.Response) -> None:
            if response.status_code >= 400:
                failures.append(response.status_code)

        meta = {IDEMPOTENCY_META: idempotency_key} if idempotency_key else None
        try:
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {self._token}"}, timeout=self._timeout, event_hooks={"response": [remember]}) as http,
                streamable_http_client(self.url, http_client=http) as (read, write),
                ClientSession(read, write, read_timeout_seconds=self._timeout) as session,
            ):
                await session.initialize()
                result = await session.call_tool(tool, dict(arguments), meta=meta)  # type: ignore[arg-type]
        except Exception as exc:  # the transport reports through task groups: judge the first real cause
            raise self._error(_cause(exc), failures) from None
        text = "\n".join(getattr(block, "text", "") for block in getattr(result, "content", []) if getattr(block, "type", "") == "text")
        return ToolResult(getattr(result, "structured_content", None), text, bool(getattr(result, "is_error", False)))

    def _error(self, exc: BaseException, failures: list[int]) -> ApiError:
        if isinstance(exc, ApiError):
            return exc
        if failures:
            status = failures[0]
            if status == 401:
                return ApiError(401, "invalid_token", f"{self.system} refused the coworker's credential (HTTP 401)")
            if status == 403:
                return ApiError(403, "insufficient_scope", f"{self.system} refused: the credential does not allow this (HTTP 403)")
            if status == 429:
                return ApiError(429, "rate_limited", f"{self.system} asked to slow down (HTTP 429)")
            return ApiError(status, "http_error", f"{self.system} answered HTTP {status} at {self.url}")
        if isinstance(exc, MCPError):
            code = exc.error.code
            # -32603 internal error and -32001 request timeout may pass; invalid params or an unknown tool will not.
            status = 503 if code in (-32603, -32001) else 400
            return ApiError(status, f"jsonrpc_{code}", f"{self.system}: {exc.error.message}"[:300])
        if isinstance(exc, httpx2.TransportError | OSError):
            return unreachable(self.system, exc)
        if isinstance(exc, RuntimeError):  # e.g. structured content that breaks the tool's own output schema
            return ApiError(422, "invalid_result", f"{self.system}: {exc}"[:300])
        raise exc


def _cause(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def mcp_tool_skill(
    name: str,
    server: str,
    tool: str,
    *,
    arguments_from: Callable[[SkillRequest], dict[str, Any]],
    summarise: Callable[[Mapping[str, Any]], str] | None = None,
    destructive: bool = False,
    timeout_s: float = 20.0,
    attempts: int = 3,
) -> Skill:
    """A one-step skill that calls ``tool`` on the MCP server ``server`` with ``arguments_from(request)``.

    The step's system is ``mcp-<server>`` and its scope ``tools.<tool>`` (list it under the skill's
    ``requires`` in the catalog). ``destructive`` when the tool changes something a person would want
    to approve. ``summarise`` turns the tool's result (``ToolResult.record()``) into the resolution."""
    system, scope = system_of(server), scope_of(tool)

    async def call(ctx: StepContext) -> dict[str, Any]:
        tools: McpTools = ctx.system
        result = await tools.call(tool, arguments_from(ctx.request), idempotency_key=ctx.idempotency_key)
        if result.is_error:
            raise StepFailed("tool_error", f"{system} {tool} answered with an error: {result.text[:300] or 'no detail'}")
        return {"server": server, "tool": tool, **result.record()}

    def summary(outputs: Outputs) -> str:
        done = outputs[step.name]
        if summarise is not None:
            return summarise(done)
        shown = json.dumps(done.get("structured", done.get("text", "")), default=str)
        return f"{tool} on {server} answered: {shown[:400]}"

    step = Step(f"call-{tool.replace('_', '-')}", system, scope, call, describe=lambda r: {"tool": tool, "arguments": arguments_from(r)}, destructive=destructive, timeout_s=timeout_s, attempts=attempts)
    return Skill(name=name, steps=(step,), summarise=summary)
