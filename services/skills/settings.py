from pathlib import Path

from pydantic import Field, SecretStr

from runtime.settings import ServiceSettings

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "deploy" / "workforce" / "skills.yaml"


class SkillsSettings(ServiceSettings):
    skills_catalog: Path = DEFAULT_CATALOG
    skills_escalation_queue: str = "service-desk"
    #: How many fake employees the sandboxes hold.
    sandbox_employees: int = Field(default=300, ge=10)
    db_pool_size: int = Field(default=8, ge=1)
    #: Seals coworkers' credentials at rest (a Fernet key). Never logged.
    workforce_secrets_key: SecretStr | None = None
    #: How many times work may be handed down to a sub-agent.
    delegation_max_hops: int = Field(default=3, ge=1, le=10)
    #: Systems connected for real instead of their sandbox: name -> API base URL (e.g. {"okta": "https://acme.okta.com"}).
    skills_real_systems: dict[str, str] = {}
