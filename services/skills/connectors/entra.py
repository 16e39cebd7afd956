"""The Microsoft Entra connector interface: what steps may ask of Entra ID (through Microsoft Graph).
``EntraSandbox`` (deploy/sandbox/entra.py) speaks it over PostgreSQL. Errors are ``ApiError``s
with Graph's codes (Request_ResourceNotFound 404, Authorization_RequestDenied 403,
InvalidAuthenticationToken 401, TooManyRequests 429)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from runtime.vendor.errors import ApiError


class GraphError(ApiError):
    """An error as Microsoft Graph reports it: HTTP status and ``error.code`` / ``error.message``."""

    @property
    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.summary}}


@dataclass(frozen=True)
class EntraUser:
    id: str
    user_principal_name: str
    mail: str | None
    display_name: str
    department: str | None
    job_title: str | None
    employee_id: str | None
    usage_location: str | None
    account_enabled: bool
    sign_in_sessions_valid_from: datetime


@dataclass(frozen=True)
class DirectoryGroup:
    id: str
    display_name: str
    security_enabled: bool
    mail_enabled: bool


@dataclass(frozen=True)
class RiskyUser:
    """Identity Protection's view of a user; level ``none`` and state ``none`` when never flagged."""

    user_id: str
    risk_level: str
    risk_state: str
    risk_detail: str
    risk_last_updated: datetime | None = None

    @property
    def at_risk(self) -> bool:
        return self.risk_state in {"atRisk", "confirmedCompromised"}


@dataclass(frozen=True)
class AccountChange:
    user_id: str
    account_enabled: bool  # after the call
    changed: bool  # False: the account already was so


@dataclass(frozen=True)
class SessionsRevoked:
    user_id: str
    valid_from: datetime  # sign-in sessions issued before this no longer work
    changed: bool = True


class Entra(Protocol):
    async def get_user(self, id_or_upn: str) -> EntraUser: ...

    async def member_of(self, id_or_upn: str) -> list[DirectoryGroup]: ...

    async def risky_user(self, id_or_upn: str) -> RiskyUser: ...

    async def set_account_enabled(self, id_or_upn: str, enabled: bool, *, idempotency_key: str, ticket_id: str) -> AccountChange: ...

    async def revoke_sign_in_sessions(self, id_or_upn: str, *, idempotency_key: str, ticket_id: str) -> SessionsRevoked: ...
