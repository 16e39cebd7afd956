"""Who issues a coworker's API token on a system. In production the customer's administrator does,
and the token is kept with ``credentials.store``; nothing here makes one up. Where a provisioning
API is configured (``SKILLS_CREDENTIAL_ISSUER``, with its bearer token ``SKILLS_ISSUER_TOKEN``; the
local simulator's ``/_sandbox`` is one), tokens are issued and revoked through it, over HTTP:

- ``POST {issuer}/tokens`` ``{"system", "coworker", "version", "scopes"}`` -> 201 ``{"token"}``, or
  404 when the issuer does not hold that system (then its administrator issues the token);
- ``POST {issuer}/tokens/revoke`` ``{"coworker", "system"?, "version"?}`` -> ``{"revoked": n}``.

A token's value is returned once, to the vault; it is never logged.
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr


class IssuerError(RuntimeError):
    """The provisioning API did not do what was asked (the caller retries at the next reconcile)."""


class Issuer:
    def __init__(self, url: str, token: SecretStr | None, *, timeout_s: float = 10.0) -> None:
        self.url, self._token, self._timeout = url.rstrip("/"), token, timeout_s

    async def _post(self, path: str, body: dict) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token.get_secret_value() if self._token else ''}"}
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                return await client.post(f"{self.url}{path}", json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise IssuerError(f"the credential issuer at {self.url} did not answer: {type(exc).__name__}") from None

    async def issue(self, system: str, coworker: str, version: int, scopes: list[str]) -> str | None:
        """A new token for ``coworker`` on ``system`` carrying ``scopes``; None when the issuer does not hold ``system``."""
        response = await self._post("/tokens", {"system": system, "coworker": coworker, "version": version, "scopes": scopes})
        if response.status_code == 404:
            return None
        if response.status_code != 201:
            raise IssuerError(f"the credential issuer refused to issue {coworker}'s {system} token: HTTP {response.status_code}")
        return str(response.json()["token"])

    async def revoke(self, coworker: str, *, system: str | None = None, version: int | None = None) -> int:
        response = await self._post("/tokens/revoke", {"coworker": coworker, "system": system, "version": version})
        if response.status_code != 200:
            raise IssuerError(f"the credential issuer refused to revoke {coworker}'s tokens: HTTP {response.status_code}")
        return int(response.json()["revoked"])
