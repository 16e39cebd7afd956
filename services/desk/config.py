"""How a service desk is wired to the workforce: per upstream system, how its webhooks authenticate,
which of its users is our integration (its own comments are never read back as a requester's), how
a ticket is resolved and escalated there; which team takes a ticket; who its users are in our
directory. One YAML file (``DESK_CONFIG``, default ``deploy/desk/desk.yaml``); secrets are never in
it, only the names of the environment variables that hold them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

SYSTEMS = ("jira", "servicenow", "zendesk")
System = Literal["jira", "servicenow", "zendesk"]
Team = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookAuth(Strict):
    """How a system's webhook proves it is that system. ``hmac``: a shared secret signs the raw body
    (Jira ``X-Hub-Signature``, Zendesk ``X-Zendesk-Webhook-Signature``, ServiceNow a header of our
    choosing); ``basic``: HTTP Basic with a user and password (ServiceNow's REST message can do
    either)."""

    mode: Literal["hmac", "basic"] = "hmac"
    secret_env: Annotated[str, Field(min_length=1, description="The environment variable that holds the shared secret (hmac) or the password (basic).")]
    user: str | None = None
    #: ServiceNow's HMAC header (the business rule sets it); Jira's and Zendesk's are fixed.
    header: str = "X-Workforce-Signature"
    #: Zendesk: a signature timestamp older (or newer) than this is refused as a replay.
    tolerance_s: Annotated[int, Field(ge=1, le=3600)] = 300

    def secret(self) -> str | None:
        return os.environ.get(self.secret_env) or None


class Resolve(Strict):
    """How a resolution closes the ticket: Jira by a transition (its name), ServiceNow by ``state``
    with a close code, Zendesk by ``status``."""

    jira_transition: str = "Done"
    servicenow_state: str = "6"
    servicenow_close_code: str = "Solved (Permanently)"
    zendesk_status: str = "solved"


class Connection(Strict):
    """Where the system's REST API is and who we are there (the credential is in ``token_env``)."""

    url: str | None = None
    #: Jira: the account's email (Basic email:token); ServiceNow: the user name; Zendesk: the agent's email.
    user: str | None = None
    token_env: str | None = None


class SystemConfig(Strict):
    enabled: bool = True
    webhook: WebhookAuth
    api: Connection = Connection()
    #: The system's own id of our integration user (Jira accountId, ServiceNow user name, Zendesk
    #: user id): a comment it wrote is ours coming back, never a requester's answer.
    integration_user: str | None = None
    resolve: Resolve = Resolve()


class TeamRule(Strict):
    """Which team takes a ticket: the first rule whose every given field matches (case-insensitive)."""

    system: System | None = None
    project: str | None = None  # Jira project key
    assignment_group: str | None = None  # ServiceNow assignment group (name or sys_id)
    category: str | None = None  # ServiceNow category
    brand: str | None = None  # Zendesk brand id
    tag: str | None = None  # a Jira label or a Zendesk tag
    team: Team


class EscalationGroup(Strict):
    """Where a ticket escalated to one of our queues goes in each system: Jira an assignee
    (accountId) and a label, ServiceNow an assignment group, Zendesk a group id."""

    jira_assignee: str | None = None
    jira_label: str | None = None
    servicenow_group: str | None = None
    zendesk_group_id: int | None = None


class DeskConfig(Strict):
    systems: dict[System, SystemConfig] = {}
    teams: list[TeamRule] = []
    default_team: Team | None = None
    #: Our escalation queue name (``Escalation.queue``) -> that queue's group in each system;
    #: ``"*"`` for every queue not named.
    escalation_groups: dict[str, EscalationGroup] = {}
    #: Per system, its user id -> the person's email in our directory.
    users: dict[System, dict[str, str]] = {}
    #: The email domain of our directory, to refuse a requester from outside it (None: any).
    directory_domain: str | None = None

    def system(self, name: str) -> SystemConfig | None:
        found = self.systems.get(name)  # type: ignore[call-overload]
        return found if found is not None and found.enabled else None

    def escalation_group(self, queue: str) -> EscalationGroup | None:
        return self.escalation_groups.get(queue) or self.escalation_groups.get("*")


class ConfigError(Exception):
    """The desk configuration is unreadable or invalid: says the file and the field."""


def load(path: Path) -> DeskConfig:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return DeskConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None
