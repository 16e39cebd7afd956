"""The Microsoft Entra connector interface: what steps may ask of Entra ID (through Microsoft Graph).
``EntraSandbox`` (services/skills/sandbox/entra.py) speaks it over PostgreSQL. Errors are ``ApiError``s
with Graph's codes (Request_ResourceNotFound 404, Authorization_RequestDenied 403,
InvalidAuthenticationToken 401, TooManyRequests 429)."""

from __future__ import annotations

from typing import Protocol

from services.skills.sandbox.entra import AccountChange, DirectoryGroup, EntraUser, RiskyUser, SessionsRevoked


class Entra(Protocol):
    async def get_user(self, id_or_upn: str) -> EntraUser: ...

    async def member_of(self, id_or_upn: str) -> list[DirectoryGroup]: ...

    async def risky_user(self, id_or_upn: str) -> RiskyUser: ...

    async def set_account_enabled(self, id_or_upn: str, enabled: bool, *, idempotency_key: str, ticket_id: str) -> AccountChange: ...

    async def revoke_sign_in_sessions(self, id_or_upn: str, *, idempotency_key: str, ticket_id: str) -> SessionsRevoked: ...
