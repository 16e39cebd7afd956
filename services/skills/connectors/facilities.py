"""The building access connector interface: cardholders, badges and the zones they open.
``FacilitiesHttp`` (``facilities_http.py``) speaks it over the access control system's REST API,
to the simulator (deploy/sandbox/api/facilities.py) or a real system alike. Errors are
``FacilitiesError``s with the system's codes (cardholder_not_found / badge_not_found 404,
zone_unknown 400, clearance_required 403, badge_exists / badge_not_active / cardholder_inactive 409)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from runtime.vendor.errors import ApiError


class FacilitiesError(ApiError):
    """An error as the access control system reports it: HTTP status, ``code`` and ``message``."""


@dataclass(frozen=True)
class Cardholder:
    id: str
    login: str
    name: str
    home_site: str
    status: str
    clearance: bool


@dataclass(frozen=True)
class Badge:
    id: str
    holder_id: str
    holder_login: str
    status: str
    issued_at: datetime
    zones: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class BadgeChange:
    """What a write did to a badge (``changed`` False: it already was so); a repeated key returns
    what the first call did."""

    badge_id: str
    operation: str
    status: str
    zones: tuple[str, ...]
    changed: bool = True


class Facilities(Protocol):
    async def get_cardholder(self, login: str) -> Cardholder: ...

    async def current_badge(self, login: str) -> Badge | None: ...

    async def get_badge(self, badge_id: str) -> Badge: ...

    async def issue_badge(self, login: str, *, idempotency_key: str, ticket_id: str) -> BadgeChange: ...

    async def add_zone(self, badge_id: str, zone: str, *, idempotency_key: str, ticket_id: str) -> BadgeChange: ...

    async def remove_zone(self, badge_id: str, zone: str, *, idempotency_key: str, ticket_id: str) -> BadgeChange: ...

    async def suspend_badge(self, badge_id: str, *, reason: str, idempotency_key: str, ticket_id: str) -> BadgeChange: ...

    async def reactivate_badge(self, badge_id: str, *, reason: str, idempotency_key: str, ticket_id: str) -> BadgeChange: ...

    async def return_badge(self, badge_id: str, *, reason: str, idempotency_key: str, ticket_id: str) -> BadgeChange: ...
