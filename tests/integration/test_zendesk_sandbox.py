"""The Zendesk simulator as a client of the real Zendesk would meet it: over HTTP, with an API token
as basic auth, Zendesk's status codes and error bodies, and response shapes that match, key by key
and type by type, the examples recorded from Zendesk's documentation in
``tests/fixtures/vendors/zendesk/`` (each names the page it came from)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr

from deploy.sandbox import server
from deploy.sandbox.zendesk import SANDBOX, ZendeskSandbox, ZendeskSettings, ZendeskStore, create_app

DOCUMENTED = Path(__file__).parents[1] / "fixtures" / "vendors" / "zendesk"
EMAIL, TOKEN, OAUTH = "atom-bot@acme.example", "zd-sandbox-token-7f3a", "oauth-access-token-91bc"
ROOT = Path(__file__).parents[2]


def documented(name: str) -> dict[str, Any]:
    return json.loads((DOCUMENTED / f"{name}.json").read_text())


def shape_differences(ours: Any, theirs: Any, where: str = "$") -> list[str]:
    """Where ``ours`` differs in shape from Zendesk's documented example: a key missing or extra, or
    a value of another JSON type. A null on either side stands for any type (the field is nullable)."""
    if ours is None or theirs is None:
        return []
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            return [f"{where}: an object in Zendesk's docs, {type(ours).__name__} here"]
        found = [f"{where}.{k}: missing" for k in theirs.keys() - ours.keys()]
        found += [f"{where}.{k}: not in Zendesk's docs" for k in ours.keys() - theirs.keys()]
        for key in theirs.keys() & ours.keys():
            found += shape_differences(ours[key], theirs[key], f"{where}.{key}")
        return found
    if isinstance(theirs, list):
        if not isinstance(ours, list):
            return [f"{where}: an array in Zendesk's docs, {type(ours).__name__} here"]
        return [d for n, item in enumerate(ours) if theirs for d in shape_differences(item, _counterpart(item, theirs), f"{where}[{n}]")]
    if type(ours) is not type(theirs):
        return [f"{where}: {type(theirs).__name__} in Zendesk's docs, {type(ours).__name__} here ({ours!r})"]
    return []


def _counterpart(item: Any, documented_items: list[Any]) -> Any:
    """The documented item to compare with: in mixed lists (audit events), one of the same ``type``
    and, where there is one, the same ``field_name`` (a ``tags`` event's value is an array)."""
    if not isinstance(item, dict) or "type" not in item:
        return documented_items[0]
    alike = [d for d in documented_items if isinstance(d, dict) and d.get("type") == item["type"]] or documented_items
    return next((d for d in alike if d.get("field_name") == item.get("field_name")), alike[0])


def shaped_like(ours: dict[str, Any], name: str, *, only: str | None = None) -> None:
    theirs = documented(name)["body"]
    if only is not None:
        ours, theirs = {only: ours[only]}, {only: theirs[only]}
    assert shape_differences(ours, theirs) == [], f"differs from {documented(name)['source']}"


@pytest.fixture
async def zendesk(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A running simulator, its state in this test's database (the simulator's schema), and an HTTP
    client holding the integration's API token."""
    settings = ZendeskSettings(email=EMAIL, api_token=SecretStr(TOKEN), oauth_token=SecretStr(OAUTH))
    database = server.database(database_url)
    await database.open()
    runner = web.AppRunner(create_app(settings, ZendeskStore(server.SandboxState(database))))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", auth=(f"{EMAIL}/token", TOKEN)) as client:
        client.sandbox = runner.app[SANDBOX]  # type: ignore[attr-defined]
        yield client
    await runner.cleanup()
    await database.close()


async def seeded_requester(zendesk: httpx.AsyncClient) -> int:
    sandbox: ZendeskSandbox = zendesk.sandbox  # type: ignore[attr-defined]
    return (await sandbox.store.user_by_email("priya.raman@acme.example"))["id"]  # type: ignore[index]


async def open_ticket(zendesk: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"subject": "VPN drops every ten minutes", "comment": {"body": "Since this morning the VPN disconnects."}, **fields}
    response = await zendesk.post("/api/v2/tickets.json", json={"ticket": body})
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_ticket_created_for_a_seeded_requester_reads_back_as_zendesk_shows_it(zendesk: httpx.AsyncClient) -> None:
    requester = await seeded_requester(zendesk)
    created = await open_ticket(zendesk, requester_id=requester, priority="high", type="incident", tags=["vpn"],
                                custom_fields=[{"id": 360001, "value": "laptop"}])
    shaped_like(created, "create_ticket")
    ticket = created["ticket"]
    assert (ticket["status"], ticket["priority"], ticket["requester_id"], ticket["tags"]) == ("new", "high", requester, ["vpn"])
    assert ticket["description"] == "Since this morning the VPN disconnects."
    assert ticket["created_at"].endswith("Z") and ticket["url"].endswith(f"/api/v2/tickets/{ticket['id']}.json")
    assert created["audit"]["events"][0]["type"] == "Comment"

    shown = await zendesk.get(f"/api/v2/tickets/{ticket['id']}.json")
    assert shown.status_code == 200
    shaped_like(shown.json(), "show_ticket")
    assert shown.json()["ticket"] == ticket
    assert shown.headers["X-Rate-Limit"] == "700"

    listed = (await zendesk.get("/api/v2/tickets.json")).json()
    assert [t["id"] for t in listed["tickets"]] == [ticket["id"]] and listed["count"] == 1

    requester_shown = await zendesk.get(f"/api/v2/users/{requester}.json")
    shaped_like(requester_shown.json(), "show_user")
    assert requester_shown.json()["user"]["email"] == "priya.raman@acme.example"


async def test_a_requester_added_through_the_users_api_can_raise_a_ticket(zendesk: httpx.AsyncClient) -> None:
    made = await zendesk.post("/api/v2/users.json", json={"user": {"name": "Dana Cruz", "email": "dana.cruz@acme.example"}})
    assert made.status_code == 201
    shaped_like(made.json(), "show_user")
    ticket = (await open_ticket(zendesk, requester_id=made.json()["user"]["id"]))["ticket"]
    assert ticket["requester_id"] == made.json()["user"]["id"]
    by_email = (await open_ticket(zendesk, requester={"name": "Dana Cruz", "email": "dana.cruz@acme.example"}))["ticket"]
    assert by_email["requester_id"] == made.json()["user"]["id"]


async def test_public_replies_and_internal_notes_list_oldest_first_across_cursor_pages(zendesk: httpx.AsyncClient) -> None:
    ticket = (await open_ticket(zendesk, requester_id=await seeded_requester(zendesk)))["ticket"]
    reply = await zendesk.put(f"/api/v2/tickets/{ticket['id']}.json", json={"ticket": {"comment": {"body": "Could you restart the client?"}}})
    assert reply.status_code == 200
    note = await zendesk.put(f"/api/v2/tickets/{ticket['id']}.json",
                             json={"ticket": {"comment": {"body": "Likely the 2026.11 client bug.", "public": False}}})
    assert note.json()["audit"]["events"][0]["public"] is False
    for n in range(3):
        await zendesk.put(f"/api/v2/tickets/{ticket['id']}.json", json={"ticket": {"comment": {"body": f"Follow-up {n}"}}})

    pages, url = [], f"/api/v2/tickets/{ticket['id']}/comments.json?page[size]=2"
    while True:
        page = (await zendesk.get(url)).json()
        pages.append(page)
        if not page["meta"]["has_more"]:
            break
        url = page["links"]["next"]  # an absolute URL, as Zendesk gives it
    shaped_like(pages[0], "list_comments")
    comments = [c for page in pages for c in page["comments"]]
    assert [len(p["comments"]) for p in pages] == [2, 2, 2]
    assert [c["body"] for c in comments] == ["Since this morning the VPN disconnects.", "Could you restart the client?",
                                             "Likely the 2026.11 client bug.", "Follow-up 0", "Follow-up 1", "Follow-up 2"]
    assert [c["public"] for c in comments] == [True, True, False, True, True, True]
    assert all(c["type"] == "Comment" and c["plain_body"] == c["body"] for c in comments)

    back = (await zendesk.get(pages[1]["links"]["prev"])).json()
    assert [c["id"] for c in back["comments"]] == [c["id"] for c in pages[0]["comments"]]
    offset = (await zendesk.get(f"/api/v2/tickets/{ticket['id']}/comments.json")).json()
    assert offset["count"] == 6 and offset["next_page"] is None


async def test_an_agent_solves_the_ticket_and_the_audit_records_the_change(zendesk: httpx.AsyncClient) -> None:
    ticket = (await open_ticket(zendesk, requester_id=await seeded_requester(zendesk)))["ticket"]
    opened = await zendesk.put(f"/api/v2/tickets/{ticket['id']}.json", json={"ticket": {"status": "open"}})
    solved = await zendesk.put(f"/api/v2/tickets/{ticket['id']}.json",
                               json={"ticket": {"status": "solved", "comment": {"body": "Fixed by the client update.", "public": True}}})
    assert opened.status_code == solved.status_code == 200
    shaped_like(solved.json(), "update_ticket", only="audit")
    shaped_like(solved.json(), "show_ticket", only="ticket")
    change = [e for e in solved.json()["audit"]["events"] if e["type"] == "Change"]
    assert change == [{"id": change[0]["id"], "type": "Change", "field_name": "status", "value": "solved", "previous_value": "open"}]
    assert (await zendesk.get(f"/api/v2/tickets/{ticket['id']}.json")).json()["ticket"]["status"] == "solved"


async def test_a_caller_without_the_api_token_is_not_authenticated(zendesk: httpx.AsyncClient) -> None:
    for auth in [None, (f"{EMAIL}/token", "wrong-token"), (EMAIL, TOKEN)]:
        response = await zendesk.get("/api/v2/tickets.json", auth=auth or httpx.Auth())  # httpx.Auth(): none
        assert response.status_code == 401
        assert response.json() == documented("errors")["401"]
    bearer = await zendesk.get("/api/v2/tickets.json", auth=httpx.Auth(), headers={"Authorization": f"Bearer {OAUTH}"})
    assert bearer.status_code == 200


async def test_an_unknown_ticket_or_user_is_zendesks_record_not_found(zendesk: httpx.AsyncClient) -> None:
    for path in ["/api/v2/tickets/999999.json", "/api/v2/tickets/999999/comments.json", "/api/v2/users/42.json"]:
        response = await zendesk.get(path)
        assert response.status_code == 404
        assert response.json() == documented("errors")["404"]
    update = await zendesk.put("/api/v2/tickets/999999.json", json={"ticket": {"status": "solved"}})
    assert update.status_code == 404


async def test_an_invalid_ticket_is_refused_with_zendesks_field_details(zendesk: httpx.AsyncClient) -> None:
    blank = await zendesk.post("/api/v2/tickets.json", json={"ticket": {"subject": "No description"}})
    assert blank.status_code == 422
    assert shape_differences(blank.json(), documented("errors")["422"]) == []
    assert blank.json()["details"]["base"][0]["error"] == "BlankValue"

    ticket = (await open_ticket(zendesk))["ticket"]
    wrong = await zendesk.put(f"/api/v2/tickets/{ticket['id']}.json", json={"ticket": {"status": "done", "priority": "asap"}})
    assert wrong.status_code == 422
    assert set(wrong.json()["details"]) == {"status", "priority"}
    assert "'done' is not one of new, open, pending, hold, solved, closed" in wrong.json()["details"]["status"][0]["description"]
    no_one = await zendesk.post("/api/v2/tickets.json", json={"ticket": {"requester_id": 1, "comment": {"body": "x"}}})
    assert no_one.status_code == 422 and "requester" in no_one.json()["details"]

    await zendesk.put(f"/api/v2/tickets/{ticket['id']}.json", json={"ticket": {"status": "closed"}})
    closed = await zendesk.put(f"/api/v2/tickets/{ticket['id']}.json", json={"ticket": {"comment": {"body": "One more thing"}}})
    assert closed.status_code == 422 and closed.json()["details"]["base"][0]["error"] == "ClosedTicket"


async def test_a_rate_limited_call_says_when_to_retry_and_then_succeeds(zendesk: httpx.AsyncClient) -> None:
    hook = await zendesk.post("/_sandbox/faults", json={"status": 429, "retry_after": 1, "times": 1})
    assert hook.status_code == 201
    limited = await zendesk.post("/api/v2/tickets.json", json={"ticket": {"comment": {"body": "Printer jammed"}}})
    recorded = documented("errors")["429"]
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1" and limited.headers["content-type"].startswith(recorded["content_type"])
    assert limited.text == recorded["text"] and all(h in limited.headers for h in recorded["headers"])
    assert (await zendesk.get("/api/v2/tickets.json")).json()["tickets"] == []  # nothing was created

    await asyncio.sleep(int(limited.headers["Retry-After"]))
    retried = await zendesk.post("/api/v2/tickets.json", json={"ticket": {"comment": {"body": "Printer jammed"}}})
    assert retried.status_code == 201


async def test_an_outage_answers_503_only_on_the_path_it_was_set_for(zendesk: httpx.AsyncClient) -> None:
    await zendesk.post("/_sandbox/faults", json={"status": 503, "times": 2, "method": "GET", "path": "/api/v2/tickets.json"})
    assert (await zendesk.get("/api/v2/users/1.json")).status_code == 404  # another path is unaffected
    assert [(await zendesk.get("/api/v2/tickets.json")).status_code for _ in range(3)] == [503, 503, 200]
    bad = await zendesk.post("/_sandbox/faults", json={"status": 200})
    assert bad.status_code == 400 and "400-599" in bad.json()["error"]


async def test_a_reset_drops_tickets_and_reseeds_the_users(zendesk: httpx.AsyncClient) -> None:
    await open_ticket(zendesk)
    await zendesk.post("/api/v2/users.json", json={"user": {"name": "Dana Cruz", "email": "dana.cruz@acme.example"}})
    assert (await zendesk.post("/_sandbox/reset")).json() == {"users": 4, "tickets": 0}
    assert (await zendesk.get("/api/v2/tickets.json")).json()["tickets"] == []
    assert await seeded_requester(zendesk)


async def test_the_simulator_runs_as_its_own_process(database_url: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "deploy.sandbox.zendesk", "--port", str(port), "--email", EMAIL, "--token", TOKEN],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "DATABASE_URL": database_url})
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", auth=(f"{EMAIL}/token", TOKEN)) as client:
            for _ in range(100):
                try:
                    response = await client.get("/api/v2/tickets.json")
                    break
                except httpx.ConnectError:
                    assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("the simulator did not listen within 10 s")
            assert response.status_code == 200 and response.json()["tickets"] == []
    finally:
        process.terminate()
        process.wait(timeout=10)
