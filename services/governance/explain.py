"""Why did a coworker do that? One query over the audit trail answers for each action (a completed or
failed ``skill.step``): who (coworker, version, manager), what (system, operation, redacted inputs and
outputs), why (the ticket, triage's decision with its confidence and model, the policy decision that
allowed it, the approval if any) and what the ticket cost in tokens. The same query, over a period,
gives the audit pass rate: the share of actions whose who/what/why are all on record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

#: One row per action. $1 an action id (the ``skill.step`` event id) or NULL, $2 a ticket or NULL,
#: $3 the earliest time. Each LATERAL reads one kind of record of the action's ticket.
ACTIONS_SQL = """
WITH step AS (
    SELECT seq, event_id, event_time, team, correlation_id, event->'data' AS d
    FROM audit_events
    WHERE type = 'skill.step' AND ($1::text IS NULL OR event_id = $1) AND ($2::text IS NULL OR correlation_id = $2) AND event_time >= $3
)
SELECT s.event_id AS action_id, s.event_time AS at, s.team, s.correlation_id AS ticket_id,
       s.d->>'coworker' AS coworker, req.coworker_version, req.delegation, mgr.manager,
       s.d->>'skill' AS skill, (s.d->>'step')::int AS step, s.d->>'name' AS step_name, s.d->>'kind' AS kind,
       s.d->>'system' AS system, s.d->>'operation' AS operation, s.d->>'status' AS status, s.d->>'error' AS error,
       s.d->'inputs' AS inputs, s.d->'outputs' AS outputs,
       created.title AS ticket_title, created.requester, created.opened_at,
       triaged.decision AS triage,
       policy.decision AS policy,
       approval.decision AS approval,
       cost.calls AS model_calls, cost.tokens, cost.cost_usd
FROM step s
LEFT JOIN LATERAL (
    SELECT (a.event->'data'->>'coworker_version')::int AS coworker_version, a.event->'data'->'delegation' AS delegation
    FROM audit_events a
    WHERE a.correlation_id = s.correlation_id AND a.type = 'skill.requested'
      AND a.event->'data'->>'coworker' = s.d->>'coworker' AND a.event->'data'->>'skill' = s.d->>'skill'
    ORDER BY a.event_time DESC LIMIT 1
) req ON true
LEFT JOIN LATERAL (
    SELECT v.manifest->'manager' AS manager FROM coworker_versions v WHERE v.name = s.d->>'coworker' AND v.version = req.coworker_version
) mgr ON true
LEFT JOIN LATERAL (
    SELECT a.event->'data'->>'title' AS title, a.event->'data'->'requester'->>'id' AS requester, a.event_time AS opened_at
    FROM audit_events a WHERE a.correlation_id = s.correlation_id AND a.type = 'ticket.created' ORDER BY a.seq LIMIT 1
) created ON true
LEFT JOIN LATERAL (
    SELECT jsonb_build_object('event_id', a.event_id, 'at', a.event_time) || ((a.event->'data') - 'candidates' - 'categories' - 'inputs') AS decision
    FROM audit_events a WHERE a.correlation_id = s.correlation_id AND a.type = 'ticket.triaged' ORDER BY a.event_time DESC LIMIT 1
) triaged ON true
LEFT JOIN LATERAL (
    SELECT jsonb_build_object('event_id', a.event_id, 'at', a.event_time, 'decided_by', a.actor) || (a.event->'data') AS decision
    FROM audit_events a
    WHERE a.correlation_id = s.correlation_id AND a.type = 'policy.allowed'
      AND a.event->'data'->>'coworker' = s.d->>'coworker' AND a.event->'data'->>'skill' = s.d->>'skill' AND a.event->'data'->>'step' = s.d->>'step'
    ORDER BY a.event_time DESC LIMIT 1
) policy ON true
LEFT JOIN LATERAL (
    SELECT jsonb_build_object('event_id', a.event_id, 'at', a.event_time, 'by', a.actor, 'granted', a.type = 'approval.granted') || (a.event->'data') AS decision
    FROM audit_events a
    WHERE a.correlation_id = s.correlation_id AND a.type IN ('approval.granted', 'approval.rejected')
      AND a.event->'data'->>'coworker' = s.d->>'coworker' AND a.event->'data'->>'skill' = s.d->>'skill' AND a.event->'data'->>'step' = s.d->>'step'
    ORDER BY a.event_time DESC LIMIT 1
) approval ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS calls,
           coalesce(sum((a.event->'data'->>'prompt_tokens')::bigint + coalesce((a.event->'data'->>'completion_tokens')::bigint, 0)), 0) AS tokens,
           coalesce(sum((a.event->'data'->>'cost_usd')::numeric), 0) AS cost_usd
    FROM audit_events a WHERE a.correlation_id = s.correlation_id AND a.type = 'llm.usage'
) cost ON true
ORDER BY s.event_time, s.seq
"""


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Action:
    """Everything on record about one action."""

    row: dict[str, Any]

    @classmethod
    def of(cls, record: asyncpg.Record) -> Action:
        row = dict(record)
        for name in ("inputs", "outputs", "triage", "policy", "approval", "manager", "delegation"):
            row[name] = _json(row[name])
        return cls(row)

    def __getitem__(self, name: str) -> Any:
        return self.row[name]

    @property
    def approval_needed(self) -> bool:
        return bool(self.row["policy"]) and self.row["policy"].get("rule") == "approved"

    @property
    def missing(self) -> list[str]:
        """What an auditor would not find: empty when the action's who, what and why are complete."""
        r = self.row
        gaps = []
        for name, present in (
            ("who: coworker", r["coworker"]),
            ("who: coworker version", r["coworker_version"]),
            ("who: manager", r["manager"]),
            ("what: system", r["system"]),
            ("what: operation", r["operation"]),
            ("why: the ticket", r["ticket_title"]),
            ("why: triage decision", r["triage"]),
            ("why: policy decision", r["policy"]),
        ):
            if not present:
                gaps.append(name)
        if self.approval_needed and not (r["approval"] and r["approval"].get("granted")):
            gaps.append("why: the approval")
        return gaps

    @property
    def complete(self) -> bool:
        return not self.missing


