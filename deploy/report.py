"""What happened to each ticket, read back from the audit trail and the billing ledger."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

#: A ticket's flow is over (for now) when it reached a person, its resolution was remembered, it
#: was split into child tickets (which have flows of their own), or it waits for a person: its
#: requester's answer, or a manager's approval of a destructive step.
TERMINAL = ("ticket.escalated", "memory.recorded", "ticket.split", "ticket.question", "approval.requested")


@dataclass
class TicketStory:
    ticket_id: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]

    @property
    def done(self) -> bool:
        return any(self.of(t) for t in TERMINAL)

    def lines(self) -> list[str]:
        out = []
        for triaged in self.of("ticket.triaged"):
            d = triaged["data"]
            fallback = f"; {d['fallback']}" if d.get("fallback") else ""
            out.append(f"triage     {d['category']} -> {d['coworker']} v{d['coworker_version']} / {d['skill']} (confidence {d['confidence']:.2f}, {d['method']}{fallback}), {d['priority']}: {d['priority_reason']}")
        for split in self.of("ticket.split"):
            children = ", ".join(f"{c['ticket_id']} ({c['skill']})" for c in split["data"]["children"])
            out.append(f"split      into {children}: {split['data']['reason']}")
        for asked in self.of("ticket.question"):
            out.append(f"question   to {asked['data']['to']['id']} for {asked['data']['skill']}: {asked['data']['question']}")
        for handed in self.of("skill.requested"):
            if handed["data"].get("delegation"):
                out.append(f"handed on  {' -> '.join(handed['data']['delegation']['chain'])} -> {handed['data']['coworker']}")
        for denied in self.of("policy.denied"):
            d = denied["data"]
            out.append(f"denied     {d['rule']}: {d['reason']}")
        for asked in self.of("approval.requested"):
            d = asked["data"]
            out.append(f"approval   asked of {d['approver']} for step {d['step']} ({d['system']} {d['operation']})")
        for step in self.of("skill.step"):
            d = step["data"]
            result = "done" if d["status"] == "done" else f"FAILED: {d['error']}"
            out.append(f"action     step {d['step']} {d['system']} {d['operation']} by {d['coworker']}: {result}")
        for resolved in self.of("ticket.resolved"):
            out.append(f"resolved   {resolved['data']['resolution']}")
        for failed in self.of("skill.failed"):
            out.append(f"failed     {failed['data']['error_code']}: {failed['data']['reason']}")
        for escalated in self.of("ticket.escalated"):
            d = escalated["data"]
            tried = len(d["handoff"]["tried"])
            out.append(f"escalated  to queue {d['queue']} ({d['reason_code']}): {d['reason']} [handoff: {tried} attempt(s), transcript of {len(d['handoff']['transcript'])}]")
        for written in self.of("ticket.written_back"):
            d = written["data"]
            out.append(f"upstream   {d['upstream']} ({d['cause_type']}): {'; '.join(d['actions'])}")
        for failed in self.of("ticket.write_back_failed"):
            d = failed["data"]
            out.append(f"upstream   NOT WRITTEN {d['upstream']} ({d['cause_type']}, {d['reason_code']}): {d['reason']}")
        for memory in self.of("memory.recorded"):
            out.append(f"memory     stored as {memory['data']['memory_id']} in {memory['data']['collection']}")
        usage = self.of("llm.usage")
        tokens = sum(u["data"]["prompt_tokens"] + u["data"]["completion_tokens"] for u in usage)
        decisions = f"{len(self.of('policy.allowed'))} allowed, {len(self.of('policy.denied'))} denied"
        out.append(f"audit      {len(self.events)} records; policy decisions: {decisions}; {len(usage)} model call(s), {tokens} tokens")
        return out


async def stories(conn: asyncpg.Connection, ticket_ids: Sequence[str]) -> dict[str, TicketStory]:
    rows = await conn.fetch(
        "SELECT correlation_id, type, actor, event FROM governance.audit_events WHERE correlation_id = ANY($1::text[]) ORDER BY seq",
        list(ticket_ids),
    )
    found = {t: TicketStory(t) for t in ticket_ids}
    for row in rows:
        event = json.loads(row["event"])
        found[row["correlation_id"]].events.append({"type": row["type"], "actor": row["actor"], "data": event["data"]})
    return found


async def wait_for(conn: asyncpg.Connection, ticket_ids: Sequence[str], *, timeout_s: float = 180) -> dict[str, TicketStory]:
    """Poll the audit trail until every ticket's flow is over and billing has booked its usage."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        found = await stories(conn, ticket_ids)
        usage_audited = sum(len(s.of("llm.usage")) for s in found.values())
        usage_billed = await conn.fetchval("SELECT count(*) FROM billing.usage_events WHERE ticket_id = ANY($1::text[])", list(ticket_ids))
        if all(s.done for s in found.values()) and usage_audited == usage_billed:
            return found
        if asyncio.get_running_loop().time() > deadline:
            pending = [t for t, s in found.items() if not s.done]
            raise TimeoutError(f"after {timeout_s:.0f}s, {len(pending)} ticket(s) are still in flight: {pending[:10]}; usage audited {usage_audited}, billed {usage_billed}")
        await asyncio.sleep(0.5)


async def spend_by_team(conn: asyncpg.Connection) -> list[tuple[str, int, int, Decimal]]:
    rows = await conn.fetch(
        "SELECT team, sum(calls) AS calls, sum(prompt_tokens + completion_tokens) AS tokens, sum(cost_usd) AS cost"
        " FROM billing.spend_daily GROUP BY team ORDER BY team"
    )
    return [(r["team"], int(r["calls"]), int(r["tokens"]), r["cost"]) for r in rows]
