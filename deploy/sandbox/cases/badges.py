"""The sandbox cases of ``services/skills/badges.py``."""

from __future__ import annotations

import asyncpg

from contracts.envelope import Envelope
from deploy.sandbox.cases.workbench import Case, Check


def _badge(login: str, status: str | None, zones: set[str] | None = None, *, returned: int = 0) -> Check:
    """The holder's badge in use (None: none) opens ``zones`` (when given); ``returned`` badges were handed back by cases."""

    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        rows = await conn.fetch(
            "SELECT b.id, b.status, array_remove(array_agg(z.zone ORDER BY z.zone), NULL) AS zones FROM facilities_badges b JOIN facilities_cardholders c ON c.id = b.holder_id"
            " LEFT JOIN facilities_badge_zones z ON z.badge_id = b.id WHERE c.login = $1 GROUP BY b.id, b.status",
            f"{login}@acme.example",
        )
        current = [r for r in rows if r["status"] != "returned"]
        assert len(current) <= 1, f"{login} holds {len(current)} badges"
        now = current[0]["status"] if current else None
        assert now == status, f"{login}'s badge is {now}; expected {status}"
        if zones is not None:
            assert set(current[0]["zones"]) == zones, f"{login}'s badge opens {current[0]['zones']}; expected {sorted(zones)}"
        handed = sum(1 for r in rows if r["status"] == "returned")
        assert handed == returned, f"{login} has {handed} returned badge(s); expected {returned}"

    return check


CASES = (
    Case("a new starter gets a badge for their floor", "badge-access", "onboarding-manager", "ana.silva", "new starter jane lee needs a building badge", "resolved",
         inputs={"employee": "Jane Lee", "zone": "HQ-L2"}, approve=True, check=_badge("jane.lee", "active", {"HQ-L2"})),
    Case("my badge does not open the third floor", "badge-access", "onboarding-manager", "ana.silva", "my badge does not open the third floor door", "resolved",
         inputs={"zone": "third floor"}, approve=True, check=_badge("ana.silva", "active", {"HQ-L1", "HQ-L2", "HQ-L3"})),
    Case("which zone is asked", "badge-access", "onboarding-manager", "john.miller", "badge access for the new office", "resolved",
         answers={"zone": "parking"}, approve=True, check=_badge("john.miller", "active")),
    Case("a restricted room needs clearance: the new badge is returned", "badge-access", "onboarding-manager", "ana.silva", "jane lee needs the server room", "escalated",
         inputs={"employee": "jane.lee", "zone": "server room"}, approve=True, error_code="clearance_required", check=_badge("jane.lee", None, returned=1)),
    Case("an unknown zone is refused with the zones there are", "badge-access", "onboarding-manager", "ana.silva", "open HQ level 9 for me", "escalated",
         inputs={"zone": "HQ-L9"}, approve=True, error_code="zone_unknown", check=_badge("ana.silva", "active", {"HQ-L1", "HQ-L2"})),
    Case("a suspended badge goes to security", "badge-access", "onboarding-manager", "lisa.wong", "my badge stopped working", "escalated",
         inputs={"zone": "HQ-L4"}, error_code="badge_suspended", check=_badge("lisa.wong", "suspended")),
    Case("someone the directory does not know", "badge-access", "onboarding-manager", "nobody.here", "badge please", "escalated",
         inputs={"zone": "HQ-L1"}, error_code="identity_mismatch"),
    Case("the manager rejects: the badge issued for it is returned", "badge-access", "onboarding-manager", "ana.silva", "badge for jane lee", "escalated",
         inputs={"employee": "jane.lee", "zone": "HQ-L2"}, approve=False, error_code="approval_rejected", check=_badge("jane.lee", None, returned=1)),
)
