"""``workforce desk status``: what came in and what was written back, per system, read from the
desk's store as an operator reads it; a row it cannot read does not hide the rest."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from typer.testing import CliRunner

from deploy.cli import app
from services.desk import tickets
from services.desk.writeback.plan import UpstreamTicket


async def test_status_counts_per_system_and_lists_the_latest_failures(database_url: str, service_database: Any, monkeypatch: Any) -> None:
    database = await service_database("desk")
    pool = database.pool
    await tickets.remember(pool, tickets.Registered(ticket_id="IT-7", team="it-support", ticket=UpstreamTicket("jira", "10077", "IT-7", project="IT")))
    await tickets.remember(pool, tickets.Registered(ticket_id="IT-7-1", team="it-support", parent_id="IT-7", ticket=UpstreamTicket("jira", "10078", "IT-8", project="IT")))
    await tickets.asked(pool, "IT-7", "q1")
    await pool.execute("INSERT INTO deliveries (system, delivery_id, event_id, ticket_id, outcome, deliveries) VALUES ('jira', 'd1', 'e1', 'IT-7', 'published', 5), ('zendesk', 'd2', NULL, 'ZD-3', 'skipped', 1)")
    failure = {"data": {"ticket_id": "ZD-3", "upstream": "zendesk:3", "cause_type": "ticket.question", "cause_id": "q9", "reason_code": "refused", "reason": "Zendesk ticket #3: 422 RecordInvalid"}}
    await pool.execute(
        "INSERT INTO writeback_results (event_id, upstream, outcome, envelope) VALUES ('e2', 'jira:10077', 'written', '{}'), ('e3', 'zendesk:3', 'failed', $1), ('e4', 'servicenow:x', 'failed', '{\"data\": 5}')",
        json.dumps(failure),
    )
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = await asyncio.to_thread(CliRunner().invoke, app, ["desk", "status"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1:] for line in result.output.splitlines() if line.split() and line.split()[0] in ("jira", "servicenow", "zendesk")}
    # tickets, parts, waiting, published, skipped, redelivered, written, failed
    assert rows["jira"] == ["1", "1", "1", "1", "0", "4", "1", "0"]
    assert rows["zendesk"] == ["0", "0", "0", "0", "1", "0", "0", "1"]
    assert rows["servicenow"][-1] == "1"
    assert "ZD-3  zendesk:3  ticket.question  refused: Zendesk ticket #3: 422 RecordInvalid" in result.output
    assert "(unreadable record)" in result.output


async def test_status_before_the_desk_ever_started_says_so(database_url: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = await asyncio.to_thread(CliRunner().invoke, app, ["desk", "status"])
    assert result.exit_code == 0 and "has not started on this database" in result.output, result.output
