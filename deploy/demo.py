"""The main job: publish sample tickets into a running stack and print what happened to each; then
open one ticket in each simulated ticketing system and show it arriving by webhook and what was
written back on it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg

from deploy import report, upstream
from deploy.stack import Stack


async def run(stack: Stack, tickets: Path, *, echo: Callable[[str], None] = print) -> dict[str, report.TicketStory]:
    assert stack.broker is not None
    # Upstream ids are unique per run, so a second demo on a kept database is a new story.
    run_id = uuid.uuid4().hex[:6]
    events = [upstream.ticket_event({**t, "ticket_id": f"{t['ticket_id']}-{run_id}"}) for t in upstream.load(tickets)]
    started = time.monotonic()
    await upstream.publish(stack.broker.bootstrap, events)
    conn = await asyncpg.connect(stack.database_url)
    try:
        stories = await report.wait_for(conn, [e.data.ticket_id for e in events])
        elapsed = time.monotonic() - started
        for event in events:
            ticket = event.data
            echo("")
            echo(f"{ticket.ticket_id}  [{event.team}]  {ticket.title!r}  from {ticket.requester.email or ticket.requester.id}")
            for line in stories[ticket.ticket_id].lines():
                echo(f"    {line}")
        echo("")
        echo(f"{len(events)} tickets handled in {elapsed:.1f}s")
        if stack.simulator is not None and "desk" in stack.running:
            from deploy.desk import demo as desk_demo

            await desk_demo.run(stack.simulator.url, stack.simulator.admin_token, conn, echo=echo)
        echo("")
        echo("spend per team (from billing)")
        echo(f"    {'team':<14}{'calls':>8}{'tokens':>10}{'cost (USD)':>16}")
        for team, calls, tokens, cost in await report.spend_by_team(conn):
            echo(f"    {team:<14}{calls:>8}{tokens:>10}{cost:>16.6f}")
        return stories
    finally:
        await conn.close()
