"""The service desks tickets come from, ServiceNow and Zendesk, as the composite simulator serves them
(``/servicenow``, ``/zendesk``): reached with a token its administration API issued, refusing any
other, behind the shared fault hooks, and keeping their incidents and tickets when the simulator is
restarted on the same database. They are upstream systems, not skills' ones: the URLs the skills
service is given leave them out."""

from __future__ import annotations

from typing import Any

import httpx

from deploy.sandbox import server
from deploy.sandbox.running import Running, running
from services.skills.systems import Systems

INCIDENTS = "/api/now/table/incident"
AGENT = "atom-bot@acme.example"  # the Zendesk integration's agent, seeded with the account


def upstream(simulator: Running, system: str) -> str:
    return server.urls(simulator.url, server.UPSTREAM)[system]


async def test_servicenow_answers_the_token_issued_to_its_user_and_refuses_any_other(simulator: Running) -> None:
    base, user = upstream(simulator, "servicenow"), "workforce.integration"
    token = await simulator.token("servicenow", user, [])
    elsewhere = await simulator.token("zendesk", user, [])
    async with httpx.AsyncClient(base_url=base, auth=(user, token)) as servicenow:
        created = await servicenow.post(INCIDENTS, json={"short_description": "Unable to connect to office wifi", "work_notes": "Raised by the integration."})
        assert created.status_code == 201, created.text
        incident = created.json()["result"]
        assert (incident["sys_created_by"], incident["number"]) == (user, "INC0010001")
        assert created.headers["Location"] == f"{base}{INCIDENTS}/{incident['sys_id']}"
        assert incident["opened_by"]["link"].startswith(f"{base}/api/now/table/sys_user/")

        bearer = await servicenow.get(f"{INCIDENTS}/{incident['sys_id']}", auth=httpx.Auth(), headers={"Authorization": f"Bearer {token}"})
        assert bearer.status_code == 200 and bearer.json()["result"]["number"] == "INC0010001"

        refused = [await servicenow.get(INCIDENTS, auth=auth) for auth in ((user, "not-a-token"), ("someone.else", token), (user, elsewhere))]
        refused.append(await servicenow.get(INCIDENTS, auth=httpx.Auth()))
        for response in refused:
            assert response.status_code == 401
            assert response.json() == {"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}, "status": "failure"}

        await simulator.hook("faults", system="servicenow", status=503, path="/api/now/table/incident")
        assert [(await servicenow.get(INCIDENTS)).status_code for _ in range(2)] == [503, 200]

        async with simulator.admin as admin:
            (await admin.post("/tokens/revoke", json={"coworker": user, "system": "servicenow"})).raise_for_status()
        assert (await servicenow.get(INCIDENTS)).status_code == 401

    urls = simulator.urls()
    assert not set(server.UPSTREAM) & set(urls)
    Systems(urls)  # the skills service takes the simulator's URLs as they are


async def test_zendesk_answers_an_issued_api_token_or_oauth_token_and_refuses_any_other(simulator: Running) -> None:
    base = upstream(simulator, "zendesk")
    token = await simulator.token("zendesk", "atom", [])
    elsewhere = await simulator.token("servicenow", "atom", [])
    async with httpx.AsyncClient(base_url=base, auth=(f"{AGENT}/token", token)) as zendesk:
        created = await zendesk.post("/api/v2/tickets.json", json={"ticket": {"subject": "VPN drops", "comment": {"body": "Since this morning."}}})
        assert created.status_code == 201, created.text
        ticket = created.json()["ticket"]
        assert ticket["url"] == f"{base}/api/v2/tickets/{ticket['id']}.json"
        agent = (await zendesk.get(f"/api/v2/users/{ticket['submitter_id']}.json")).json()["user"]
        assert (agent["email"], agent["role"]) == (AGENT, "admin")

        bearer = await zendesk.get("/api/v2/tickets.json", auth=httpx.Auth(), headers={"Authorization": f"Bearer {token}"})
        assert bearer.status_code == 200 and [t["id"] for t in bearer.json()["tickets"]] == [ticket["id"]]

        requester = "priya.raman@acme.example"  # an end-user: a Zendesk API token does not act as one
        refused = [await zendesk.get("/api/v2/tickets.json", auth=auth)
                   for auth in ((f"{AGENT}/token", "not-a-token"), (f"{requester}/token", token), (f"{AGENT}/token", elsewhere), (AGENT, token))]
        refused.append(await zendesk.get("/api/v2/tickets.json", auth=httpx.Auth(), headers={"Authorization": "Bearer not-a-token"}))
        for response in refused:
            assert response.status_code == 401
            assert response.json() == {"error": "Couldn't authenticate you"}

        await simulator.hook("faults", system="zendesk", status=429, retry_after=1)
        limited = await zendesk.get("/api/v2/tickets.json")
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "1")
        assert (await zendesk.get("/api/v2/tickets.json")).status_code == 200


