"""Building badges: issue a badge to someone who has none, and let it open a zone (a floor, the
garage, a restricted room). The badge is for the person the request names (``employee``: a manager
asking for a new starter) or else for the requester. A new badge opens nothing until a zone is
granted, so issuing it is not what needs approval; granting the zone is (destructive). If the zone
cannot be granted, a badge issued by this request is returned again (the compensation), so no
unused badge is left in circulation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts.events import SkillRequest
from services.skills.access_common import person, requester
from runtime.vendor.errors import ApiError
from services.skills.connectors.facilities import Facilities
from services.skills.failures import refused
from services.skills.people import named_in
from services.skills.skill import Skill, Step, StepContext, StepFailed

_ORDINALS = {"ground": 1, "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
#: Rooms people name by what they are rather than by code.
_ROOMS = {"parking": "HQ-PARK", "garage": "HQ-PARK", "server room": "HQ-DC", "data centre": "HQ-DC", "data center": "HQ-DC", "lab": "BLR-LAB", "hardware lab": "BLR-LAB"}
#: The badge system's refusals of a zone that are the skill's own answers (its code -> the skill's).
ZONE_REFUSALS = {"zone_unknown": "zone_unknown", "clearance_required": "clearance_required", "badge_not_active": "badge_not_active"}


def _holder(request: SkillRequest) -> str:
    named = str(request.inputs.get("employee", "")).strip()
    return person(named) if named else requester(request)


def zone_code(asked: str, home_site: str) -> str:
    """The zone a request means: a code (``HQ-L3``, ``hq l3``), a floor of the holder's own site
    (``third floor``, ``level 2``), or a room by name (``parking``). Anything else is passed on as
    said, for the badge system to refuse with the zones it has."""
    text = asked.strip().lower()
    code = re.fullmatch(r"(hq|blr)[\s_-]*(l\d|park|dc|lab)", text)
    if code:
        return f"{code.group(1)}-{code.group(2)}".upper()
    floor = re.search(r"\b(ground|first|second|third|fourth|[1-4](?:st|nd|rd|th)?)\s+floor\b|\b(?:floor|level)\s+([1-4])\b", text)
    if floor:
        word = floor.group(1) or floor.group(2)
        return f"{home_site}-L{_ORDINALS.get(word) or int(word[0])}"
    for name, room in _ROOMS.items():
        if name in text:
            return room
    return asked.strip().upper()


async def _newcomer_named(ctx: StepContext, badges: Facilities) -> str | None:
    """The one person the ticket names who is not the requester and holds no badge yet: a new
    starter ("badge for Jane Lee, who starts monday"). Anyone who has a badge is not badged by proxy."""

    async def cardholder(name: str) -> list[Any]:
        try:
            return [await badges.get_cardholder(name.replace(" ", "."))]
        except ApiError as exc:
            if exc.transient:
                raise
            return []

    me = requester(ctx.request)
    named = [h for h in await named_in(ctx.request.ticket.text, cardholder, key=lambda h: h.login) if h.login != me]
    newcomers = [h for h in named if await badges.current_badge(h.login) is None]
    return newcomers[0].login if len(newcomers) == 1 else None


async def find_badge(ctx: StepContext) -> dict[str, Any]:
    badges: Facilities = ctx.system
    login = _holder(ctx.request) if str(ctx.inputs.get("employee", "")).strip() else (await _newcomer_named(ctx, badges) or requester(ctx.request))
    with refused("the badge system", f"looking up the cardholder {login!r} and their badge", default="cardholder_not_found", coworker=ctx.request.coworker):
        holder = await badges.get_cardholder(login)
        badge = await badges.current_badge(login)
    if holder.status != "active":
        raise StepFailed("cardholder_inactive", f"{holder.login} is an {holder.status} cardholder (left the company); no badge is issued")
    if badge is not None and badge.status != "active":
        raise StepFailed("badge_suspended", f"{holder.login}'s badge {badge.id} is {badge.status}; security decides whether it is reactivated")
    return {"holder": holder.login, "home_site": holder.home_site, "badge_id": badge.id if badge else None, "zones": list(badge.zones) if badge else []}


async def issue_badge(ctx: StepContext) -> dict[str, Any]:
    found = ctx.earlier["find-badge"]
    if found["badge_id"] is not None:
        return {"badge_id": found["badge_id"], "issued": False}
    badges: Facilities = ctx.system
    with refused("the badge system", f"issuing a badge to {found['holder']}", default="issue_refused", coworker=ctx.request.coworker):
        made = await badges.issue_badge(found["holder"], idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    return {"badge_id": made.badge_id, "issued": True}


async def return_badge(ctx: StepContext, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Undo: a badge this request issued goes back (it never opened anything)."""
    if not outputs.get("issued"):
        return {"returned": False, "why": "the holder already had this badge"}
    badges: Facilities = ctx.system
    with refused("the badge system", f"returning badge {outputs['badge_id']}, which this request issued", default="return_refused", coworker=ctx.request.coworker):
        done = await badges.return_badge(outputs["badge_id"], reason=f"issued for {ctx.request.ticket_id}, which did not complete", idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    return {"returned": True, "badge_id": done.badge_id, "status": done.status}


async def grant_zone(ctx: StepContext) -> dict[str, Any]:
    badges: Facilities = ctx.system
    badge_id = ctx.earlier["issue-badge"]["badge_id"]
    zone = zone_code(str(ctx.inputs.get("zone", "")), ctx.earlier["find-badge"]["home_site"])
    with refused("the badge system", f"adding {zone} to badge {badge_id}", codes=ZONE_REFUSALS, default="zone_refused", coworker=ctx.request.coworker):
        done = await badges.add_zone(badge_id, zone, idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    return {"badge_id": badge_id, "zone": zone, "added": done.changed, "zones": list(done.zones)}


async def remove_zone(ctx: StepContext, outputs: Mapping[str, Any]) -> dict[str, Any]:
    if not outputs.get("added"):
        return {"removed": False}
    badges: Facilities = ctx.system
    with refused("the badge system", f"removing {outputs['zone']} from badge {outputs['badge_id']}", default="zone_not_removed", coworker=ctx.request.coworker):
        await badges.remove_zone(outputs["badge_id"], outputs["zone"], idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
    return {"removed": True, "zone": outputs["zone"]}


def _summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    holder, issued, zone = outputs["find-badge"]["holder"], outputs["issue-badge"], outputs["grant-zone"]
    opens = ", ".join(zone["zones"])
    if issued["issued"]:
        return f"Issued badge {issued['badge_id']} to {holder}; it opens {opens}. Collect it from reception with a photo ID."
    if not zone["added"]:
        return f"{holder}'s badge {issued['badge_id']} already opens {zone['zone']} (it opens {opens}); nothing was changed. If a door still does not open, note which one and tell facilities."
    return f"Badge {issued['badge_id']} of {holder} now also opens {zone['zone']} (it opens {opens}); the doors pick it up within a few minutes."


def _asked(request: SkillRequest) -> dict[str, Any]:
    return {"holder": _holder(request), "zone": str(request.inputs.get("zone", ""))}


BADGE_ACCESS = Skill(
    name="badge-access",
    steps=(
        Step("find-badge", "facilities", "badges.read", find_badge, describe=_asked),
        Step("issue-badge", "facilities", "badges.create", issue_badge, describe=_asked, compensate=return_badge),
        Step("grant-zone", "facilities", "badges.update", grant_zone, describe=_asked, destructive=True, compensate=remove_zone),
    ),
    summarise=_summary,
)

SKILLS = (BADGE_ACCESS,)
