"""The Okta connector interface: what steps may ask of Okta. ``OktaSandbox`` (services/skills/sandbox/okta.py)
speaks it over PostgreSQL; a real client speaks it over Okta's REST API. Errors are ``ApiError``s with
Okta's own codes (E0000007 not found, E0000038 wrong status, E0000006 forbidden, E0000011 bad token)."""

from __future__ import annotations

from typing import Protocol

from services.skills.sandbox.okta import Reset, User


class Okta(Protocol):
    async def get_user(self, login_or_id: str) -> User: ...

    async def reset_password(self, user_id: str, *, idempotency_key: str, ticket_id: str, send_email: bool = True) -> Reset: ...