async def test_a_servicenow_incident_and_its_work_notes_survive_a_restart_of_the_simulator(database_url: str) -> None:
    user = "workforce.integration"
    async with running(database_url, employees=None) as first:
        token = await first.token("servicenow", user, [])
        async with httpx.AsyncClient(base_url=upstream(first, "servicenow"), auth=(user, token)) as servicenow:
            incident = (await servicenow.post(INCIDENTS, json={"short_description": "Printer on floor 3 jams", "urgency": "2"})).json()["result"]
            noted = await servicenow.patch(f"{INCIDENTS}/{incident['sys_id']}", json={"work_notes": "Ordered a new fuser."})
            assert noted.status_code == 200

    async with running(database_url, employees=None) as again:
        async with httpx.AsyncClient(base_url=upstream(again, "servicenow"), auth=(user, token)) as servicenow:  # the token was kept too
            found = await servicenow.get(INCIDENTS, params={"sysparm_query": f"number={incident['number']}", "sysparm_display_value": "true"})
            assert found.status_code == 200, found.text
            [kept] = found.json()["result"]
            assert (kept["sys_id"], kept["short_description"], kept["priority"], kept["sys_mod_count"]) == (incident["sys_id"], "Printer on floor 3 jams", "4 - Low", "1")
            assert "Ordered a new fuser." in kept["work_notes"]
            following = (await servicenow.post(INCIDENTS, json={"short_description": "Another"})).json()["result"]
            assert following["number"] == "INC0010002"  # numbering goes on


async def test_a_zendesk_ticket_and_its_comments_survive_a_restart_of_the_simulator(database_url: str) -> None:
    async def comments(zendesk: httpx.AsyncClient, ticket: dict[str, Any]) -> list[str]:
        return [c["body"] for c in (await zendesk.get(f"/api/v2/tickets/{ticket['id']}/comments.json")).json()["comments"]]

    async with running(database_url, employees=None) as first:
        token = await first.token("zendesk", "atom", [])
        async with httpx.AsyncClient(base_url=upstream(first, "zendesk"), auth=(f"{AGENT}/token", token)) as zendesk:
            ticket = (await zendesk.post("/api/v2/tickets.json", json={"ticket": {"subject": "Badge does not open door 4", "comment": {"body": "Since Monday."}}})).json()["ticket"]
            solved = await zendesk.put(f"/api/v2/tickets/{ticket['id']}.json", json={"ticket": {"status": "solved", "comment": {"body": "Re-encoded the badge."}}})
            assert solved.status_code == 200
            before = await comments(zendesk, ticket)

    async with running(database_url, employees=None) as again:
        async with httpx.AsyncClient(base_url=upstream(again, "zendesk"), auth=(f"{AGENT}/token", token)) as zendesk:
            shown = await zendesk.get(f"/api/v2/tickets/{ticket['id']}.json")
            assert shown.status_code == 200, shown.text
            assert (shown.json()["ticket"]["subject"], shown.json()["ticket"]["status"]) == ("Badge does not open door 4", "solved")
            assert await comments(zendesk, ticket) == before == ["Since Monday.", "Re-encoded the badge."]
            following = (await zendesk.post("/api/v2/tickets.json", json={"ticket": {"comment": {"body": "Another"}}})).json()["ticket"]
            assert following["id"] == ticket["id"] + 1  # ids go on
        assert await again.database.pool.fetchval("SELECT count(*) FROM zendesk_users") == 4  # seeded once, not again at the restart
