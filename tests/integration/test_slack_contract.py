"""Slack's documented response shapes (tests/fixtures/vendors/slack, written from the Web API
reference's examples) hold both ways: the client reads each documented body, and the simulator
answers with every documented key, typed as documented, so the simulator cannot drift from Slack."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from services.skills.connectors.slack import SlackError
from services.skills.connectors.slack_http import SlackHttp
from tests.integration.shapes import assert_shape

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "slack"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
async def documented() -> AsyncIterator[str]:
    """A Slack that answers only with the documentation's example bodies (the first page of each list)."""
    bodies = {"conversations.list": "conversations_list", "usergroups.list": "usergroups_list", "users.info": "users_info",
              "chat.postMessage": "chat_post_message", "conversations.history": "conversations_history"}

    async def serve(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.headers.get("Authorization") == "Bearer xoxb-reader":
            return web.json_response(fixture("error_missing_scope"))
        args = await request.json()
        body = fixture(bodies[method])
        if args.get("cursor"):  # the next page is the last, and empty
            key = next(k for k, v in body.items() if isinstance(v, list))
            body = {"ok": True, key: [], "response_metadata": {"next_cursor": ""}}
        if method == "conversations.list":  # the group's default channel is this one
            body["channels"] = [dict(c, id="C060RNRD4") for c in body["channels"]]
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/api/{method}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


async def test_the_client_reads_slacks_documented_bodies(documented: str) -> None:
    async with httpx.AsyncClient() as client:
        slack = SlackHttp(documented, "xoxb-documented", client)
        found = await slack.oncall("#general")
        assert (found.channel_id, found.channel, found.group_id, found.handle) == ("C060RNRD4", "general", "S0615G0KT", "marketing-team")
        assert [(m.id, m.name, m.real_name) for m in found.members] == [("W012A3CDE", "spengler", "Egon Spengler")] * 2
        posted = await slack.post_message("C123ABC456", "Here's a message for you", idempotency_key="k")  # no earlier post carries k
        assert (posted.channel_id, posted.ts, posted.text) == ("C123ABC456", "1503435956.000247", "Here's a message for you")
        with pytest.raises(SlackError) as missing:
            await SlackHttp(documented, "xoxb-reader", client).oncall("general")
        assert (missing.value.code, missing.value.status, missing.value.extra) == ("missing_scope", 403, {"needed": "chat:write", "provided": "channels:read,usergroups:read"})


async def test_the_simulator_answers_with_the_documented_shapes(simulator) -> None:  # noqa: ANN001
    token = await simulator.token("slack", "jordan", ["channels.read", "usergroups.read", "users.read", "channels.history", "chat.write"])
    async with httpx.AsyncClient(base_url=simulator.urls()["slack"], headers={"Authorization": f"Bearer {token}"}) as http:

        async def call(method: str, **args: Any) -> Any:
            response = await http.post(f"/api/{method}", json=args)
            assert response.status_code == 200
            return response.json()

        posted = await call("chat.postMessage", channel="C01ITINCID0", text="hello", metadata={"event_type": "customer_created", "event_payload": {"crm_id": "1"}})
        assert_shape(fixture("chat_post_message"), posted)
        assert_shape(fixture("conversations_list"), await call("conversations.list", limit=1))
        assert_shape(fixture("usergroups_list"), await call("usergroups.list", include_users=True))
        someone = (await call("usergroups.list", include_users=True))["usergroups"][0]["users"][0]
        assert_shape(fixture("users_info"), await call("users.info", user=someone))
        later = await call("chat.postMessage", channel="C01ITINCID0", text="again")
        history = await call("conversations.history", channel="C01ITINCID0", include_all_metadata=True, limit=1, latest=later["ts"])  # the one before "again"
        assert_shape(fixture("conversations_history"), history)
        reader = await simulator.token("slack", "jordan", ["channels.read"], version=2)
        refused = await http.post("/api/chat.postMessage", json={"channel": "C01ITINCID0", "text": "x"}, headers={"Authorization": f"Bearer {reader}"})
        assert refused.status_code == 200
        assert_shape(fixture("error_missing_scope"), refused.json())
