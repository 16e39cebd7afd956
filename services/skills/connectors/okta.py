"""The Okta connector interface: what steps may ask of Okta. ``OktaSandbox`` (deploy/sandbox/okta.py)
speaks it over PostgreSQL; ``OktaHttp`` (services/skills/connectors/okta_http.py) over Okta's REST API.
Errors are ``ApiError``s with Okta's own codes (E0000007 not found, E0000038 wrong status, E0000001
validation, E0000016 already active, E0000006 forbidden, E0000011 bad token, E0000047 rate limited).

Writes take the step's idempotency key: the sandbox keeps it and a repeated key returns the first
result; the real API has no such key, so the client makes each write safe to repeat instead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from runtime.vendor.errors import ApiError


class OktaError(ApiError):
    """An error as Okta reports it: HTTP status, ``errorCode`` and ``errorSummary``."""


@dataclass(frozen=True)
class User:
    id: str
    login: str
    email: str
    first_name: str
    last_name: str
    status: str
    country: str
    department: str | None = None
    employee_number: str | None = None  # the HR employee id (Okta profile employeeNumber)
    title: str | None = None
    manager_id: str | None = None


@dataclass(frozen=True)
class Reset:
    user_id: str
    status: str
    #: The one-time reset token, returned only with ``send_email=False`` (Okta's resetPasswordUrl);
    #: with ``send_email=True`` Okta emails it to the user and returns nothing secret.
    token: str | None = None
    emailed_to: str | None = None


@dataclass(frozen=True)
class NewUser:
    """A user's profile as ``POST /api/v1/users`` takes it."""

    login: str
    email: str
    first_name: str
    last_name: str
    country: str
    department: str
    title: str | None = None
    employee_number: str | None = None
    manager_id: str | None = None


@dataclass(frozen=True)
class Lifecycle:
    """What a lifecycle operation did: the user's status before and after (``changed`` False when the
    user already was so; a repeated key returns what the first call did)."""

    user_id: str
    operation: str
    from_status: str | None
    status: str
    changed: bool = True
    #: Where the activation email went (``activate`` with send_email), never the link itself.
    emailed_to: str | None = None


@dataclass(frozen=True)
class App:
    id: str
    name: str
    label: str
    status: str
    sign_on_mode: str


@dataclass(frozen=True)
class AppUser:
    """A user's assignment to an app (``/api/v1/apps/{id}/users/{uid}``), with their latest sign-in
    to it from the System Log (None: never signed in)."""

    app_id: str
    user_id: str
    login: str
    scope: str
    status: str
    sync_state: str
    created: datetime
    last_sign_in: datetime | None = None
    sync_error: str | None = None
    user_status: str | None = None


@dataclass(frozen=True)
class Assignment:
    """What an assign or unassign call did (``changed`` False: it already was so); a repeated key
    returns what the first call did."""

    app_id: str
    user_id: str
    action: str
    changed: bool
    status: str | None = None
    sync_state: str | None = None


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    description: str


#: Okta's names for its factor types, by (factorType, provider).
FACTOR_NAMES = {("push", "OKTA"): "Okta Verify (push)", ("token:software:totp", "OKTA"): "Okta Verify (code)", ("token:software:totp", "GOOGLE"): "Google Authenticator", ("sms", "OKTA"): "SMS"}


def masked_phone(phone: str) -> str:
    """An SMS factor's phone number as a factor shows it: only its last four digits."""
    digits = [c for c in phone if c.isdigit()]
    return "+" + "X" * max(0, len(digits) - 4) + "".join(digits[-4:]) if digits else "***"


@dataclass(frozen=True)
class Factor:
    """An enrolled factor (``/api/v1/users/{id}/factors``); a phone number shows only its last digits."""

    id: str
    factor_type: str
    provider: str
    status: str
    device: str | None = None  # the push device's name, or the SMS phone number (masked)

    @property
    def name(self) -> str:
        return FACTOR_NAMES.get((self.factor_type, self.provider), f"{self.factor_type} ({self.provider})")


@dataclass(frozen=True)
class FactorReset:
    user_id: str
    factor_id: str
    factor_type: str
    provider: str
    changed: bool = True


class Okta(Protocol):
    # users
    async def get_user(self, login_or_id: str) -> User: ...

    async def reset_password(self, user_id: str, *, idempotency_key: str, ticket_id: str, send_email: bool = True) -> Reset: ...

    async def create_user(self, profile: NewUser, *, idempotency_key: str, ticket_id: str) -> User: ...

    async def activate_user(self, user_id: str, *, idempotency_key: str, ticket_id: str, send_email: bool = True) -> Lifecycle: ...

    async def deactivate_user(self, user_id: str, *, idempotency_key: str, ticket_id: str) -> Lifecycle: ...

    async def suspend_user(self, user_id: str, *, idempotency_key: str, ticket_id: str) -> Lifecycle: ...

    async def unsuspend_user(self, user_id: str, *, idempotency_key: str, ticket_id: str) -> Lifecycle: ...

    # applications
    async def list_apps(self, q: str | None = None) -> list[App]: ...

    async def list_app_users(self, app_id: str) -> list[AppUser]: ...

    async def get_app_user(self, app_id: str, user_id: str) -> AppUser: ...

    async def list_user_apps(self, user_id: str) -> list[AppUser]: ...

    async def assign_user(self, app_id: str, user_id: str, *, idempotency_key: str, ticket_id: str) -> Assignment: ...

    async def unassign_user(self, app_id: str, user_id: str, *, idempotency_key: str, ticket_id: str) -> Assignment: ...

    # groups
    async def list_user_groups(self, user_id: str) -> list[Group]: ...

    # MFA factors
    async def list_factors(self, user_id: str) -> list[Factor]: ...

    async def reset_factor(self, user_id: str, factor_id: str, *, idempotency_key: str, ticket_id: str) -> FactorReset: ...
