from decimal import Decimal
from pathlib import Path

from pydantic import Field

from runtime.settings import ServiceSettings

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "deploy" / "workforce" / "skills.yaml"


class TriageSettings(ServiceSettings):
    skills_catalog: Path = DEFAULT_CATALOG
    #: Below this similarity to the best skill a ticket goes to a human instead of a guess.
    triage_confidence_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    triage_escalation_queue: str = "service-desk"
    embed_max_seq_length: int = Field(default=128, ge=16, le=512)
    embed_threads: int | None = None
    #: The configured price of the local embedding model; zero unless an operator prices its CPU.
    embed_usd_per_million_tokens: Decimal = Decimal(0)
