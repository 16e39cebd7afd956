"""The desk's webhook receiver, served by uvicorn on a loopback port and called by httpx as any
sender would, with the deliveries store in a real PostgreSQL and the broker and dead-letter topic
replaced by collectors: replays publish once, bad signatures and junk are refused (and junk is
dead-lettered with its bytes), and a broker outage answers 503 until a retry gets through."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client import CollectorRegistry

from contracts.envelope import Envelope, derived_event_id
from services.desk.config import DeskConfig
from services.desk.webhooks import Deliveries, Receiver, create_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
SECRETS = {"jira": "jira-test-secret", "servicenow": "snow-test-secret", "zendesk": "zendesk-test-secret"}
NOW = datetime(2026, 12, 2, 10, 0, 5, tzinfo=UTC)

CONFIG = DeskConfig.model_validate({
    "systems": {
        "jira": {"webhook": {"secret_env": "DESK_TEST_JIRA_SECRET"}, "integration_user": "557058:workforce-bot"},
        "servicenow": {"webhook": {"secret_env": "DESK_TEST_SNOW_SECRET", "header": "X-Workforce-Signature"}, "integration_user": "workforce-desk"},
        "zendesk": {"webhook": {"secret_env": "DESK_TEST_ZENDESK_SECRET", "tolerance_s": 300}, "integration_user": "900001"},
    },
    "teams": [{"system": "jira", "project": "IT", "team": "it-support"}],
    "default_team": "it-support",
    "users": {"zendesk": {"20978392": "ana.silva@acme.example"}},
    "directory_domain": "acme.example",
})


@dataclass
class Broker:
    """Stands in for the Kafka producer: records what was acknowledged, or fails when told to."""

    published: list[Envelope[Any]] = field(default_factory=list)
    dead: list[tuple[str, str, str, bytes, dict[str, str]]] = field(default_factory=list)
    down: bool = False

    async def publish(self, event: Envelope[Any], inbound: object = None) -> None:
        if self.down:
            raise ConnectionError("broker unavailable")
        self.published.append(event)

    async def dead_letter(self, system: str, code: str, reason: str, body: bytes, headers: dict[str, str]) -> None:
        self.dead.append((system, code, reason, body, headers))


@dataclass
class Desk:
    url: str
    broker: Broker
    registry: CollectorRegistry
    receiver: Receiver

    def count(self, system: str, outcome: str) -> float:
        return self.registry.get_sample_value("workforce_webhooks_total", {"system": system, "outcome": outcome}) or 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def desk(service_database: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Desk]:
    monkeypatch.setenv("DESK_TEST_JIRA_SECRET", SECRETS["jira"])
    monkeypatch.setenv("DESK_TEST_SNOW_SECRET", SECRETS["servicenow"])
    monkeypatch.setenv("DESK_TEST_ZENDESK_SECRET", SECRETS["zendesk"])
    database = await service_database("desk")
    broker, registry = Broker(), CollectorRegistry()

    async def asked(system: str, native_id: str) -> bool:
        return (system, native_id) == ("zendesk", "35436")

    receiver = Receiver(
        config=CONFIG, publish=broker.publish, dead_letter=broker.dead_letter, asked=asked,
        deliveries=Deliveries(database.pool), clock=lambda: NOW, max_bytes=64 * 1024,
        publish_timeout_s=2.0, registry=registry,
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(receiver), host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield Desk(f"http://127.0.0.1:{port}", broker, registry, receiver)
    finally:
        server.should_exit = True
        await serving


def jira_headers(body: bytes, delivery: str = "jira-delivery-1", secret: str = SECRETS["jira"]) -> dict[str, str]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature": f"sha256={signature}", "X-Atlassian-Webhook-Identifier": delivery}


def zendesk_headers(body: bytes, stamp: str = "2026-12-02T10:00:00Z") -> dict[str, str]:
    signature = base64.b64encode(hmac.new(SECRETS["zendesk"].encode(), stamp.encode() + body, hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": signature, "X-Zendesk-Webhook-Signature-Timestamp": stamp}


def servicenow_headers(body: bytes) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(SECRETS["servicenow"].encode(), body, hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "X-Workforce-Signature": signature}


async def post(desk: Desk, system: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=desk.url, timeout=10) as client:
        return await client.post(f"/webhooks/{system}", content=body, headers=headers)


async def test_the_same_signed_jira_webhook_five_times_publishes_one_ticket(desk: Desk) -> None:
    body = (FIXTURES / "jira_issue_created.json").read_bytes()
    answers = [await post(desk, "jira", body, jira_headers(body)) for _ in range(5)]
    assert [a.status_code for a in answers] == [202, 200, 200, 200, 200]
    assert answers[0].json() == {"event_id": derived_event_id("jira:10042", "ticket.created"), "ticket_id": "IT-42", "duplicate": False}
    assert all(a.json() == answers[0].json() | {"duplicate": True} for a in answers[1:])
    assert len(desk.broker.published) == 1
    event = desk.broker.published[0]
    assert (event.type, event.upstream, event.data.requester.email) == ("ticket.created", "jira:10042", "ana.silva@acme.example")
    assert (desk.count("jira", "published"), desk.count("jira", "duplicate")) == (1, 4)


async def test_a_creation_delivered_again_under_another_delivery_id_keeps_its_event_id(desk: Desk) -> None:
    body = (FIXTURES / "jira_issue_created.json").read_bytes()
    first = await post(desk, "jira", body, jira_headers(body, delivery="a"))
    second = await post(desk, "jira", body, jira_headers(body, delivery="b"))
    assert first.json()["event_id"] == second.json()["event_id"]
    assert {e.id for e in desk.broker.published} == {first.json()["event_id"]}


async def test_a_wrong_signature_is_refused_with_401_and_nothing_is_published_or_dead_lettered(desk: Desk) -> None:
    body = (FIXTURES / "jira_issue_created.json").read_bytes()
    answer = await post(desk, "jira", body, jira_headers(body, secret="not-the-secret"))
    assert answer.status_code == 401
    assert "does not match" in answer.json()["error"] and SECRETS["jira"] not in answer.text
    assert desk.broker.published == [] and desk.broker.dead == []
    assert desk.count("jira", "unauthorized") == 1


async def test_a_stale_zendesk_timestamp_is_refused_with_401(desk: Desk) -> None:
    body = (FIXTURES / "zendesk_ticket_created.json").read_bytes()
    answer = await post(desk, "zendesk", body, zendesk_headers(body, stamp="2026-12-02T09:50:00Z"))
    assert answer.status_code == 401 and "replay" in answer.json()["error"]
    assert desk.broker.published == []
    assert desk.count("zendesk", "unauthorized") == 1


async def test_a_signed_junk_body_is_refused_with_400_and_dead_lettered_with_its_bytes(desk: Desk) -> None:
    body = b"this is not json \x00\xff"
    answer = await post(desk, "servicenow", body, servicenow_headers(body))
    assert answer.status_code == 400 and "not UTF-8" in answer.json()["error"]
    [(system, code, reason, original, headers)] = desk.broker.dead
    assert (system, code, original) == ("servicenow", "not_json", body)
    assert "x-workforce-signature" not in {k.lower() for k in headers}
    assert desk.broker.published == [] and desk.count("servicenow", "malformed") == 1


async def test_a_signed_payload_of_the_wrong_shape_is_refused_with_422_and_dead_lettered(desk: Desk) -> None:
    data = json.loads((FIXTURES / "jira_issue_created.json").read_bytes())
    del data["issue"]["key"]
    body = json.dumps(data).encode()
    answer = await post(desk, "jira", body, jira_headers(body))
    assert answer.status_code == 422 and "issue.key: Field required" in answer.json()["error"]
    assert [(d[0], d[1], d[3]) for d in desk.broker.dead] == [("jira", "schema", body)]
    assert desk.broker.published == []


async def test_an_oversized_body_is_refused_with_413_before_it_is_read(desk: Desk) -> None:
    body = b'{"x": "' + b"a" * (100 * 1024) + b'"}'
    answer = await post(desk, "jira", body, jira_headers(body))
    assert answer.status_code == 413 and "limit" in answer.json()["error"]
    assert desk.broker.published == [] and desk.broker.dead == []
    assert desk.count("jira", "oversized") == 1


async def test_a_body_streamed_without_a_length_is_cut_off_at_the_limit(desk: Desk) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(1000):
            sent += 1
            yield b"a" * 1024

    transport = httpx.ASGITransport(app=create_app(desk.receiver))
    async with httpx.AsyncClient(transport=transport, base_url="http://desk") as client:
        answer = await client.post("/webhooks/jira", content=chunks(), headers={"X-Hub-Signature": "sha256=00"})
    assert answer.status_code == 413
    assert sent < 100, f"the receiver read {sent} KiB of a body over its 64 KiB limit"


async def test_a_broker_outage_answers_503_and_a_later_retry_publishes(desk: Desk) -> None:
    body = (FIXTURES / "zendesk_ticket_created.json").read_bytes()
    desk.broker.down = True
    answer = await post(desk, "zendesk", body, zendesk_headers(body))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert desk.broker.published == []
    desk.broker.down = False
    retried = await post(desk, "zendesk", body, zendesk_headers(body))
    assert retried.status_code == 202 and retried.json()["duplicate"] is False
    assert [e.upstream for e in desk.broker.published] == ["zendesk:35436"]
    assert desk.count("zendesk", "unavailable") == 1 and desk.count("zendesk", "published") == 1


async def test_a_requesters_comment_on_a_ticket_that_asked_is_published_as_an_answer(desk: Desk) -> None:
    body = (FIXTURES / "zendesk_comment_added.json").read_bytes()
    answer = await post(desk, "zendesk", body, zendesk_headers(body))
    assert answer.status_code == 202
    [event] = desk.broker.published
    assert (event.type, str(event.actor), event.data.ticket_id) == ("ticket.answered", "human:ana.silva", "ZD-35436")


async def test_a_comment_on_a_ticket_that_asked_nothing_is_skipped_with_200(desk: Desk) -> None:
    body = (FIXTURES / "jira_comment_created.json").read_bytes()
    answer = await post(desk, "jira", body, jira_headers(body, delivery="c-1"))
    assert answer.status_code == 200 and answer.json() == {"skipped": "no question is waiting on IT-42"}
    assert desk.broker.published == [] and desk.count("jira", "skipped") == 1


async def test_the_openapi_document_describes_each_route_and_its_payload(desk: Desk) -> None:
    async with httpx.AsyncClient(base_url=desk.url) as client:
        document = (await client.get("/webhooks/openapi.json")).json()
        missing = await client.get("/nowhere")
    assert set(document["paths"]) == {"/webhooks/jira", "/webhooks/servicenow", "/webhooks/zendesk"}
    body = document["paths"]["/webhooks/jira"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/JiraWebhook"}
    assert "webhookEvent" in document["components"]["schemas"]["JiraWebhook"]["properties"]
    assert {"202", "401", "413", "422", "503"} <= set(document["paths"]["/webhooks/zendesk"]["post"]["responses"])
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}


async def test_a_zendesk_timestamp_from_the_future_is_refused(desk: Desk) -> None:
    body = (FIXTURES / "zendesk_ticket_created.json").read_bytes()
    stamp = (NOW + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = await post(desk, "zendesk", body, zendesk_headers(body, stamp=stamp))
    assert answer.status_code == 401 and "future" in answer.json()["error"]
