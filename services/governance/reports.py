"""Reports read from the audit trail. Least privilege needs evidence: a scope a coworker holds but
never used is one to take away."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from contracts.coworkers import LifecycleState
from contracts.events import CoworkerState

#: Actions a coworker took on a system: completed ``skill.step`` events, as ``system:operation``.
USED_SQL = """
SELECT DISTINCT event->'data'->>'coworker' AS coworker, event->'data'->>'system' AS system, event->'data'->>'operation' AS operation
FROM governance.audit_events
WHERE type = 'skill.step'
  AND event->'data'->>'status' = 'done'
  AND event_time >= now() - make_interval(days => $1)
  AND event->'data'->>'coworker' = ANY($2::text[])
"""


@dataclass(frozen=True)
class UnusedPermission:
    """One coworker's grants against its use; scopes are ``system:scope``, sorted."""

    coworker: str
    version: int
    granted: tuple[str, ...]
    used: tuple[str, ...]  # what it did, granted by the active version or not (an older one may have)
    unused: tuple[str, ...]

    @property
    def share_unused(self) -> float:
        """Unused grants as a fraction of all grants; 0 for a coworker granted nothing."""
        return len(self.unused) / len(self.granted) if self.granted else 0.0


async def unused_permissions(conn: asyncpg.Connection, coworkers: Mapping[str, CoworkerState], days: int) -> list[UnusedPermission]:
    """For each active coworker, the scopes its active manifest grants that no completed step used in
    the last ``days`` days; the most over-granted first. Failed steps do not count as use: a scope
    only ever tried and refused by the system is not one the coworker needs."""
    if days < 1:
        raise ValueError(f"days must be 1 or more, got {days}")
    active = {name: row for name, row in coworkers.items() if row.state is LifecycleState.active and row.active is not None and row.active_version is not None}
    used: dict[str, set[str]] = {name: set() for name in active}
    for record in await conn.fetch(USED_SQL, days, list(active)):
        used[record["coworker"]].add(f"{record['system']}:{record['operation']}")
    rows = []
    for name, row in active.items():
        assert row.active is not None and row.active_version is not None
        granted = row.active.granted_scopes
        rows.append(UnusedPermission(name, row.active_version, tuple(sorted(granted)), tuple(sorted(used[name])), tuple(sorted(granted - used[name]))))
    return sorted(rows, key=lambda r: (-r.share_unused, r.coworker))


# --- the audit reports (``workforce audit report``) ---------------------------------------

ACTIONS_SQL = """
SELECT event->'data'->>'coworker' AS coworker, event->'data'->>'system' AS system,
       count(*) FILTER (WHERE event->'data'->>'status' = 'done') AS done,
       count(*) FILTER (WHERE event->'data'->>'status' = 'failed') AS failed
FROM audit_events WHERE type = 'skill.step' AND event_time >= $1
GROUP BY 1, 2 ORDER BY 1, 2
"""

DENIALS_SQL = """
SELECT event->'data'->>'coworker' AS coworker, event->'data'->>'rule' AS rule, event->'data'->>'reason' AS reason, count(*) AS n
FROM audit_events WHERE type = 'policy.denied' AND event_time >= $1
GROUP BY 1, 2, 3 ORDER BY n DESC, 1, 2, 3
"""

ESCALATIONS_SQL = """
SELECT team, event->'data'->>'queue' AS queue, event->'data'->>'reason_code' AS reason_code, count(*) AS n
FROM audit_events WHERE type = 'ticket.escalated' AND event_time >= $1
GROUP BY 1, 2, 3 ORDER BY n DESC, 1, 2, 3
"""

APPROVALS_SQL = """
SELECT actor AS decided_by, event->'data'->>'coworker' AS coworker, event->'data'->>'skill' AS skill,
       count(*) FILTER (WHERE type = 'approval.granted') AS granted, count(*) FILTER (WHERE type = 'approval.rejected') AS rejected
FROM audit_events WHERE type IN ('approval.granted', 'approval.rejected') AND event_time >= $1
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""


async def audit_report(conn: asyncpg.Connection, *, since: datetime, unused_days: int) -> dict[str, Any]:
    """Every report an auditor asks for first, over the records since ``since``."""
    from services.governance import coworkers as stored
    from services.governance.explain import pass_rate

    rate = await pass_rate(conn, since=since)
    return {
        "since": since.isoformat(),
        "actions": [dict(r) for r in await conn.fetch(ACTIONS_SQL, since)],
        "denials": [dict(r) for r in await conn.fetch(DENIALS_SQL, since)],
        "escalations": [dict(r) for r in await conn.fetch(ESCALATIONS_SQL, since)],
        "approvals": [dict(r) for r in await conn.fetch(APPROVALS_SQL, since)],
        "unused_permissions": [
            {"coworker": u.coworker, "version": u.version, "unused": list(u.unused), "granted": len(u.granted), "share_unused": round(u.share_unused, 3)}
            for u in await unused_permissions(conn, await stored.load_all(conn), unused_days)  # type: ignore[arg-type]
        ],
        "pass_rate": {"actions": rate.actions, "complete": rate.complete, "rate": rate.rate, "gaps": rate.gaps},
    }
