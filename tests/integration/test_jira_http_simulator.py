"""The Jira client against the Jira simulator over real HTTP: every connector operation, Jira's 401,
403, 404 and 400 as a user of Jira Cloud sees them, a 429 as a transient error with its wait, and
every write repeated under one idempotency key acting once on the simulator's database, although
the simulated Jira, like the real one, takes no key."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from runtime.vendor.errors import ApiError
from services.skills.connectors.jira import JiraError, Query
from services.skills.connectors.jira_http import JiraHttp, idempotency_label, plain

SCOPES = ["issues.read", "issues.create", "issues.link", "issues.comment"]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def jira(simulator, client: httpx.AsyncClient, scopes: list[str] = SCOPES, *, basic: bool = True) -> JiraHttp:  # noqa: ANN001
    token = await simulator.token("jira", "jordan", scopes)
    return JiraHttp(simulator.urls()["jira"], f"jordan-bot@acme.example:{token}" if basic else token, client)


def incident(key: str, **changes: object) -> dict:
    return {"project": "INC", "issue_type": "Incident", "summary": "VPN down in Austin", "description": "since 9am\n\nall users", "priority": "High", "labels": ["vpn"],
            "idempotency_key": key, "ticket_id": "T-1"} | changes


async def test_an_issue_is_created_read_and_found_over_jiras_rest_api(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    j = await jira(simulator, client)
    made = await j.create_issue(**incident("k1"))
    assert (made.key, made.status, made.status_category, made.reporter, made.priority) == ("INC-13", "Open", "new", "jordan", "High")
    assert made.description == "since 9am\n\nall users" and made.labels == ("vpn", idempotency_label("k1"))
    assert await j.get_issue("INC-13") == made
    found = await j.search(Query(project="INC", labels=("vpn",), open_only=True))
    assert [i.key for i in found] == ["INC-13", "INC-9", "INC-6"]
    assert [(x.label, x.key) for x in (await j.get_issue("INC-10")).links] == [("is caused by", "IT-3")]
    assert [(x.label, x.key) for x in (await j.get_issue("IT-3")).links] == [("causes", "INC-10")]


async def test_search_pages_by_next_page_token_and_the_removed_endpoint_is_gone(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    j = await jira(simulator, client, basic=False)  # a bearer token works too
    made = [await j.create_issue(**incident(f"p{i}", labels=["paging"])) for i in range(7)]
    pages = []
    token = None
    while True:
        response = await client.get(f"{j.base}/rest/api/3/search/jql", params={"jql": 'labels = "paging" ORDER BY created DESC', "maxResults": 3, **({"nextPageToken": token} if token else {})}, headers=j.auth_headers())
        page = response.json()
        pages.append([i["key"] for i in page["issues"]])
        token = page.get("nextPageToken")
        assert page["isLast"] is (token is None)
        if token is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1] and sum(pages, []) == [m.key for m in reversed(made)]
    assert [i.key for i in await j.search(Query(labels=("paging",), exclude=(made[-1].key,), max_results=2))] == [made[-2].key, made[-3].key]
    gone = await client.get(f"{j.base}/rest/api/3/search", params={"jql": 'project = "INC"'}, headers=j.auth_headers())
    assert gone.status_code == 410 and "/rest/api/3/search/jql" in gone.json()["errorMessages"][0]
    unbounded = await client.get(f"{j.base}/rest/api/3/search/jql", params={"jql": "ORDER BY created DESC"}, headers=j.auth_headers())
    assert unbounded.status_code == 400 and "Unbounded JQL" in unbounded.json()["errorMessages"][0]


async def test_every_write_repeated_under_one_key_acts_once_on_jira(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    j = await jira(simulator, client)
    first = await j.create_issue(**incident("same"))
    assert await j.create_issue(**incident("same")) == first
    link = await j.link_issues("Relates", inward=first.key, outward="INC-6")
    assert await j.link_issues("Relates", inward=first.key, outward="INC-6") == link == type(link)("Relates", "relates to", "INC-6")
    said = await j.add_comment(first.key, "paged #it-oncall", idempotency_key="c")
    again = await j.add_comment(first.key, "paged #it-oncall", idempotency_key="c")
    assert said == again and said.body.startswith("paged #it-oncall") and said.author == "jordan"
    pool = simulator.database.pool
    assert await pool.fetchval("SELECT count(*) FROM jira_issues WHERE $1 = ANY(labels)", idempotency_label("same")) == 1
    assert await pool.fetchval("SELECT count(*) FROM jira_issue_links WHERE inward_key = $1", first.key) == 1
    assert await pool.fetch("SELECT body FROM jira_comments WHERE issue_key = $1", first.key) == [(f"paged #it-oncall\n\n(ref {idempotency_label('c')})",)]
    assert [(x.label, x.key) for x in (await j.get_issue(first.key)).links] == [("relates to", "INC-6")]


async def test_the_simulator_itself_takes_no_idempotency_key(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    """Two identical POSTs make two issues, as on Jira Cloud: only the client's marker dedupes."""
    j = await jira(simulator, client)
    body = {"fields": {"project": {"key": "IT"}, "issuetype": {"name": "Task"}, "summary": "Rotate keys", "labels": ["twice"]}}
    answers = [await client.post(f"{j.base}/rest/api/3/issue", json=body, headers=j.auth_headers()) for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201] and answers[0].json()["key"] != answers[1].json()["key"]
    assert set(answers[0].json()) == {"id", "key", "self"}
    assert await simulator.database.pool.fetchval("SELECT count(*) FROM jira_issues WHERE 'twice' = ANY(labels)") == 2


