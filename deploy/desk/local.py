"""The local stack's service desk: the simulator's Jira, ServiceNow and Zendesk wired to the desk
service as a customer's administrator wires theirs. Each system gets an API token for the desk's
integration user (issued by the simulator's administration API) and a webhook subscription to the
desk's route, signed with a secret made once and kept in ``.var/desk-secrets.json`` (mode 600).

The names (integration users, environment variables) are the ones ``deploy/desk/desk.yaml`` uses."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import httpx

#: The desk's user in each system (the one its write-backs are made as, and whose comments coming
#: back by webhook are ignored): as deploy/desk/desk.yaml names them.
INTEGRATION_USERS = {"jira": "workforce-desk@acme.example", "servicenow": "workforce-desk", "zendesk": "atom-bot@acme.example"}
#: What each token may do there (the simulator records scopes; the real systems grant roles).
SCOPES = {
    "jira": ["issues.read", "issues.create", "issues.link", "issues.comment", "issues.edit", "issues.transition", "issues.assign"],
    "servicenow": ["incident.read", "incident.write"],
    "zendesk": ["tickets:read", "tickets:write", "users:read"],
}
SYSTEMS = tuple(INTEGRATION_USERS)


def webhook_secrets(var: Path) -> dict[str, str]:
    """Each system's webhook secret, made once per ``var``."""
    path = var / "desk-secrets.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps({system: secrets.token_urlsafe(32) for system in SYSTEMS}))
    return json.loads(path.read_text())


@dataclass
class LocalDesk:
    """The simulator at ``simulator_url`` as the desk's three upstream systems."""

    simulator_url: str
    admin_token: str
    var: Path

    def _admin(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.simulator_url}/_sandbox", headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=30)

    def env(self) -> dict[str, str]:
        """What the desk service needs: the systems' URLs, its tokens there, the webhook secrets."""
        env = {"DESK_SYSTEMS": json.dumps({system: f"{self.simulator_url}/{system}" for system in SYSTEMS})}
        with self._admin() as admin:
            for system in SYSTEMS:
                response = admin.post("/tokens", json={"system": system, "coworker": INTEGRATION_USERS[system], "version": 1, "scopes": SCOPES[system]})
                response.raise_for_status()
                env[f"DESK_{system.upper()}_TOKEN"] = response.json()["token"]
        for system, secret in webhook_secrets(self.var).items():
            env[f"DESK_{system.upper()}_WEBHOOK_SECRET"] = secret
        return env

    def subscribe(self, desk_url: str) -> None:
        """Point each system's webhooks at the desk (replacing earlier subscriptions of this stack)."""
        with self._admin() as admin:
            response = admin.get("/webhooks")
            response.raise_for_status()
            for old in response.json():
                admin.delete(f"/webhooks/{old['id']}").raise_for_status()
            for system, secret in webhook_secrets(self.var).items():
                admin.post("/webhooks", json={"system": system, "url": f"{desk_url}/webhooks/{system}", "secret": secret}).raise_for_status()
