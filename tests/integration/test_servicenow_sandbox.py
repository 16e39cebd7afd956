"""The ServiceNow sandbox as a client sees it over HTTP: incidents are created, found by sys_id and by
number, resolved with close notes, and carry work notes as journal entries; lists page with
X-Total-Count and Link; Basic auth, 404s, data policy and injected 503/429 answer as an instance
does; and every response has the keys and value types of ServiceNow's documented examples
(tests/fixtures/vendors/servicenow/)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from deploy.sandbox import server
from deploy.sandbox.servicenow import IncidentStore, create_app, main
from tests.conftest import FIXTURES

USER, PASSWORD = "workforce.integration", "s3cret-not-real"
RECORDED = FIXTURES / "vendors" / "servicenow"
INCIDENTS = "/api/now/table/incident"
JOURNAL = "/api/now/table/sys_journal_field"


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


def shape(value: Any) -> Any:
    """Keys and value types, not values: a reference is {"link": str, "value": str}, a field a str."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    return type(value).__name__


def links(response: httpx.Response) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>;rel="(\w+)"', response.headers.get("Link", ""))}


@pytest.fixture
async def instance(database_url: str) -> AsyncIterator[str]:
    """The standalone instance, its state in this test's database (the simulator's schema)."""
    database = server.database(database_url)
    await database.open()
    runner = web.AppRunner(create_app(user=USER, password=PASSWORD, store=IncidentStore(server.SandboxState(database))))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await database.close()


@pytest.fixture
async def servicenow(instance: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=instance, auth=(USER, PASSWORD), headers={"Accept": "application/json"}) as client:
        yield client


async def open_incident(client: httpx.AsyncClient, **fields: str) -> dict[str, Any]:
    response = await client.post(INCIDENTS, json={"short_description": "Unable to connect to office wifi", **fields})
    assert response.status_code == 201, response.text
    return response.json()["result"]


async def test_a_created_incident_reads_back_by_sys_id_and_by_its_number(servicenow: httpx.AsyncClient) -> None:
    created = await open_incident(servicenow, urgency="2", impact="2", caller_id="46c6f9efa9fe198101ddf5eed9adf6e7")
    assert re.fullmatch(r"[0-9a-f]{32}", created["sys_id"])
    assert re.fullmatch(r"INC\d{7}", created["number"])
    assert (created["state"], created["priority"], created["active"]) == ("1", "3", "true")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", created["sys_created_on"])
    assert created["caller_id"]["value"] == "46c6f9efa9fe198101ddf5eed9adf6e7"
    assert created["caller_id"]["link"].endswith("/api/now/table/sys_user/46c6f9efa9fe198101ddf5eed9adf6e7")

    by_id = await servicenow.get(f"{INCIDENTS}/{created['sys_id']}")
    assert by_id.status_code == 200 and by_id.json()["result"] == created

    by_number = await servicenow.get(INCIDENTS, params={"sysparm_query": f"number={created['number']}"})
    assert [r["sys_id"] for r in by_number.json()["result"]] == [created["sys_id"]]
    assert by_number.headers["X-Total-Count"] == "1"

    fields = await servicenow.get(INCIDENTS, params={"sysparm_query": f"sys_id={created['sys_id']}^active=true",
                                                     "sysparm_fields": "number,state,no_such_field"})
    assert fields.json()["result"] == [{"number": created["number"], "state": "1"}]


async def test_resolving_an_incident_records_its_close_notes_and_who_resolved_it(servicenow: httpx.AsyncClient) -> None:
    created = await open_incident(servicenow)
    refused = await servicenow.patch(f"{INCIDENTS}/{created['sys_id']}", json={"state": "6"})
    assert refused.status_code == 403
    assert shape(refused.json()) == shape(recorded("error_403_data_policy.json"))
    assert "Resolution code, Close notes" in refused.json()["error"]["detail"]

    resolved = await servicenow.patch(f"{INCIDENTS}/{created['sys_id']}", json={
        "state": "6", "close_code": "Solution provided", "close_notes": "Reset the wifi profile on the laptop."})
    assert resolved.status_code == 200, resolved.text
    result = resolved.json()["result"]
    assert (result["state"], result["incident_state"], result["close_code"]) == ("6", "6", "Solution provided")
    assert result["close_notes"] == "Reset the wifi profile on the laptop."
    assert result["resolved_at"] and result["resolved_by"]["value"] and result["sys_updated_by"] == USER
    assert result["sys_mod_count"] == "1"

    shown = await servicenow.get(f"{INCIDENTS}/{created['sys_id']}", params={"sysparm_display_value": "true"})
    assert shown.json()["result"]["state"] == "Resolved"

    closed = await servicenow.put(f"{INCIDENTS}/{created['sys_id']}", json={"state": "7"})
    assert (closed.json()["result"]["state"], closed.json()["result"]["active"]) == ("7", "false")


