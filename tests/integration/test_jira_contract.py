"""Jira's documented response shapes (tests/fixtures/vendors/jira, written from the REST v3
reference's examples) hold both ways: the client reads each documented body, and the simulator
answers with every documented key, typed as documented, so the simulator cannot drift from Jira."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from services.skills.connectors.jira import JiraError, Query
from services.skills.connectors.jira_http import JiraHttp
from tests.integration.shapes import assert_shape

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "jira"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
async def documented() -> AsyncIterator[str]:
    """A Jira that answers only with the documentation's example bodies."""
    routes = {
        ("GET", "/rest/api/3/issue/ED-1"): (200, "issue"), ("GET", "/rest/api/3/search/jql"): (200, "search_jql"),
        ("POST", "/rest/api/3/issue"): (201, "created_issue"), ("GET", "/rest/api/3/issue/ED-24"): (200, "issue"),
        ("GET", "/rest/api/3/issue/ED-1/comment"): (200, "comments"), ("POST", "/rest/api/3/issue/ED-1/comment"): (201, "comment"),
    }

    async def serve(request: web.Request) -> web.Response:
        if request.path == "/rest/api/3/issue/BAD-1":
            return web.json_response(fixture("error_400"), status=400)
        status, name = routes[(request.method, request.path)]
        body = fixture(name)
        if name == "search_jql" and request.query.get("nextPageToken"):
            body = {"issues": [], "isLast": True}
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


async def test_the_client_reads_jiras_documented_bodies(documented: str) -> None:
    async with httpx.AsyncClient() as client:
        jira = JiraHttp(documented, "mia@example.com:token", client)
        issue = await jira.get_issue("ED-1")
        assert (issue.key, issue.project, issue.issue_type, issue.priority, issue.status, issue.status_category) == ("ED-1", "ED", "Task", "High", "In Progress", "indeterminate")
        assert issue.description == "Main order flow broken" and issue.reporter == "Mia Krystof" and issue.created is not None and issue.created.year == 2019
        assert [(x.label, x.key) for x in issue.links] == [("is depended by", "PR-2"), ("depends on", "PR-3")]
        assert [i.key for i in await jira.search(Query(project="ED", max_results=10))] == ["ED-1"]
        comment = await jira.add_comment("ED-1", "something new", idempotency_key="k")  # the page holds no reference: it posts
        assert (comment.id, comment.author, comment.body) == ("10000", "Mia Krystof", "Lorem ipsum dolor sit amet, consectetur adipiscing elit.")
        assert (await jira.create_issue(project="ED", issue_type="Task", summary="s", description="d", priority="High", labels=[], idempotency_key="new", ticket_id="T")).key == "ED-1"
        with pytest.raises(JiraError) as bad:
            await jira.get_issue("BAD-1")
        assert bad.value.errors == {"summary": "You must specify a summary of the issue."}


async def test_the_simulator_answers_with_the_documented_shapes(simulator) -> None:  # noqa: ANN001
    token = await simulator.token("jira", "jordan", ["issues.read", "issues.create", "issues.link", "issues.comment"])
    base = simulator.urls()["jira"]
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        created = await http.post("/rest/api/3/issue", json={"fields": {"project": {"key": "INC"}, "issuetype": {"name": "Incident"}, "summary": "s",
                                                                         "description": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "d"}]}]}}})
        assert created.status_code == 201
        assert_shape(fixture("created_issue"), created.json())
        linked = await http.post("/rest/api/3/issueLink", json={"type": {"name": "Blocks"}, "inwardIssue": {"key": created.json()["key"]}, "outwardIssue": {"key": "INC-10"}})
        assert (linked.status_code, linked.content) == (201, b"")
        assert_shape(fixture("issue"), (await http.get("/rest/api/3/issue/INC-10")).json())  # links on both sides
        assert_shape(fixture("search_jql"), (await http.get("/rest/api/3/search/jql", params={"jql": 'labels = "vpn"', "maxResults": 1})).json())
        posted = await http.post("/rest/api/3/issue/INC-10/comment", json={"body": fixture("comment")["body"]})
        assert posted.status_code == 201
        assert_shape(fixture("comment"), posted.json())
        assert_shape(fixture("comments"), (await http.get("/rest/api/3/issue/INC-10/comment")).json())
        bad = await http.post("/rest/api/3/issue", json={"fields": {"project": {"key": "INC"}, "issuetype": {"name": "Incident"}, "summary": ""}})
        assert bad.status_code == 400
        assert bad.json() == fixture("error_400")
