"""Skills as MCP tools, and external MCP servers' tools as skill steps: a real MCP client and real MCP
servers over streamable HTTP on loopback, the real runner on a real, seeded PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from cryptography.fernet import Fernet
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, SecretStr

from contracts import codec
from contracts.catalog import SkillSpec, load_catalog
from contracts.coworkers import Autonomy
from contracts.envelope import Actor, Envelope
from contracts.events import (
    ApprovalDecision,
    ApprovalGranted,
    PolicyDenied,
    SkillCompleted,
    SkillRequested,
    SkillStep,
    TicketResolved,
)
from services.skills import credentials
from deploy.sandbox.cases import Workbench
from services.skills.credentials import Vault
from services.skills.library import SKILLS
from services.skills.mcp_server import FIXED, SOURCE, Listener, SkillTools, annotations, coworker_of, serve, token_for
from services.skills.mcp_tools import mcp_tool_skill
from services.skills.settings import DEFAULT_CATALOG
from services.skills.skill import Skill, Step
from services.skills.systems import Systems

KEY = Fernet.generate_key().decode()

# --- an external MCP server: a small wiki with its own tokens ------------------------------------

PAGES = [
    {"title": "VPN setup", "url": "https://wiki.acme.example/it/vpn", "text": "Install the GlobalProtect client and sign in with Okta to set up the VPN."},
    {"title": "Expense policy", "url": "https://wiki.acme.example/finance/expenses", "text": "Submit expenses in Workday within 30 days."},
    {"title": "Printer setup", "url": "https://wiki.acme.example/it/printers", "text": "Add the floor printer from Settings > Printers."},
]


class Page(BaseModel):
    title: str
    url: str


class Found(BaseModel):
    pages: list[Page]


@dataclass
class Wiki:
    """The wiki's MCP server; it knows each caller by the token its administrator issued."""

    tokens: dict[str, str] = field(default_factory=lambda: {"wiki-token-for-atom": "atom"})
    calls: list[tuple[str, str]] = field(default_factory=list)  # (caller, query) of each search that ran
    refused: int = 0
    listener: Listener | None = None

    @property
    def url(self) -> str:
        assert self.listener is not None
        return self.listener.url

    def server(self) -> MCPServer:
        wiki = self

        class Tokens:
            async def verify_token(self, token: str) -> AccessToken | None:
                if token not in wiki.tokens:
                    wiki.refused += 1
                    return None
                return AccessToken(token=token, client_id=wiki.tokens[token], scopes=[])

        server = MCPServer("wiki", token_verifier=Tokens(), auth=AuthSettings(issuer_url="http://127.0.0.1", resource_server_url=None))

        @server.tool(annotations=ToolAnnotations(read_only_hint=True))
        def search(query: str, ctx: Context) -> Found:
            """Wiki pages whose text shares a word with the query."""
            caller = ctx.request_context.request.user.access_token.client_id
            wiki.calls.append((caller, query))
            words = {w.strip("?.,").lower() for w in query.split() if len(w) > 3}
            return Found(pages=[Page(title=p["title"], url=p["url"]) for p in PAGES if words & {w.strip(".,>").lower() for w in p["text"].split()}])

        return server


WIKI_SEARCH = mcp_tool_skill("wiki-search", "wiki", "search", arguments_from=lambda request: {"query": request.ticket.description or request.ticket.title})
SKILLS_HERE = {**SKILLS, WIKI_SEARCH.name: WIKI_SEARCH}


def catalog() -> Any:
    base = load_catalog(DEFAULT_CATALOG)
    spec = SkillSpec(
        name="wiki-search",
        category="Miscellaneous",
        description="Search the company wiki and answer with the pages that cover the question.",
        examples=["where is the vpn guide"],
        requires={"mcp-wiki": ["tools.search"]},
    )
    return base.model_copy(update={"skills": [*base.skills, spec]})


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
async def wiki() -> AsyncIterator[Wiki]:
    running = Wiki()
    server = running.server()
    running.listener = await serve(lambda url: server.streamable_http_app(host="127.0.0.1"), "127.0.0.1", 0)
    yield running
    await running.listener.stop()


