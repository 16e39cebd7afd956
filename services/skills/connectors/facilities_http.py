"""The building access connector over the access control system's REST API (the shape we define,
documented in ``deploy/sandbox/api/facilities.py``): cardholders (``GET /v1/cardholders/{login}``,
``.../badges``), badges (``GET|POST /v1/badges``), their zones (``POST /v1/badges/{id}/zones``,
``DELETE /v1/badges/{id}/zones/{zone}``) and status (``POST /v1/badges/{id}/suspend|reactivate|
return``), with ``Authorization: Bearer <token>``. Its errors (``{"error": {"code", "message"}}``)
become ``FacilitiesError``s with its code; a 429's ``Retry-After`` is ``retry_after``.

How each write is made safe to repeat:

- Every POST (issue, grant a zone, suspend, reactivate, return) carries the step's idempotency key
  as ``Idempotency-Key``: the system answers a repeat of the same request with its first answer and
  does not act again (Stripe's semantics, kept 30 days), so a retry after a crash between its
  answer and our outcome record gets the same badge number, not a second badge. The body is the
  same on every attempt (the ticket as ``reference``), so a retry is never refused as different.
- They are also naturally idempotent where the key is forgotten: granting a zone the badge opens,
  or suspending a suspended badge, answers ``changed: false``; a second badge for a holder is
  refused (409 ``badge_exists``), never issued.
- Removing a zone is a ``DELETE``, idempotent by itself: a zone already gone is ``changed: false``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from services.skills.connectors.facilities import Badge, BadgeChange, Cardholder, FacilitiesError
from runtime.vendor.http import VendorHttp


def cardholder_from(body: dict[str, Any]) -> Cardholder:
    return Cardholder(body["id"], body["login"], body["name"], body["homeSite"], body["status"], bool(body["clearance"]))


def badge_from(body: dict[str, Any]) -> Badge:
    issued = datetime.fromisoformat(str(body["issuedAt"]).replace("Z", "+00:00"))
    return Badge(body["id"], body["holderId"], body["holderLogin"], body["status"], issued, tuple(body.get("zones") or ()))


def change_from(body: dict[str, Any]) -> BadgeChange:
    return BadgeChange(body["badgeId"], body["operation"], body["status"], tuple(body.get("zones") or ()), changed=bool(body.get("changed", True)))


def _segment(value: str) -> str:
    return quote(value, safe="@")


class FacilitiesHttp(VendorHttp):
    """The facilities connector over HTTP, as the coworker whose API token it holds."""

    system = "facilities"

    def error_from(self, response: httpx.Response) -> FacilitiesError:
        """The system's error body, or what a proxy answered instead, as a ``FacilitiesError``."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or f"HTTP{response.status_code}")
        return FacilitiesError(response.status_code, code, str(error.get("message") or response.reason_phrase or "error")[:500])

    async def _post(self, path: str, body: dict[str, Any], idempotency_key: str) -> BadgeChange:
        response = await self.call("POST", path, json=body, headers={"Idempotency-Key": idempotency_key})
        return change_from(response.json())

    async def get_cardholder(self, login: str) -> Cardholder:
        return cardholder_from((await self.call("GET", f"/v1/cardholders/{_segment(login)}")).json())

    async def current_badge(self, login: str) -> Badge | None:
        items = (await self.call("GET", f"/v1/cardholders/{_segment(login)}/badges")).json().get("data", [])
        return badge_from(items[0]) if items else None

    async def get_badge(self, badge_id: str) -> Badge:
        return badge_from((await self.call("GET", f"/v1/badges/{_segment(badge_id)}")).json())

    async def issue_badge(self, login: str, *, idempotency_key: str, ticket_id: str) -> BadgeChange:
        return await self._post("/v1/badges", {"holder": login, "reference": ticket_id}, idempotency_key)

    async def add_zone(self, badge_id: str, zone: str, *, idempotency_key: str, ticket_id: str) -> BadgeChange:
        return await self._post(f"/v1/badges/{_segment(badge_id)}/zones", {"zone": zone, "reference": ticket_id}, idempotency_key)

    async def remove_zone(self, badge_id: str, zone: str, *, idempotency_key: str, ticket_id: str) -> BadgeChange:
        """A DELETE: idempotent by itself, so it carries no key (``idempotency_key`` is unused)."""
        response = await self.call("DELETE", f"/v1/badges/{_segment(badge_id)}/zones/{_segment(zone)}", params={"reference": ticket_id})
        return change_from(response.json())

    async def suspend_badge(self, badge_id: str, *, reason: str, idempotency_key: str, ticket_id: str) -> BadgeChange:
        return await self._post(f"/v1/badges/{_segment(badge_id)}/suspend", {"reason": reason, "reference": ticket_id}, idempotency_key)

    async def reactivate_badge(self, badge_id: str, *, reason: str, idempotency_key: str, ticket_id: str) -> BadgeChange:
        return await self._post(f"/v1/badges/{_segment(badge_id)}/reactivate", {"reason": reason, "reference": ticket_id}, idempotency_key)

    async def return_badge(self, badge_id: str, *, reason: str, idempotency_key: str, ticket_id: str) -> BadgeChange:
        return await self._post(f"/v1/badges/{_segment(badge_id)}/return", {"reason": reason, "reference": ticket_id}, idempotency_key)