async def test_a_revoked_token_a_missing_scope_and_a_missing_issue_read_as_jira_says_them(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    reader = await jira(simulator, client, ["issues.read"])
    with pytest.raises(JiraError) as refused:
        await reader.create_issue(**incident("k9"))
    assert (refused.value.status, refused.value.transient) == (403, False) and "lacks issues.create" in refused.value.messages[0]
    with pytest.raises(JiraError) as missing:
        await reader.get_issue("INC-999")
    assert (missing.value.status, missing.value.messages) == (404, ["Issue does not exist or you do not have permission to see it."])
    with pytest.raises(JiraError) as bad:
        await (await jira(simulator, client)).create_issue(**incident("k", summary=" ", labels=["two words"]))
    assert bad.value.status == 400 and set(bad.value.errors) == {"summary", "labels"}
    async with simulator.admin as admin:
        (await admin.post("/tokens/revoke", json={"coworker": "jordan", "system": "jira"})).raise_for_status()
    with pytest.raises(JiraError) as revoked:
        await reader.get_issue("INC-6")
    assert (revoked.value.status, revoked.value.messages) == (401, ["Client must be authenticated to access this resource."])
    nobody = await client.get(f"{reader.base}/rest/api/3/issue/INC-6", headers={"Authorization": "Basic " + base64.b64encode(b"x@acme.example:nope").decode()})
    assert nobody.status_code == 401 and nobody.json() == {"errorMessages": ["Client must be authenticated to access this resource."], "errors": {}}
    assert await simulator.database.pool.fetchval("SELECT count(*) FROM jira_issues WHERE key = 'INC-13'") == 0


async def test_a_429_arrives_as_a_transient_error_with_jiras_wait(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    j = await jira(simulator, client)
    await simulator.hook("faults", system="jira", status=429, retry_after=7, method="POST", path="/rest/api/3/issue")
    with pytest.raises(ApiError) as limited:
        await j.create_issue(**incident("rl"))
    assert (limited.value.status, limited.value.transient) == (429, True) and limited.value.retry_after == pytest.approx(7)
    again = await j.create_issue(**incident("rl"))  # the runner's retry: nothing was made, so it is made now, once
    assert again.key == "INC-13" and await simulator.database.pool.fetchval("SELECT count(*) FROM jira_issues WHERE $1 = ANY(labels)", idempotency_label("rl")) == 1


async def test_comments_travel_as_adf(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    j = await jira(simulator, client)
    await j.add_comment("INC-6", "line one\nline two", idempotency_key="adf")
    page = (await client.get(f"{j.base}/rest/api/3/issue/INC-6/comment", params={"orderBy": "-created"}, headers=j.auth_headers())).json()
    body = page["comments"][0]["body"]
    assert body["type"] == "doc" and body["content"][0]["content"][1] == {"type": "hardBreak"} and plain(body).startswith("line one\nline two")
    as_text = await client.post(f"{j.base}/rest/api/3/issue/INC-6/comment", json={"body": "plain text is v2"}, headers=j.auth_headers())
    assert as_text.status_code == 400 and "Atlassian Document" in as_text.json()["errors"]["comment"]