@pytest.fixture
async def bench(service_database, workforce, simulator, wiki: Wiki) -> AsyncIterator[Workbench]:  # noqa: ANN001
    database = await service_database("skills")
    systems = Systems(simulator.urls(), mcp={"wiki": wiki.url})  # the simulated systems, and the wiki's MCP server
    workbench = Workbench(database, Vault(SecretStr(KEY)), workforce, SKILLS_HERE, catalog(), simulator=simulator, systems=systems)
    await workbench.hire_all()
    yield workbench
    await systems.close()


@dataclass
class Endpoint:
    url: str
    emitted: list[Envelope[Any]]


@pytest.fixture
async def endpoint(bench: Workbench) -> AsyncIterator[Endpoint]:
    emitted: list[Envelope[Any]] = []

    async def emit(event: Envelope[Any]) -> None:
        emitted.append(event)

    tools = SkillTools(bench.runner, SecretStr(KEY), emit)
    listener = await serve(lambda url: tools.app(url, host="127.0.0.1"), "127.0.0.1", 0)
    yield Endpoint(listener.url, emitted)
    await listener.stop()


@contextlib.asynccontextmanager
async def session(url: str, token: str | None, statuses: list[int] | None = None) -> AsyncIterator[ClientSession]:
    async def seen(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, event_hooks={"response": [seen]}) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as client,
    ):
        await client.initialize()
        yield client


async def call(url: str, coworker: str, skill: str, **arguments: Any) -> CallToolResult:
    async with session(url, token_for(KEY, coworker)) as client:
        result = await client.call_tool(skill, arguments)
    assert isinstance(result, CallToolResult)
    return result


async def resets(bench: Workbench, login: str) -> tuple[str, int]:
    """The account's status and how many resets Okta recorded for it, as the simulated Okta holds them."""
    async with bench.systems_pool.acquire() as conn:
        status = await conn.fetchval("SELECT status FROM okta_users WHERE login = $1", f"{login}@acme.example")
        count = await conn.fetchval("SELECT count(*) FROM okta_password_resets r JOIN okta_users u ON u.id = r.user_id WHERE u.login = $1", f"{login}@acme.example")
    return status, count


# --- tokens ----------------------------------------------------------------------------------


