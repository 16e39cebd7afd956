from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr

from runtime.settings import ServiceSettings
from services.skills.policy_file import DEFAULT_POLICY

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "deploy" / "workforce" / "skills.yaml"


class SkillsSettings(ServiceSettings):
    skills_catalog: Path = DEFAULT_CATALOG
    skills_escalation_queue: str = "service-desk"
    #: A skill that asks memory first waits this long for its answer, then runs without it.
    skills_recall_timeout_s: float = Field(default=10.0, gt=0)
    #: Tokens of recalled memories such a skill gets.
    skills_recall_tokens: int = Field(default=800, ge=1, le=32_000)
    db_pool_size: int = Field(default=8, ge=1)
    #: Tickets of a consumed batch worked on at once (each ticket's events in order). One by default:
    #: the kill -9 test (tests/e2e/test_faults.py) sometimes finds passwords reset for tickets that then
    #: ended escalated, more often with eight at once (issue 17's notes); raise it once that is understood.
    skills_concurrency: int = Field(default=1, ge=1)

    @property
    def concurrency(self) -> int:
        return self.skills_concurrency
    #: Seals coworkers' credentials at rest (a Fernet key). Never logged.
    workforce_secrets_key: SecretStr | None = None
    #: The authorisation policy: rule order and parameters, incl. the delegation hop limit (ADR 0015).
    skills_policy: Path = DEFAULT_POLICY
    #: Every connected system's API base URL, by name (e.g. {"okta": "https://acme.okta.com"}); a system
    #: not named is not connected, and a step on it goes to a person. The local stack names its simulator's.
    skills_systems: dict[str, str] = {}
    #: Client-side rate limit per system, requests per second (default 50).
    skills_rate_limits: dict[str, float] = {}
    #: A provisioning API that issues and revokes coworkers' tokens (services/skills/issuer.py); unset, the
    #: systems' administrators issue them and they are kept with ``credentials.store``.
    skills_credential_issuer: str | None = None
    skills_issuer_token: SecretStr | None = None
    #: Where every skill is served as an MCP tool (streamable HTTP at ``/mcp``); port 0 turns it off.
    skills_mcp_host: str = "127.0.0.1"
    skills_mcp_port: int = Field(default=8095, ge=0, le=65535)
    #: External MCP servers whose tools skills may call: name -> endpoint URL (e.g. {"wiki": "http://127.0.0.1:9000/mcp"}).
    #: A server ``wiki`` is the system ``mcp-wiki`` in manifests; its administrator issues each coworker's credential.
    skills_mcp_servers: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=90)], str] = {}