async def test_two_work_notes_are_two_journal_entries_and_the_field_reads_as_the_journal(servicenow: httpx.AsyncClient) -> None:
    created = await open_incident(servicenow)
    for note in ("Checked the access point: healthy.", "Asked the caller to forget the network and rejoin."):
        response = await servicenow.patch(f"{INCIDENTS}/{created['sys_id']}", json={"work_notes": note})
        assert response.status_code == 200
        assert response.json()["result"]["work_notes"] == ""  # a journal field reads as "" with actual values

    entries = await servicenow.get(JOURNAL, params={
        "sysparm_query": f"element_id={created['sys_id']}^element=work_notes^ORDERBYsys_created_on"})
    assert entries.status_code == 200
    result = entries.json()["result"]
    assert [e["value"] for e in result] == ["Checked the access point: healthy.",
                                           "Asked the caller to forget the network and rejoin."]
    assert {(e["name"], e["element"], e["element_id"], e["sys_created_by"]) for e in result} == {
        ("incident", "work_notes", created["sys_id"], USER)}
    assert shape(entries.json()) == shape(recorded("sys_journal_field_list.json"))

    comments = await servicenow.get(JOURNAL, params={"sysparm_query": f"element_id={created['sys_id']}^element=comments"})
    assert comments.json()["result"] == []

    shown = (await servicenow.get(f"{INCIDENTS}/{created['sys_id']}", params={"sysparm_display_value": "true"})).json()
    text = shown["result"]["work_notes"]
    assert text.index("Asked the caller") < text.index("Checked the access point")  # newest first
    assert f" - {USER} (Work notes)\n" in text


async def test_a_long_list_pages_with_x_total_count_and_link_headers(servicenow: httpx.AsyncClient) -> None:
    numbers = [(await open_incident(servicenow, category="network"))["number"] for _ in range(5)]
    await open_incident(servicenow, category="software")

    first = await servicenow.get(INCIDENTS, params={"sysparm_query": "category=network^ORDERBYnumber", "sysparm_limit": "2"})
    assert first.headers["X-Total-Count"] == "5"
    assert [r["number"] for r in first.json()["result"]] == numbers[:2]
    assert set(links(first)) == {"first", "next", "last"}

    seen, url = [], f"{INCIDENTS}?sysparm_query=category%3Dnetwork%5EORDERBYnumber&sysparm_limit=2"
    while url:
        page = await servicenow.get(url)
        seen += [r["number"] for r in page.json()["result"]]
        url = links(page).get("next", "")
    assert seen == numbers

    last = await servicenow.get(links(first)["last"])
    assert [r["number"] for r in last.json()["result"]] == numbers[4:]
    assert set(links(last)) == {"first", "prev", "last"}


async def test_without_or_with_wrong_credentials_the_instance_answers_401(instance: str) -> None:
    async with httpx.AsyncClient(base_url=instance) as anonymous:
        missing = await anonymous.get(INCIDENTS)
        wrong = await anonymous.get(INCIDENTS, auth=(USER, "not-the-password"))
        garbled = await anonymous.get(INCIDENTS, headers={"Authorization": "Basic %%%"})
    for response in (missing, wrong, garbled):
        assert response.status_code == 401
        assert response.json() == recorded("error_401.json")


async def test_an_unknown_sys_id_is_404_no_record_found(servicenow: httpx.AsyncClient) -> None:
    unknown = "0" * 32
    for response in (await servicenow.get(f"{INCIDENTS}/{unknown}"),
                     await servicenow.patch(f"{INCIDENTS}/{unknown}", json={"state": "2"})):
        assert response.status_code == 404
        assert response.json() == recorded("error_404.json")