async def actions(conn: asyncpg.Connection, *, action_id: str | None = None, ticket_id: str | None = None, since: datetime | None = None) -> list[Action]:
    return [Action.of(r) for r in await conn.fetch(ACTIONS_SQL, action_id, ticket_id, since or EPOCH)]


async def explain(conn: asyncpg.Connection, action_id: str) -> Action | None:
    """One action by its id: the ``skill.step`` event id."""
    found = await actions(conn, action_id=action_id)
    return found[0] if found else None


@dataclass(frozen=True)
class PassRate:
    actions: int
    complete: int
    gaps: dict[str, int]

    @property
    def rate(self) -> float | None:
        return self.complete / self.actions if self.actions else None


async def pass_rate(conn: asyncpg.Connection, *, since: datetime) -> PassRate:
    found = await actions(conn, since=since)
    gaps: dict[str, int] = {}
    for action in found:
        for gap in action.missing:
            gaps[gap] = gaps.get(gap, 0) + 1
    return PassRate(len(found), sum(a.complete for a in found), dict(sorted(gaps.items(), key=lambda kv: -kv[1])))


# --- a ticket's timeline -------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    at: datetime
    type: str
    actor: str
    event_id: str
    ticket_id: str
    data: dict[str, Any]

    @property
    def summary(self) -> str:
        return describe(self.type, self.data)


async def timeline(conn: asyncpg.Connection, ticket_id: str) -> list[Entry]:
    """Every record of a ticket and of the tickets it was split into, in time order."""
    rows = await conn.fetch(
        "WITH children AS (SELECT jsonb_array_elements(event->'data'->'children')->>'ticket_id' AS id FROM audit_events WHERE correlation_id = $1 AND type = 'ticket.split')"
        " SELECT event_time, type, actor, event_id, correlation_id, event->'data' AS data FROM audit_events"
        " WHERE correlation_id = $1 OR correlation_id IN (SELECT id FROM children) ORDER BY event_time, seq",
        ticket_id,
    )
    return [Entry(r["event_time"], r["type"], r["actor"], r["event_id"], r["correlation_id"], _json(r["data"])) for r in rows]


