"""Every skill as an MCP tool, run as the coworker whose bearer token the MCP client presents.

A tool call is a ``skill.requested`` event (actor: the coworker; source ``/services/skills/mcp``)
run by the service's ``Runner``: the same authorisation per step, approvals and questions as a
ticket routed by triage, and every event it yields is emitted so governance audits it. The token
names one coworker: ``wfmcp_<coworker>_<hex HMAC-SHA256(WORKFORCE_SECRETS_KEY, "mcp:" + coworker)>``
(``workforce mcp token COWORKER`` prints it); a missing or wrong token gets HTTP 401 and nothing runs.

A call's ``request_id`` names the request: the same id (or, without one, the same arguments) maps
to the same event id and ticket id, so the runner replays the recorded outcome instead of acting
again. That is why every tool is annotated idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import re
import socket
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import jsonschema
import mcp.types as types
import uvicorn
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.lowlevel import Server
from pydantic import AnyHttpUrl, BaseModel, SecretStr
from starlette.types import ASGIApp

from contracts.catalog import SkillSpec
from contracts.envelope import Actor, Envelope, derived_event_id
from contracts.events import (
    MAX_DESCRIPTION,
    MAX_TITLE,
    ApprovalRequested,
    MemoryRecallRequested,
    PolicyDenied,
    Requester,
    SkillCompleted,
    SkillFailed,
    SkillRequest,
    SkillRequested,
    SkillStep,
    Ticket,
    TicketEscalated,
    TicketQuestion,
)
from services.skills.runner import Runner
from services.skills.skill import Skill, Step

SOURCE = "/services/skills/mcp"
TOKEN_PREFIX = "wfmcp_"
#: A step whose scope's last word starts with one of these only reads (``users.read``, ``tools.search_pages``).
READING = frozenset({"read", "list", "get", "search", "query"})
#: The arguments every tool takes; a skill's catalog inputs come beside them.
FIXED = ("requester_email", "request", "request_id")

Emit = Callable[[Envelope[Any]], Awaitable[None]]
Status = Literal["resolved", "escalated", "refused", "waiting_for_approval", "waiting_for_answer", "handed_on"]

_TOKEN = re.compile(r"^wfmcp_([a-z0-9][a-z0-9_.-]*)_([0-9a-f]{64})$")


# --- who is calling ------------------------------------------------------------------------


def _secret(key: SecretStr | str | None) -> bytes:
    value = key.get_secret_value() if isinstance(key, SecretStr) else key
    if not value:  # an empty HMAC key would make every token guessable
        raise RuntimeError("WORKFORCE_SECRETS_KEY is not set: MCP tokens are derived from it")
    return value.encode()


def token_for(key: SecretStr | str | None, coworker: str) -> str:
    """The bearer token an MCP client presents to act as ``coworker``."""
    mac = hmac.new(_secret(key), f"mcp:{coworker}".encode(), hashlib.sha256).hexdigest()
    return f"{TOKEN_PREFIX}{coworker}_{mac}"


def coworker_of(key: SecretStr | str | None, token: str) -> str | None:
    """The coworker ``token`` names, if it was made with ``key`` (compared in constant time)."""
    found = _TOKEN.match(token)
    if found is None:
        return None
    coworker = found.group(1)
    return coworker if hmac.compare_digest(token, token_for(key, coworker)) else None


class CoworkerTokens:
    """The MCP SDK's ``TokenVerifier`` for our tokens: the coworker becomes the request's user."""

    def __init__(self, key: SecretStr | str | None) -> None:
        _secret(key)
        self._key = key

    async def verify_token(self, token: str) -> AccessToken | None:
        coworker = coworker_of(self._key, token)
        return AccessToken(token=token, client_id=coworker, subject=coworker, scopes=[]) if coworker else None


# --- what each tool is ---------------------------------------------------------------------


def writes(step: Step) -> bool:
    """Whether a step changes anything: a destructive one does, and so does any step whose scope's
    last word is not a reading verb (``issues.create``, ``apps.assign``, ``users.reset_password``)."""
    verb = step.operation.rsplit(".", 1)[-1].split("_", 1)[0]
    return step.destructive or verb not in READING


def annotations(skill: Skill, spec: SkillSpec | None) -> types.ToolAnnotations:
    """Hints a client can trust: read-only only when no step writes; destructive when a step is;
    idempotent because a repeated ``request_id`` replays; open-world because the systems are the enterprise's."""
    read_only = not any(writes(step) for step in skill.steps)
    return types.ToolAnnotations(
        title=f"{spec.category}: {skill.name}" if spec else skill.name,
        read_only_hint=read_only,
        destructive_hint=any(step.destructive for step in skill.steps),
        idempotent_hint=True,
        open_world_hint=True,
    )


