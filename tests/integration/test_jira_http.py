"""The real Jira connector against a local HTTP server that speaks Jira Cloud's REST API v3 (request
and response shapes, ADF bodies, Jira's error bodies): a skill logs its issue over HTTP, the same
idempotency key creates one issue even after our record of the first was lost, a 429 is retried by
the runner, a 401 is a refusal, and Jira's 400 keeps its field errors."""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from cryptography.fernet import Fernet
from pydantic import SecretStr

from contracts.catalog import load_catalog
from contracts.events import SkillCompleted
from runtime.db import Database
from services.skills import credentials, identity
from deploy.sandbox.cases import Case, Workbench
from runtime.vendor.errors import ApiError
from services.skills.connectors.jira import JiraError, Query
from services.skills.connectors.jira_http import JiraHttp, idempotency_label, plain
from services.skills.credentials import Vault
from services.skills.library import SKILLS
from services.skills.policy import Decision
from services.skills.execution import execute
from services.skills.settings import DEFAULT_CATALOG
from services.skills.systems import Systems

CREDENTIAL = "atom-bot@acme.example:ATATT3xFfGF0-not-a-real-token"
CATEGORIES = {"Open": "new", "Waiting for approval": "new", "To Do": "new"}
INITIAL = {"Incident": "Open", "Purchase": "Waiting for approval", "Task": "To Do"}


def _errors(status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"errorMessages": messages or [], "errors": errors or {}}, status=status)