def describe(type_: str, d: dict[str, Any]) -> str:
    """One line for one record, the way a person would say it. Pure."""
    match type_:
        case "ticket.created":
            return f"{d.get('title')!r} from {d.get('requester', {}).get('id')} via {d.get('channel')}"
        case "ticket.triaged":
            return (
                f"{d.get('category')} -> {d.get('coworker')} v{d.get('coworker_version')} / {d.get('skill')} "
                f"(confidence {d.get('confidence')}, {d.get('method')}, model {d.get('model')} {d.get('model_version')}), {d.get('priority')}"
            )
        case "ticket.split":
            return f"split into {', '.join(c['ticket_id'] for c in d.get('children', []))}: {d.get('reason')}"
        case "ticket.question":
            return f"asked the requester for {d.get('field')}: {d.get('question')}"
        case "ticket.answered":
            return "the requester answered"
        case "ticket.escalated":
            return f"to queue {d.get('queue')} ({d.get('reason_code')}): {d.get('reason')}"
        case "ticket.resolved":
            return str(d.get("resolution", ""))[:200]
        case "ticket.rerouted":
            return f"re-routed to {d.get('category')} / {d.get('skill')}: {d.get('reason')}"
        case "skill.requested":
            via = f" (handed down via {' -> '.join(d['delegation']['chain'])})" if d.get("delegation") else ""
            return f"{d.get('coworker')} v{d.get('coworker_version')} asked to run {d.get('skill')}{via}"
        case "policy.allowed" | "policy.denied":
            what = f" step {d.get('step')} {d.get('system')}:{d.get('scope')}" if d.get("step") else ""
            return f"{'allowed' if d.get('allowed') else 'DENIED'} {d.get('coworker')} {d.get('skill')}{what} by rule {d.get('rule')}: {d.get('reason')} [decision {d.get('decision_id')}]"
        case "approval.requested":
            return f"{d.get('coworker')} asks {d.get('approver')} to approve: {d.get('action')}"
        case "approval.granted" | "approval.rejected":
            return f"{type_.split('.')[1]} step {d.get('step')} of {d.get('skill')} for {d.get('coworker')}" + (f": {d['comment']}" if d.get("comment") else "")
        case "skill.step":
            error = f" ({d['error']})" if d.get("error") else ""
            return f"step {d.get('step')} {d.get('system')} {d.get('operation')} by {d.get('coworker')}: {d.get('status')}{error}" + (" [compensation]" if d.get("kind") == "compensation" else "")
        case "skill.completed":
            return f"{d.get('skill')} by {d.get('coworker')} completed in {d.get('steps')} step(s)"
        case "skill.failed":
            return f"{d.get('skill')} by {d.get('coworker')} failed ({d.get('error_code')}): {d.get('reason')}"
        case "llm.usage":
            return f"{d.get('purpose')}: {d.get('model')}, {int(d.get('prompt_tokens', 0)) + int(d.get('completion_tokens', 0))} tokens, {d.get('cost_usd')} USD"
        case "memory.recorded":
            return f"remembered as {d.get('memory_id')} in {d.get('collection')}"
        case "memory.forgotten":
            return f"forgot {d.get('deleted')} memories of {d.get('scope')} {d.get('subject')}: {d.get('reason')}"
        case "deadletter":
            return f"DEAD LETTER from {d.get('service')} ({d.get('reason_code')}) at {d.get('source_topic')}/{d.get('partition')}/{d.get('offset')}: {str(d.get('reason'))[:200]}"
        case "coworker.changed":
            return f"{d.get('command')} {d.get('coworker')}: {d.get('from_state')} -> {d.get('to_state')} (version {d.get('version')})"
        case "coworker.rejected":
            return f"refused {d.get('command')} {d.get('coworker')}: {d.get('reason')}"
        case "coworker.command":
            return f"asked to {d.get('command')} {d.get('coworker')}"
    return ", ".join(f"{k}={v}" for k, v in list(d.items())[:5])