def input_schema(skill: Skill, spec: SkillSpec | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "requester_email": {
            "type": "string",
            "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
            "maxLength": 320,
            "description": "The email of the person the work is for (the ticket's requester); the skill acts on their behalf.",
        },
        "request": {
            "type": "string",
            "pattern": r"\S",
            "maxLength": MAX_DESCRIPTION,
            "description": "What they asked for, in their own words (the ticket's text).",
        },
        "request_id": {
            "type": "string",
            "pattern": r"^[A-Za-z0-9._:-]{1,100}$",
            "description": (
                "Names this request: calling again with a request_id used before (by this coworker, for this skill) "
                "replays that request's recorded outcome instead of acting again. Without one it is derived from the "
                "other arguments, so an identical call is a retry; pass a new one for a new request in the same words."
            ),
        },
    }
    for needed in spec.inputs if spec else []:
        if needed.name in FIXED:
            raise ValueError(f"skill {skill.name}: catalog input {needed.name!r} clashes with the argument of that name every tool takes")
        properties[needed.name] = {"type": "string", "minLength": 1, "maxLength": 500, "description": f"{needed.question} (asked when missing)", "examples": needed.choices[:20]}
    return {"type": "object", "properties": properties, "required": ["requester_email", "request"], "additionalProperties": False}


def describe(skill: Skill, spec: SkillSpec | None) -> str:
    steps = "; ".join(f"{s.name} ({s.system} {s.operation}{', needs approval when supervised' if s.destructive else ''})" for s in skill.steps)
    what = spec.description if spec else f"Runs the skill {skill.name}."
    return f"{what} Steps: {steps}. Runs as the calling coworker, authorised step by step."


class StepTaken(BaseModel):
    step: int
    name: str
    system: str
    operation: str
    kind: str
    status: str
    outputs: dict[str, Any] = {}
    error: str | None = None


class Outcome(BaseModel):
    """What a tool call did; its JSON Schema is every tool's output schema."""

    status: Status
    request_id: str
    ticket_id: str
    skill: str
    coworker: str
    #: The request had already run: this is its recorded outcome, nothing was done again.
    replayed: bool = False
    summary: str | None = None  # resolved: what was done
    error_code: str | None = None  # escalated or refused
    reason: str | None = None
    rule: str | None = None  # refused: the policy rule that said no
    queue: str | None = None  # escalated or refused: who has the ticket now
    compensated: list[str] = []  # escalated: earlier steps that were undone
    awaiting: dict[str, Any] | None = None  # waiting: the approval or the answer the request waits for
    handed_to: str | None = None  # handed_on: the sub-agent that got the work
    steps: list[StepTaken] = []

    def text(self) -> str:
        head = f"{self.skill} for ticket {self.ticket_id}: {self.status.replace('_', ' ')}"
        if self.replayed:
            head += " (replayed: this request ran before; nothing was done again)"
        detail = {
            "resolved": self.summary,
            "escalated": f"{self.error_code}: {self.reason} (now with {self.queue})",
            "refused": f"{self.rule}: {self.reason}",
            "waiting_for_approval": json.dumps(self.awaiting),
            "waiting_for_answer": json.dumps(self.awaiting),
            "handed_on": f"to {self.handed_to}",
        }[self.status]
        return f"{head}. {detail}"


OUTPUT_SCHEMA = Outcome.model_json_schema()


