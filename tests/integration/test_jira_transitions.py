"""The simulated Jira as a service desk's write-back and its requesters use it, over HTTP: an issue
moves through its workflow by transition id, is assigned and labelled by PUT, is reached by its
numeric id as well as its key, keeps a comment's ADF and JSM's internal-note property, and answers
Basic ``email:token`` only for the token's own account; errors in Jira's shape."""

from __future__ import annotations

from typing import Any

import httpx

from deploy.sandbox.running import Running

AGENT = "atom-bot@acme.example"  # the integration's Jira account
REQUESTER = "priya.raman@acme.example"
WRITER = ["issues.read", "issues.create", "issues.comment", "issues.transition", "issues.edit", "issues.assign"]
REQUESTER_SCOPES = ["issues.read", "issues.create", "issues.comment"]


def doc(*paragraphs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": p} for p in paragraphs]}


def text(value: str, *marks: str) -> dict[str, Any]:
    return {"type": "text", "text": value, **({"marks": [{"type": m} for m in marks]} if marks else {})}


async def client(simulator: Running, account: str, scopes: list[str]) -> httpx.AsyncClient:
    token = await simulator.token("jira", account, scopes)
    return httpx.AsyncClient(base_url=simulator.urls()["jira"], auth=(account, token), timeout=10)


async def new_task(jira: httpx.AsyncClient, summary: str = "Laptop will not charge") -> dict[str, Any]:
    created = await jira.post("/rest/api/3/issue", json={"fields": {"project": {"key": "IT"}, "issuetype": {"name": "Task"}, "summary": summary,
                                                                    "description": doc([text("Since Monday.")])}})
    assert created.status_code == 201, created.text
    return created.json()


async def test_a_task_moves_to_in_progress_then_done_by_transition_id_and_refuses_an_id_it_does_not_offer(simulator: Running) -> None:
    async with await client(simulator, AGENT, WRITER) as jira:
        issue = await new_task(jira)
        offered = (await jira.get(f"/rest/api/3/issue/{issue['key']}/transitions")).json()["transitions"]
        assert [(t["id"], t["name"], t["to"]["name"], t["to"]["statusCategory"]["key"]) for t in offered] == [
            ("21", "In Progress", "In Progress", "indeterminate"), ("31", "Done", "Done", "done")]

        moved = await jira.post(f"/rest/api/3/issue/{issue['key']}/transitions", json={"transition": {"id": "21"}})
        assert (moved.status_code, moved.content) == (204, b"")
        status = (await jira.get(f"/rest/api/3/issue/{issue['key']}")).json()["fields"]["status"]
        assert (status["name"], status["statusCategory"]["key"]) == ("In Progress", "indeterminate")

        refused = await jira.post(f"/rest/api/3/issue/{issue['key']}/transitions", json={"transition": {"id": "21"}})  # it is there already
        assert refused.status_code == 400
        assert refused.json() == {"errorMessages": ["Transition id '21' is not valid for this issue."], "errors": {}}

        # the write-back knows the issue by its id (the upstream reference jira:<id>)
        assert (await jira.post(f"/rest/api/3/issue/{issue['id']}/transitions", json={"transition": {"id": "31"}})).status_code == 204
        done = (await jira.get(f"/rest/api/3/issue/{issue['id']}")).json()
        assert done["key"] == issue["key"]
        assert (done["fields"]["status"]["name"], done["fields"]["status"]["statusCategory"]["key"]) == ("Done", "done")
        assert [t["name"] for t in (await jira.get(f"/rest/api/3/issue/{issue['id']}/transitions")).json()["transitions"]] == ["To Do", "In Progress"]


async def test_done_is_reachable_straight_from_to_do(simulator: Running) -> None:
    async with await client(simulator, AGENT, WRITER) as jira:
        issue = await new_task(jira)
        assert (await jira.post(f"/rest/api/3/issue/{issue['key']}/transitions", json={"transition": {"id": "31"}})).status_code == 204
        assert (await jira.get(f"/rest/api/3/issue/{issue['key']}")).json()["fields"]["status"]["name"] == "Done"


async def test_an_issue_is_assigned_by_account_id_and_labelled_and_the_issue_shows_it(simulator: Running) -> None:
    async with await client(simulator, AGENT, WRITER) as jira:
        issue = await new_task(jira)
        [person] = (await jira.get("/rest/api/3/user/search", params={"query": "priya.raman"})).json()
        assert person["emailAddress"] == REQUESTER

        edited = await jira.put(f"/rest/api/3/issue/{issue['id']}", json={"fields": {"assignee": {"accountId": person["accountId"]}, "labels": ["vpn"]},
                                                                         "update": {"labels": [{"add": "it-desk"}]}})
        assert (edited.status_code, edited.content) == (204, b"")
        fields = (await jira.get(f"/rest/api/3/issue/{issue['key']}")).json()["fields"]
        assert fields["assignee"]["accountId"] == person["accountId"] and fields["assignee"]["emailAddress"] == REQUESTER
        assert fields["labels"] == ["vpn", "it-desk"]

        assert (await jira.put(f"/rest/api/3/issue/{issue['key']}", json={"update": {"labels": [{"remove": "vpn"}]}})).status_code == 204
        assert (await jira.get(f"/rest/api/3/issue/{issue['key']}")).json()["fields"]["labels"] == ["it-desk"]

        unknown = await jira.put(f"/rest/api/3/issue/{issue['key']}", json={"fields": {"assignee": {"accountId": "5b10ac8d82e05b22cc7d4ef5"}}})
        assert unknown.status_code == 400 and unknown.json() == {"errorMessages": [], "errors": {"assignee": "User '5b10ac8d82e05b22cc7d4ef5' does not exist."}}
        odd = await jira.put(f"/rest/api/3/issue/{issue['key']}", json={"fields": {"resolution": {"name": "Fixed"}}})
        assert odd.status_code == 400 and "resolution" in odd.json()["errors"]


async def test_missing_issues_and_missing_permissions_answer_in_jiras_shape(simulator: Running) -> None:
    async with await client(simulator, AGENT, ["issues.read", "issues.create"]) as jira:
        issue = await new_task(jira)
        missing = await jira.get("/rest/api/3/issue/IT-99999/transitions")
        assert missing.status_code == 404 and missing.json() == {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}
        denied = await jira.post(f"/rest/api/3/issue/{issue['key']}/transitions", json={"transition": {"id": "31"}})
        assert denied.status_code == 403 and "issues.transition" in denied.json()["errorMessages"][0]
        denied = await jira.put(f"/rest/api/3/issue/{issue['key']}", json={"fields": {"labels": ["x"]}})
        assert denied.status_code == 403 and "issues.edit" in denied.json()["errorMessages"][0]
        assert (await jira.get(f"/rest/api/3/issue/{issue['key']}")).json()["fields"]["status"]["name"] == "To Do"


async def test_basic_auth_takes_the_tokens_own_email_and_bearer_still_works(simulator: Running) -> None:
    token = await simulator.token("jira", AGENT, WRITER)
    base = simulator.urls()["jira"]
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        mine = await http.get("/rest/api/3/myself", auth=(AGENT, token))
        assert mine.status_code == 200 and mine.json()["emailAddress"] == AGENT
        assert (await http.get("/rest/api/3/myself", auth=(AGENT.upper(), token))).status_code == 200  # an address is not case-sensitive
        assert (await http.get("/rest/api/3/myself", headers={"Authorization": f"Bearer {token}"})).json()["accountId"] == mine.json()["accountId"]
        for auth in ((REQUESTER, token), (AGENT, "not-a-token")):
            refused = await http.get("/rest/api/3/myself", auth=auth)
            assert refused.status_code == 401
            assert refused.json() == {"errorMessages": ["Client must be authenticated to access this resource."], "errors": {}}


async def test_a_requester_reports_and_comments_as_themselves_and_an_internal_note_stays_internal(simulator: Running) -> None:
    async with await client(simulator, REQUESTER, REQUESTER_SCOPES) as requester, await client(simulator, AGENT, WRITER) as agent:
        issue = await new_task(requester, "VPN asks for my password every hour")
        shown = (await agent.get(f"/rest/api/3/issue/{issue['id']}")).json()["fields"]
        assert shown["reporter"]["emailAddress"] == REQUESTER
        assert shown["description"] == doc([text("Since Monday.")])

        answer = doc([text("It is the "), text("GlobalProtect", "strong"), text(" client.")])
        posted = await requester.post(f"/rest/api/3/issue/{issue['id']}/comment", json={"body": answer})
        assert posted.status_code == 201, posted.text
        assert posted.json()["author"]["emailAddress"] == REQUESTER and posted.json()["body"] == answer and posted.json()["jsdPublic"] is True

        note = await agent.post(f"/rest/api/3/issue/{issue['key']}/comment", json={
            "body": doc([text("Handoff: check the VPN group.")]), "properties": [{"key": "sd.public.comment", "value": {"internal": True}}]})
        assert note.status_code == 201 and note.json()["jsdPublic"] is False
        read = await agent.get(f"/rest/api/3/issue/{issue['key']}/comment/{note.json()['id']}", params={"expand": "properties"})
        assert read.json()["properties"] == [{"key": "sd.public.comment", "value": {"internal": True}}]
        listed = (await agent.get(f"/rest/api/3/issue/{issue['id']}/comment")).json()["comments"]
        assert [(c["author"]["emailAddress"], c["jsdPublic"]) for c in listed] == [(REQUESTER, True), (AGENT, False)]
        assert listed[0]["body"] == answer and "properties" not in listed[0]
