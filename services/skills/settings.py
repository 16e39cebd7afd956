from pathlib import Path

from pydantic import Field

from runtime.settings import ServiceSettings

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "deploy" / "workforce" / "skills.yaml"


class SkillsSettings(ServiceSettings):
    skills_catalog: Path = DEFAULT_CATALOG
    skills_escalation_queue: str = "service-desk"
    #: How many fake employees the sandboxes hold.
    sandbox_employees: int = Field(default=300, ge=10)
    db_pool_size: int = Field(default=8, ge=1)