def outcome(request: SkillRequested, request_id: str, events: Sequence[Envelope[Any]], *, replayed: bool) -> Outcome:
    """Read a run's events as the answer to the call that started it."""
    data = request.data
    steps = [StepTaken.model_validate(e.data.model_dump(include=set(StepTaken.model_fields))) for e in events if isinstance(e, SkillStep)]
    common = {"request_id": request_id, "ticket_id": data.ticket_id, "skill": data.skill, "coworker": data.coworker, "replayed": replayed, "steps": steps}
    last = events[-1] if events else None
    completed = next((e for e in events if isinstance(e, SkillCompleted)), None)
    if completed is not None:
        return Outcome(status="resolved", summary=completed.data.summary, **common)
    if isinstance(last, ApprovalRequested):
        asked = last.data
        awaiting = {"approval_id": asked.approval_id, "approver": asked.approver, "step": asked.step, "system": asked.system, "operation": asked.operation, "action": asked.action}
        return Outcome(status="waiting_for_approval", awaiting=awaiting, **common)
    if isinstance(last, TicketQuestion):
        return Outcome(status="waiting_for_answer", awaiting={"field": last.data.field, "question": last.data.question, "from": last.data.to.email or last.data.to.id}, **common)
    if isinstance(last, SkillRequested):
        return Outcome(status="handed_on", handed_to=last.data.coworker, **common)
    failed = next((e for e in events if isinstance(e, SkillFailed)), None)
    if failed is None:
        raise RuntimeError(f"the run of {data.skill} for {data.ticket_id} ended without an outcome: {[e.type for e in events]}")
    escalated = next((e for e in events if isinstance(e, TicketEscalated)), None)
    queue = escalated.data.queue if escalated else None
    if failed.data.error_code == "policy_denied":
        denied = next((e for e in reversed(events) if isinstance(e, PolicyDenied)), None)
        return Outcome(status="refused", error_code="policy_denied", rule=denied.data.rule if denied else None, reason=failed.data.reason, queue=queue, **common)
    return Outcome(status="escalated", error_code=failed.data.error_code, reason=failed.data.reason, queue=queue, compensated=failed.data.compensated, **common)


# --- calls -----------------------------------------------------------------------------------