def test_a_token_names_one_coworker_and_only_the_key_makes_it() -> None:
    token = token_for(KEY, "hr_bot.v2")
    assert token.startswith("wfmcp_hr_bot.v2_")
    assert coworker_of(KEY, token) == "hr_bot.v2"
    assert coworker_of(Fernet.generate_key().decode(), token) is None  # another deployment's key
    assert coworker_of(KEY, token.replace("hr_bot.v2", "jordan", 1)) is None  # a name swapped in
    assert coworker_of(KEY, token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    assert coworker_of(KEY, "") is None
    with pytest.raises(RuntimeError, match="WORKFORCE_SECRETS_KEY"):
        token_for("", "jordan")


def test_a_skill_that_creates_something_is_not_read_only_even_when_nothing_needs_approval() -> None:
    async def act(ctx: Any) -> dict[str, Any]:
        return {}

    look = Step("find-issue", "jira", "issues.read", act)
    log = Step("log-request", "jira", "issues.create", act)
    grant = Step("grant", "okta", "apps.assign", act, destructive=True)
    hints = {name: annotations(Skill(name, steps, summarise=lambda outputs: ""), None) for name, steps in [("reads", (look,)), ("creates", (look, log)), ("grants", (look, grant))]}
    assert [(h.read_only_hint, h.destructive_hint) for h in hints.values()] == [(True, False), (False, False), (False, True)]


# --- our skills as tools -------------------------------------------------------------------------


async def test_every_skill_is_a_tool_whose_annotations_say_what_its_steps_do(endpoint: Endpoint) -> None:
    async with session(endpoint.url, token_for(KEY, "jordan")) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(listed) == set(SKILLS_HERE)
    spec = catalog()
    for name, skill in SKILLS_HERE.items():
        hints = listed[name].annotations
        assert hints is not None and hints.idempotent_hint is True and hints.open_world_hint is True
        assert hints.destructive_hint is any(step.destructive for step in skill.steps), name
        if any(step.destructive for step in skill.steps):
            assert hints.read_only_hint is False, f"{name} has a destructive step but says it is read-only"
        schema = listed[name].input_schema
        assert set(schema["required"]) == {"requester_email", "request"}
        assert set(schema["properties"]) == {*FIXED, *(i.name for i in spec.get(name).inputs)}
        assert spec.get(name).description in (listed[name].description or "")
    # Okta's reset changes the account; the wiki search only reads.
    reset, search = listed["password-reset"].annotations, listed["wiki-search"].annotations
    assert (reset.read_only_hint, reset.destructive_hint) == (False, True)
    assert (search.read_only_hint, search.destructive_hint) == (True, False)


async def test_jordan_resets_ana_silvas_password_through_mcp_and_every_event_is_emitted(endpoint: Endpoint, bench: Workbench) -> None:
    result = await call(endpoint.url, "jordan", "password-reset", requester_email="ana.silva@acme.example", request="I forgot my password")
    outcome = result.structured_content
    assert not result.is_error, result.content
    assert outcome["status"] == "resolved" and outcome["coworker"] == "jordan" and not outcome["replayed"]
    assert "Started password recovery for ana.silva@acme.example" in outcome["summary"]
    assert [(s["name"], s["status"]) for s in outcome["steps"]] == [("find-user", "done"), ("reset-password", "done")]
    assert await resets(bench, "ana.silva") == ("RECOVERY", 1)
    requested = endpoint.emitted[0]
    assert isinstance(requested, SkillRequested)
    assert (requested.source, str(requested.actor), requested.data.ticket_id) == (SOURCE, "coworker:jordan", outcome["ticket_id"])
    assert requested.data.ticket.requester.email == "ana.silva@acme.example"
    assert [type(e) for e in endpoint.emitted][-2:] == [SkillCompleted, TicketResolved]
    assert sum(isinstance(e, SkillStep) for e in endpoint.emitted) == 2
    for event in endpoint.emitted:  # what governance audits is valid on the wire
        assert codec.decode(codec.encode(event)).id == event.id


async def test_the_same_request_id_twice_resets_once_and_replays_the_outcome(endpoint: Endpoint, bench: Workbench) -> None:
    first = await call(endpoint.url, "jordan", "password-reset", requester_email="priya.sharma@acme.example", request="locked out", request_id="desk-42")
    emitted_first = [e.id for e in endpoint.emitted]
    again = await call(endpoint.url, "jordan", "password-reset", requester_email="priya.sharma@acme.example", request="locked out", request_id="desk-42")
    assert first.structured_content["status"] == again.structured_content["status"] == "resolved"
    assert again.structured_content["ticket_id"] == first.structured_content["ticket_id"]
    assert (first.structured_content["replayed"], again.structured_content["replayed"]) == (False, True)
    assert [e.id for e in endpoint.emitted[len(emitted_first) :]] == emitted_first  # the same events, the same ids
    assert await resets(bench, "priya.sharma") == ("RECOVERY", 1)


async def test_a_coworker_that_does_not_hold_the_skill_is_refused_by_policy(endpoint: Endpoint, bench: Workbench) -> None:
    result = await call(endpoint.url, "atom", "password-reset", requester_email="john.miller@acme.example", request="password expired")
    outcome = result.structured_content
    assert result.is_error
    assert (outcome["status"], outcome["rule"], outcome["steps"]) == ("refused", "holds-skill", [])
    assert "does not hold skill 'password-reset'" in outcome["reason"]
    denied = [e for e in endpoint.emitted if isinstance(e, PolicyDenied)]
    assert [d.data.rule for d in denied] == ["holds-skill"] and str(denied[0].data.coworker) == "atom"
    assert await resets(bench, "john.miller") == ("PASSWORD_EXPIRED", 0)


@pytest.mark.parametrize(
    "token",
    [token_for(Fernet.generate_key().decode(), "jordan"), "wfmcp_jordan_" + "0" * 64, "jordan", None],
    ids=["another key", "forged mac", "bare name", "no token"],
)
async def test_a_wrong_token_is_refused_before_anything_runs(endpoint: Endpoint, bench: Workbench, token: str | None) -> None:
    statuses: list[int] = []
    with pytest.raises(Exception):  # noqa: B017 - the SDK reports the refusal through its task group
        async with session(endpoint.url, token, statuses) as client:
            await client.call_tool("password-reset", {"requester_email": "ana.silva@acme.example", "request": "I forgot my password"})
    assert statuses == [401]
    assert endpoint.emitted == []
    assert await bench.database.pool.fetchval("SELECT count(*) FROM step_runs") == 0
    assert await resets(bench, "ana.silva") == ("ACTIVE", 0)


async def test_a_coworker_the_workforce_does_not_know_runs_nothing(endpoint: Endpoint) -> None:
    result = await call(endpoint.url, "ghost", "password-reset", requester_email="ana.silva@acme.example", request="reset please")
    assert result.is_error and "no live version" in result.content[0].text
    assert endpoint.emitted == []


async def test_a_supervised_reset_waits_for_the_manager_then_the_same_call_tells_the_outcome(endpoint: Endpoint, bench: Workbench) -> None:
    manifest = bench.workforce["jordan"]
    await bench.hire("jordan", autonomy={**manifest.autonomy, "password-reset": Autonomy.supervised})
    arguments = {"requester_email": "john.miller@acme.example", "request": "my password expired", "request_id": "desk-7"}
    waiting = (await call(endpoint.url, "jordan", "password-reset", **arguments)).structured_content
    assert waiting["status"] == "waiting_for_approval"
    assert (waiting["awaiting"]["approver"], waiting["awaiting"]["operation"]) == ("priya.raman", "users.reset_password")
    assert await resets(bench, "john.miller") == ("PASSWORD_EXPIRED", 0)
    decision = ApprovalDecision(approval_id=waiting["awaiting"]["approval_id"], ticket_id=waiting["ticket_id"], coworker="jordan", skill="password-reset", step=waiting["awaiting"]["step"])
    await bench.runner.decided(ApprovalGranted.create(decision, source="/cli/workforce", team="it-support", actor=Actor.human("priya.raman"), correlation_id=waiting["ticket_id"]))
    done = (await call(endpoint.url, "jordan", "password-reset", **arguments)).structured_content
    assert (done["status"], done["replayed"]) == ("resolved", True)
    assert await resets(bench, "john.miller") == ("RECOVERY", 1)


# --- an external MCP server's tool as a step ---------------------------------------------------


async def give_atom_the_wiki(bench: Workbench, *, scope: bool = True, credential: str = "wiki-token-for-atom") -> None:
    manifest = bench.workforce["atom"]
    tools = {**manifest.tools, "mcp-wiki": ["tools.search"]} if scope else manifest.tools
    version = await bench.hire("atom", skills=[*manifest.skills, "wiki-search"], tools=tools, autonomy={**manifest.autonomy, "wiki-search": Autonomy.autonomous})
    async with bench.database.pool.acquire() as conn:  # as the wiki's administrator issued it
        await credentials.store(conn, bench.vault, "atom", "mcp-wiki", version, credential)


async def test_a_coworker_uses_the_wikis_search_tool_and_the_step_records_its_result(endpoint: Endpoint, bench: Workbench, wiki: Wiki) -> None:
    await give_atom_the_wiki(bench)
    result = await call(endpoint.url, "atom", "wiki-search", requester_email="ana.silva@acme.example", request="How do I set up the VPN?")
    outcome = result.structured_content
    assert outcome["status"] == "resolved", outcome
    assert wiki.calls == [("atom", "How do I set up the VPN?")]  # called once, as atom, with atom's own credential
    (step,) = outcome["steps"]
    assert (step["system"], step["operation"], step["status"]) == ("mcp-wiki", "tools.search", "done")
    assert step["outputs"]["structured"] == {"pages": [{"title": "VPN setup", "url": "https://wiki.acme.example/it/vpn"}]}
    recorded = await bench.database.pool.fetchrow("SELECT status, outputs FROM step_runs WHERE ticket_id = $1", outcome["ticket_id"])
    assert recorded["status"] == "done" and "VPN setup" in recorded["outputs"]
    assert "wiki-token-for-atom" not in str([e.model_dump() for e in endpoint.emitted])  # the credential never travels in events
    again = await call(endpoint.url, "atom", "wiki-search", requester_email="ana.silva@acme.example", request="How do I set up the VPN?")
    assert again.structured_content["replayed"] and len(wiki.calls) == 1  # an identical call is a retry: replayed, not re-run


async def test_without_the_scope_in_its_manifest_the_tool_is_refused_and_the_wiki_never_called(endpoint: Endpoint, bench: Workbench, wiki: Wiki) -> None:
    await give_atom_the_wiki(bench, scope=False)
    outcome = (await call(endpoint.url, "atom", "wiki-search", requester_email="ana.silva@acme.example", request="How do I set up the VPN?")).structured_content
    assert (outcome["status"], outcome["rule"]) == ("refused", "holds-scope")
    assert "has no scope mcp-wiki:tools.search" in outcome["reason"]
    assert (wiki.calls, wiki.refused) == ([], 0)  # not even a connection


async def test_a_credential_the_wiki_does_not_know_is_refused_there_and_escalated(endpoint: Endpoint, bench: Workbench, wiki: Wiki) -> None:
    await give_atom_the_wiki(bench, credential="someone-elses-token")
    outcome = (await call(endpoint.url, "atom", "wiki-search", requester_email="ana.silva@acme.example", request="printer setup")).structured_content
    assert (outcome["status"], outcome["error_code"]) == ("escalated", "credential_refused")
    assert wiki.calls == [] and wiki.refused >= 1


async def test_a_skill_that_asks_memory_first_answers_the_mcp_call_once_memory_answers_or_without_it_when_memory_is_silent(bench: Workbench) -> None:
    from contracts.events import MemoryRecalled, MemoryRecallRequested, RecallResult
    from deploy.sandbox.cases.knowledge import _knowledge

    runbook = _knowledge("Outlook crashes at start", "Start Outlook in safe mode (outlook.exe /safe), then turn the add-ins off one by one.", 0.7)
    memory_up = [True]
    emitted: list[Envelope[Any]] = []

    async def emit(event: Envelope[Any]) -> None:  # the broker, with memory and the skills service's recall consumer behind it
        emitted.append(event)
        if isinstance(event, MemoryRecallRequested) and memory_up[0]:
            reply = event.caused(MemoryRecalled, RecallResult(request_id=event.data.request_id, items=[runbook], token_budget=800, embedding_model="m"), source="/services/memory")
            asyncio.get_running_loop().call_later(0.2, lambda: asyncio.ensure_future(bench.runner.recalled(reply)))

    bench.runner.recall_timeout_s = 0.5
    tools = SkillTools(bench.runner, SecretStr(KEY), emit)
    listener = await serve(lambda url: tools.app(url, host="127.0.0.1"), "127.0.0.1", 0)
    try:
        answered = (await call(listener.url, "atom", "knowledge-answer", requester_email="ana.silva@acme.example", request="my outlook crashes when I open it")).structured_content
        assert answered["status"] == "resolved" and "safe mode" in answered["summary"]
        memory_up[0] = False
        started = asyncio.get_running_loop().time()
        fallback = (await call(listener.url, "atom", "knowledge-answer", requester_email="ana.silva@acme.example", request="how do I connect to the office wifi on my laptop?")).structured_content
        assert fallback["status"] == "resolved" and "ACME-Corp" in fallback["summary"], "SharePoint answers without memory"
        assert asyncio.get_running_loop().time() - started >= 0.5, "it waited for memory first"
    finally:
        await listener.stop()
