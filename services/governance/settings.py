from pathlib import Path

from pydantic import Field

from runtime.settings import ServiceSettings

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "deploy" / "workforce" / "skills.yaml"


class GovernanceSettings(ServiceSettings):
    batch_max_records: int = Field(default=5000, ge=1)
    db_pool_size: int = Field(default=4, ge=1)
    skills_catalog: Path = DEFAULT_CATALOG