def _failure(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class SkillTools:
    """The skills of ``runner`` as MCP tools; ``emit`` sends each event a call yields (in order)."""

    def __init__(self, runner: Runner, key: SecretStr | str | None, emit: Emit, *, source: str = SOURCE) -> None:
        _secret(key)
        self.runner, self._key, self.emit, self.source = runner, key, emit, source
        self.tools: list[types.Tool] = []
        self._validators: dict[str, jsonschema.Draft202012Validator] = {}
        for name, skill in sorted(runner.skills.items()):
            spec = runner.catalog.get(name)
            schema = input_schema(skill, spec)
            self._validators[name] = jsonschema.Draft202012Validator(schema)
            self.tools.append(types.Tool(name=name, description=describe(skill, spec), input_schema=schema, output_schema=OUTPUT_SCHEMA, annotations=annotations(skill, spec)))

    async def call(self, coworker: str, name: str, arguments: Mapping[str, Any] | None) -> types.CallToolResult:
        """Run skill ``name`` as ``coworker`` and say what happened."""
        if name not in self.runner.skills:
            return _failure(f"no tool {name!r}; the tools are: {', '.join(sorted(self.runner.skills))}")
        args = dict(arguments or {})
        if problem := next(iter(sorted(self._validators[name].iter_errors(args), key=str)), None):
            where = ".".join(str(p) for p in problem.absolute_path) or "arguments"
            return _failure(f"{where}: {problem.message}")
        row = self.runner.registry.coworkers.get(coworker)
        if row is None or row.data.active is None or row.data.active_version is None:
            return _failure(f"coworker {coworker!r} has no live version in this workforce; it takes no work")
        request_id, event = self.request(coworker, row.data.active_version, row.data.active.team, name, args)
        replayed = await self._ran_before(event)
        events = await self.runner.run(event)
        try:
            for out in (event, *events):
                await self.emit(out)
            if events and isinstance(events[-1], MemoryRecallRequested):  # the skill asks memory first: wait for it
                more = await self.runner.after_memory(event)
                for out in more:
                    await self.emit(out)
                events += more
        except Exception as exc:
            return _failure(f"{name} ran for ticket {event.data.ticket_id}, but its events could not be published ({type(exc).__name__}); call again with request_id {request_id!r} to publish them")
        result = outcome(event, request_id, events, replayed=replayed)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=result.text())],
            structured_content=result.model_dump(mode="json"),
            is_error=result.status in ("refused", "escalated"),
        )

    def request(self, coworker: str, version: int, team: str, skill: str, args: Mapping[str, Any]) -> tuple[str, SkillRequested]:
        """The ``skill.requested`` a call is: the same coworker, skill and request id give the same ids."""
        email, text = str(args["requester_email"]), str(args["request"]).strip()
        inputs = {k: str(v) for k, v in args.items() if k not in FIXED}
        request_id = str(args.get("request_id") or _digest(email.lower(), text, inputs)[:32])
        ticket_id = f"MCP-{_digest(coworker, skill, request_id)[:20]}"
        ticket = Ticket(
            ticket_id=ticket_id,
            title=text.splitlines()[0][:MAX_TITLE],
            description=text,
            requester=Requester(id=email.split("@")[0].lower(), email=email),
            channel="api",
            opened_at=datetime.now(UTC),
        )
        data = SkillRequest(ticket_id=ticket_id, skill=skill, coworker=coworker, coworker_version=version, ticket=ticket, inputs=inputs, confidence=1.0)
        event = SkillRequested.create(
            data,
            source=self.source,
            team=team,
            actor=Actor.coworker(coworker),
            correlation_id=ticket_id,
            subject=ticket_id,
            id=derived_event_id(f"mcp:{coworker}", SkillRequested.event_type(), f"{skill}/{request_id}"),
        )
        return request_id, event

    async def _ran_before(self, event: SkillRequested) -> bool:
        return bool(
            await self.runner.pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM step_runs WHERE ticket_id = $1) OR EXISTS (SELECT 1 FROM pending_requests WHERE request_id = $2)",
                event.data.ticket_id,
                event.id,
            )
        )

    # --- the MCP server --------------------------------------------------------------------

    def server(self) -> Server[Any]:
        async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
            return types.ListToolsResult(tools=self.tools)

        async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
            user = getattr(ctx.request, "user", None)
            if not isinstance(user, AuthenticatedUser):  # the HTTP app refuses such calls; this is for other transports
                return _failure("no coworker: present the bearer token `workforce mcp token COWORKER` prints")
            return await self.call(user.access_token.client_id, params.name, params.arguments)

        return Server(
            "workforce-skills",
            version="1",
            instructions="Each tool runs one Workforce skill as the coworker your bearer token names, authorised step by step.",
            on_list_tools=list_tools,
            on_call_tool=call_tool,
        )

    def app(self, url: str, *, host: str) -> ASGIApp:
        """The streamable HTTP app (at ``/mcp``): the SDK's bearer middleware answers 401 to a bad token."""
        return self.server().streamable_http_app(
            host=host,
            auth=AuthSettings(issuer_url=AnyHttpUrl(url), resource_server_url=None),
            token_verifier=CoworkerTokens(self._key),
        )


# --- serving inside a running service ----------------------------------------------------------


class _Embedded(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the hosting service owns SIGTERM/SIGINT and stops this server on shutdown


@dataclass
class Listener:
    """An ASGI app served by uvicorn in the running event loop, beside the service's own server."""

    url: str  # the MCP endpoint
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), 10)
        except TimeoutError:
            self.server.force_exit = True
            await self.task


async def serve(build: Callable[[str], ASGIApp], host: str, port: int, *, path: str = "/mcp") -> Listener:
    """Bind ``host:port`` (0 picks a free port), build the app for its URL, and serve it. A port in
    use raises ``OSError`` here, before anything is served."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    bound = sock.getsockname()[1]
    base = f"http://[{host}]:{bound}" if ":" in host else f"http://{host}:{bound}"
    server = _Embedded(uvicorn.Config(build(base), log_config=None, access_log=False, lifespan="on"))

    async def run() -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit:  # uvicorn exits the process when the app fails to start; here that is an error
            raise RuntimeError(f"the MCP endpoint on {base} failed to start") from None
        finally:
            sock.close()

    task = asyncio.create_task(run())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"the MCP endpoint on {base} stopped while starting")
        await asyncio.sleep(0.02)
    return Listener(f"{base}{path}", server, task)