class FakeJira:
    """Jira Cloud's REST API v3, as much of it as the connector speaks, with faults on demand."""

    def __init__(self) -> None:
        self.authorization = "Basic " + base64.b64encode(CREDENTIAL.encode()).decode()
        self.projects = {"INC": ["Incident"], "PUR": ["Purchase"], "IT": ["Task"]}
        self.issues: dict[str, dict[str, Any]] = {}
        self.links: list[tuple[str, str, str]] = []
        self.comments: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.faults: list[tuple[str, str, int]] = []
        self.requests: list[tuple[str, str]] = []
        self.url = ""

    def fail(self, method: str, path: str, status: int, *, times: int = 1) -> None:
        self.faults += [(method, path, status)] * times

    @web.middleware
    async def gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        for fault in self.faults:
            if fault[:2] == (request.method, request.path):
                self.faults.remove(fault)
                if fault[2] == 429:
                    return web.json_response({"errorMessages": ["Rate limit exceeded."]}, status=429, headers={"Retry-After": "1"})
                return web.Response(status=fault[2], text="<html>Service Unavailable</html>", content_type="text/html")
        if request.headers.get("Authorization") != self.authorization:
            return web.Response(status=401, text="Client must be authenticated to access this resource.")
        return await handler(request)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.gate])
        app.router.add_post("/rest/api/3/issue", self.create)
        app.router.add_get("/rest/api/3/issue/{key}", self.get)
        app.router.add_get("/rest/api/3/search", self.removed)  # as Jira Cloud does since 2025
        app.router.add_get("/rest/api/3/search/jql", self.search)
        app.router.add_post("/rest/api/3/issueLink", self.link)
        app.router.add_get("/rest/api/3/issue/{key}/comment", self.list_comments)
        app.router.add_post("/rest/api/3/issue/{key}/comment", self.comment)
        return app

    def view(self, key: str) -> dict[str, Any]:
        issue = self.issues[key]
        links = [
            {"type": {"name": t, "inward": "relates to", "outward": "relates to"}, **({"outwardIssue": {"key": o}} if i == key else {"inwardIssue": {"key": i}})}
            for t, i, o in self.links if key in (i, o)
        ]
        return {"id": issue["id"], "key": key, "self": f"{self.url}/rest/api/3/issue/{issue['id']}", "fields": {**issue["fields"], "issuelinks": links}}

    async def create(self, request: web.Request) -> web.Response:
        fields = (await request.json()).get("fields", {})
        project, kind = fields.get("project", {}).get("key"), fields.get("issuetype", {}).get("name")
        errors = {}
        if project not in self.projects:
            errors["project"] = "valid project is required"
        elif kind not in self.projects[project]:
            errors["issuetype"] = "The issue type selected is invalid."
        if not str(fields.get("summary", "")).strip():
            errors["summary"] = "You must specify a summary of the issue."
        description = fields.get("description")
        if description is not None and not (isinstance(description, dict) and description.get("type") == "doc" and description.get("version") == 1):
            errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        if bad := [label for label in fields.get("labels", []) if re.search(r"\s", label)]:
            errors["labels"] = f"The label '{bad[0]}' contains spaces which is invalid."
        if errors:
            return _errors(400, errors=errors)
        number = sum(1 for k in self.issues if k.startswith(f"{project}-")) + 1
        key, issue_id = f"{project}-{number}", str(10000 + len(self.issues))
        self.issues[key] = {"id": issue_id, "fields": {
            "summary": fields["summary"], "description": description, "issuetype": {"name": kind}, "project": {"key": project},
            "priority": fields.get("priority", {"name": "Medium"}), "labels": fields.get("labels", []),
            "status": {"name": INITIAL[kind], "statusCategory": {"key": CATEGORIES[INITIAL[kind]]}},
            "reporter": {"accountId": "712020:bot", "displayName": "Atom (Workforce)"}, "created": "2026-11-25T10:00:00.000+0000",
        }}
        return web.json_response({"id": issue_id, "key": key, "self": f"{self.url}/rest/api/3/issue/{issue_id}"}, status=201)

    async def get(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if key not in self.issues:
            return _errors(404, ["Issue does not exist or you do not have permission to see it."])
        return web.json_response(self.view(key))

    async def removed(self, request: web.Request) -> web.Response:
        return _errors(410, ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"])

    async def search(self, request: web.Request) -> web.Response:
        """The enhanced search: bounded JQL only, pages of at most 100, ``nextPageToken`` only while
        there is a next page (the real one leaves it out on the last page), no total."""
        jql = request.query.get("jql", "")
        where = jql.split(" ORDER BY ")[0]
        if not where.strip():
            return _errors(400, ["Unbounded JQL queries are not allowed here. Please add a search restriction to your query."])
        found = list(self.issues)
        for clause in filter(None, where.split(" AND ")):
            if m := re.fullmatch(r'(project|issuetype|labels) = "((?:[^"\\]|\\.)*)"', clause):
                field, value = m.group(1), m.group(2).replace('\\"', '"')
                match = {
                    "project": lambda k: self.issues[k]["fields"]["project"]["key"] == value,
                    "issuetype": lambda k: self.issues[k]["fields"]["issuetype"]["name"] == value,
                    "labels": lambda k: value in self.issues[k]["fields"]["labels"],
                }[field]
                found = [k for k in found if match(k)]
            elif clause == "statusCategory != Done":
                found = [k for k in found if self.issues[k]["fields"]["status"]["statusCategory"]["key"] != "done"]
            elif m := re.fullmatch(r"key not in \((.*)\)", clause):
                excluded = set(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
                found = [k for k in found if k not in excluded]
            else:
                return _errors(400, [f"Error in the JQL Query: the clause '{clause}' is not understood here."])
        limit = min(int(request.query.get("maxResults", 50)), 100)
        start = int(request.query.get("nextPageToken") or 0)
        ordered = list(reversed(found))
        page = {"issues": [self.view(k) for k in ordered[start : start + limit]], "isLast": start + limit >= len(ordered)}
        if not page["isLast"]:
            page["nextPageToken"] = str(start + limit)
        return web.json_response(page)

    async def link(self, request: web.Request) -> web.Response:
        body = await request.json()
        inward, outward = body["inwardIssue"]["key"], body["outwardIssue"]["key"]
        if inward not in self.issues or outward not in self.issues:
            return _errors(404, ["Issue Does Not Exist"])
        if (body["type"]["name"], inward, outward) not in self.links:
            self.links.append((body["type"]["name"], inward, outward))
        return web.Response(status=201)

    async def list_comments(self, request: web.Request) -> web.Response:
        comments = self.comments[request.match_info["key"]]
        return web.json_response({"startAt": 0, "maxResults": 100, "total": len(comments), "comments": comments})

    async def comment(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if key not in self.issues:
            return _errors(404, ["Issue does not exist or you do not have permission to see it."])
        made = {"id": str(30000 + sum(map(len, self.comments.values()))), "body": (await request.json())["body"], "author": {"displayName": "Jordan (Workforce)"}}
        self.comments[key].append(made)
        return web.json_response(made, status=201)


@pytest.fixture
async def jira() -> AsyncIterator[FakeJira]:
    fake = FakeJira()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    await runner.cleanup()


@pytest.fixture
async def bench(service_database, workforce, simulator, jira: FakeJira) -> AsyncIterator[Workbench]:  # noqa: ANN001
    database: Database = await service_database("skills")
    systems = Systems({"jira": jira.url, "okta": simulator.urls()["okta"]})  # the requester is looked up in the simulated directory
    workbench = Workbench(database, Vault(SecretStr(Fernet.generate_key().decode())), workforce, SKILLS, load_catalog(DEFAULT_CATALOG), systems=systems)
    await workbench.hire_all()
    reader = await simulator.token(identity.DIRECTORY, identity.READER, identity.READER_SCOPES, version=identity.READER_VERSION)
    await credentials.store(database.pool, workbench.vault, identity.READER, identity.DIRECTORY, identity.READER_VERSION, reader)
    yield workbench
    await systems.close()


async def give(bench: Workbench, coworker: str, secret: str = CREDENTIAL) -> None:
    """The credential a Jira administrator issued to ``coworker`` (real systems get no sandbox token)."""
    async with bench.database.pool.acquire() as conn:
        await credentials.store(conn, bench.vault, coworker, "jira", 1, secret)


TWO_MONITORS = Case("two monitors", "purchase-request", "atom", "ana.silva", "need to buy two monitors for my desk", "resolved", inputs={"item": "monitor"})
ALLOWED = Decision(True, "holds-scope", "atom holds jira:issues.create")


async def log_purchase(bench: Workbench, requested: Any) -> Any:
    step = SKILLS["purchase-request"].steps[1]
    async with bench.database.pool.acquire() as conn:
        secret = await credentials.credential(conn, bench.vault, "atom", "jira", 1)
    earlier = {"find-open-request": {"item": "monitor", "quantity": 2, "open": []}}
    return await execute(bench.database.pool, step, 2, requested, earlier, credential=secret, decision=ALLOWED, systems=bench.runner.systems, backoff_s=0.01)


async def test_a_purchase_request_is_logged_in_a_real_jira_over_its_rest_api(bench: Workbench, jira: FakeJira) -> None:
    await give(bench, "atom")
    played = await bench.play(TWO_MONITORS)
    assert bench.verdict(played) is None, bench.verdict(played)
    assert "Logged purchase request PUR-1 for 2 x monitor" in next(e for e in played.events if isinstance(e, SkillCompleted)).data.summary
    fields = jira.issues["PUR-1"]["fields"]
    assert fields["summary"] == "Purchase: 2 x monitor for ana.silva" and fields["issuetype"] == {"name": "Purchase"}
    assert fields["labels"][:3] == ["purchase", "monitor", "for-ana.silva"] and fields["labels"][3].startswith("wf-")
    assert fields["description"]["type"] == "doc" and "Nothing has been ordered" in plain(fields["description"])
    assert [r for r in jira.requests if r[0] == "POST"] == [("POST", "/rest/api/3/issue")]


async def test_the_same_key_creates_one_issue_even_when_our_record_of_the_first_was_lost(bench: Workbench, jira: FakeJira) -> None:
    await give(bench, "atom")
    requested = bench.request(TWO_MONITORS)
    first = await log_purchase(bench, requested)
    await bench.database.pool.execute("DELETE FROM step_runs")  # the step's record is gone; Jira still has the issue
    again = await log_purchase(bench, requested)
    assert first.status == again.status == "done" and first.outputs["key"] == again.outputs["key"] == "PUR-1"
    assert list(jira.issues) == ["PUR-1"] and idempotency_label(f"{requested.data.ticket_id}:purchase-request:2") in jira.issues["PUR-1"]["fields"]["labels"]


async def test_a_429_then_success_is_retried_by_the_runner(bench: Workbench, jira: FakeJira) -> None:
    await give(bench, "atom")
    jira.fail("POST", "/rest/api/3/issue", 429)
    run = await log_purchase(bench, bench.request(TWO_MONITORS))
    assert (run.status, run.attempts) == ("done", 2)
    assert list(jira.issues) == ["PUR-1"]


async def test_jira_down_for_every_attempt_is_an_outage_not_a_refusal(bench: Workbench, jira: FakeJira) -> None:
    await give(bench, "atom")
    jira.fail("POST", "/rest/api/3/issue", 503, times=3)
    run = await log_purchase(bench, bench.request(TWO_MONITORS))
    assert (run.status, run.error_code, run.attempts) == ("failed", "system_unavailable", 3)
    assert jira.issues == {}


async def test_a_401_is_a_refusal_and_is_not_retried(bench: Workbench, jira: FakeJira) -> None:
    await give(bench, "atom", "atom-bot@acme.example:revoked-token")
    played = await bench.play(TWO_MONITORS)
    assert played.failure is not None and played.failure.data.error_code == "credential_refused"
    assert "Client must be authenticated" in played.failure.data.reason
    assert jira.requests == [("GET", "/rest/api/3/search/jql")]  # one call, refused, never retried
    assert jira.issues == {}


async def test_jiras_400_keeps_its_field_errors_and_creates_nothing(jira: FakeJira) -> None:
    async with httpx.AsyncClient() as client:
        connector = JiraHttp(jira.url, CREDENTIAL, client)
        with pytest.raises(JiraError) as bad:
            await connector.create_issue(project="PUR", issue_type="Purchase", summary="", description="x", priority="Low", labels=["two words"], idempotency_key="k", ticket_id="T-1")
        assert (bad.value.status, bad.value.transient) == (400, False)
        assert bad.value.errors == {"summary": "You must specify a summary of the issue.", "labels": "The label 'two words' contains spaces which is invalid."}
        with pytest.raises(JiraError) as missing:
            await connector.get_issue("PUR-404")
        assert (missing.value.status, missing.value.code) == (404, "Not Found")
        assert jira.issues == {}


async def test_search_uses_the_enhanced_endpoint_and_follows_its_pages(jira: FakeJira) -> None:
    """Jira Cloud removed GET /rest/api/3/search (410 Gone); /search/jql pages by nextPageToken."""
    async with httpx.AsyncClient() as client:
        connector = JiraHttp(jira.url, CREDENTIAL, client)
        made = [await connector.create_issue(project="INC", issue_type="Incident", summary=f"s{i}", description="d", priority="Low", labels=["vpn"], idempotency_key=f"k{i}", ticket_id="T") for i in range(130)]
        found = await connector.search(Query(project="INC", labels=("vpn",), max_results=150))
        assert [i.key for i in found] == [m.key for m in reversed(made)], "every issue, newest first, across two pages"
        assert [i.key for i in await connector.search(Query(project="INC", labels=("vpn",), max_results=5))] == [m.key for m in reversed(made)][:5]
        assert [i.key for i in await connector.search(Query(project="INC", exclude=(made[-1].key,), max_results=1))] == [made[-2].key]
        assert {path for method, path in jira.requests if "search" in path} == {"/rest/api/3/search/jql"}, "the connector never asks the removed endpoint"
        gone = await client.get(f"{jira.url}/rest/api/3/search", params={"jql": 'project = "INC"'}, headers={"Authorization": jira.authorization})
        assert gone.status_code == 410 and "/rest/api/3/search/jql" in gone.text


async def test_links_and_comments_over_http_are_made_once(jira: FakeJira) -> None:
    async with httpx.AsyncClient() as client:
        connector = JiraHttp(jira.url, CREDENTIAL, client)
        made = [await connector.create_issue(project="INC", issue_type="Incident", summary=s, description="d", priority="High", labels=["vpn"], idempotency_key=s, ticket_id="T") for s in ("one", "two")]
        link = await connector.link_issues("Relates", inward=made[1].key, outward=made[0].key)
        assert (link.label, link.key) == ("relates to", "INC-1")
        assert [(x.label, x.key) for x in (await connector.get_issue("INC-2")).links] == [("relates to", "INC-1")]
        first = await connector.add_comment("INC-2", "nobody was paged", idempotency_key="c")
        again = await connector.add_comment("INC-2", "nobody was paged", idempotency_key="c")
        assert first.id == again.id and len(jira.comments["INC-2"]) == 1 and first.body.startswith("nobody was paged")


async def test_an_unreachable_jira_is_a_transient_error() -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        with pytest.raises(ApiError) as down:
            await JiraHttp("http://127.0.0.1:9", CREDENTIAL, client).get_issue("INC-1")
    assert down.value.transient and down.value.code == "unreachable" and CREDENTIAL not in str(down.value)