async def test_invalid_field_values_and_bodies_are_400_in_servicenows_shape(servicenow: httpx.AsyncClient) -> None:
    bad_state = await servicenow.post(INCIDENTS, json={"short_description": "x", "state": "42"})
    assert bad_state.status_code == 400
    assert shape(bad_state.json()) == shape(recorded("error_404.json"))
    assert "state '42'" in bad_state.json()["error"]["detail"] and "6" in bad_state.json()["error"]["detail"]

    blank_urgency = await servicenow.post(INCIDENTS, json={"short_description": "x", "urgency": ""})
    assert blank_urgency.status_code == 400 and "urgency ''" in blank_urgency.json()["error"]["detail"]

    typed = await open_incident(servicenow, knowledge=True, description=None)  # type: ignore[arg-type]
    assert (typed["knowledge"], typed["description"]) == ("true", "")

    not_json = await servicenow.post(INCIDENTS, content=b"{not json", headers={"Content-Type": "application/json"})
    assert (not_json.status_code, not_json.json()["status"]) == (400, "failure")

    no_table = await servicenow.get("/api/now/table/no_such_table")
    assert no_table.status_code == 400 and no_table.json()["error"]["message"] == "Invalid table no_such_table"


async def test_injected_503s_then_success_and_a_429_with_retry_after(servicenow: httpx.AsyncClient) -> None:
    hook = await servicenow.post("/_sandbox/faults", json={"status": 503, "times": 2})
    assert hook.status_code == 201
    statuses = [(await servicenow.get(INCIDENTS)).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]

    await servicenow.post("/_sandbox/faults", json={"status": 429, "retry_after": 7, "method": "POST", "path": INCIDENTS})
    assert (await servicenow.get(INCIDENTS)).status_code == 200  # the fault waits for a POST
    limited = await servicenow.post(INCIDENTS, json={"short_description": "x"})
    assert (limited.status_code, limited.headers["Retry-After"], limited.json()["status"]) == (429, "7", "failure")
    assert (await servicenow.post(INCIDENTS, json={"short_description": "x"})).status_code == 201


async def test_reset_empties_the_instance(servicenow: httpx.AsyncClient) -> None:
    await open_incident(servicenow)
    assert (await servicenow.post("/_sandbox/reset")).status_code == 204
    assert (await servicenow.get(INCIDENTS)).json() == {"result": []}
    assert (await open_incident(servicenow))["number"] == "INC0010001"


async def test_responses_have_the_documented_keys_and_value_types(servicenow: httpx.AsyncClient) -> None:
    # The documentation's POST example, sent as documented.
    created = await servicenow.post(INCIDENTS, json={
        "short_description": "Unable to connect to office wifi", "assignment_group": "287ebd7da9fe198100f92cc8d1d2154e",
        "urgency": "2", "impact": "2"})
    documented = recorded("incident_post.json")
    assert shape(created.json()) == shape(documented)
    same = ("priority", "state", "incident_state", "category", "active", "approval", "upon_approval", "sys_class_name")
    assert {k: created.json()["result"][k] for k in same} == {k: documented["result"][k] for k in same}
    assert created.headers["Location"].endswith(f"{INCIDENTS}/{created.json()['result']['sys_id']}")

    # The documentation's GET example: an incident whose references are all set.
    example = recorded("incident_get.json")["result"]
    references = {k: v["value"] for k, v in example.items() if isinstance(v, dict) and k not in ("sys_domain", "opened_by")}
    opened = await open_incident(servicenow, **references)
    got = await servicenow.get(f"{INCIDENTS}/{opened['sys_id']}")
    assert shape(got.json()) == shape(recorded("incident_get.json"))

    listed = await servicenow.get(INCIDENTS, params={"sysparm_limit": "1"})
    assert shape(listed.json()) == {"result": [shape(documented["result"])]}  # the first one: the POST example's

    everything = (await servicenow.get(f"{INCIDENTS}/{opened['sys_id']}", params={"sysparm_display_value": "all"})).json()
    assert set(everything["result"]["caller_id"]) == {"display_value", "link", "value"}
    assert set(everything["result"]["state"]) == {"display_value", "value"}
    bare = (await servicenow.get(f"{INCIDENTS}/{opened['sys_id']}", params={"sysparm_exclude_reference_link": "true"})).json()
    assert bare["result"]["caller_id"] == references["caller_id"]


def test_the_entry_point_builds_the_server_from_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    started: dict[str, Any] = {}
    monkeypatch.setattr(web, "run_app", lambda app, host, port: started.update(app=app, host=host, port=port))
    main(["--port", "18091", "--user", "u", "--password", "p"])
    assert (started["host"], started["port"]) == ("127.0.0.1", 18091)
    assert isinstance(started["app"], web.Application)
