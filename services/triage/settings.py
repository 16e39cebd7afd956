from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from runtime.settings import ServiceSettings

_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CATALOG = _ROOT / "deploy" / "workforce" / "skills.yaml"
DEFAULT_MODEL = _ROOT / "deploy" / "models" / "triage"
DEFAULT_EMBEDDING = _ROOT / "deploy" / "models" / "static-minilm"


class TriageSettings(ServiceSettings):
    skills_catalog: Path = DEFAULT_CATALOG
    #: A model file, or a folder whose ``current`` names one (`workforce triage train` writes it).
    triage_model: Path = DEFAULT_MODEL
    #: The static sentence embedding the skill router reads meaning with (`workforce triage distill`).
    triage_embedding_model: Path = DEFAULT_EMBEDDING
    #: ``offline`` (the trained classifier) or ``llm`` (litellm, falling back to offline).
    triage_method: Literal["offline", "llm"] = "offline"
    #: Overrides the model's own threshold (the confidence that keeps routed tickets 96% right).
    triage_confidence_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    triage_escalation_queue: str = "service-desk"
    db_pool_size: int = Field(default=4, ge=1)
    # LLM mode, through litellm (any provider): e.g. TRIAGE_LLM_MODEL=openai/gpt-4o-mini
    triage_llm_model: str | None = None
    triage_llm_api_base: str | None = None
    triage_llm_api_key: SecretStr | None = Field(default=None, repr=False)
    triage_llm_timeout_s: float = Field(default=10.0, gt=0)
    #: The most tokens the LLM may answer with (its answer is a short JSON); bounds each call's cost.
    triage_llm_max_tokens: int = Field(default=200, ge=16, le=4096)
    #: Reserve each call against billing's budget leases before it is made (budget.lease.* topics).
    triage_llm_budget_leases: bool = True
    #: Price of the LLM when litellm's price map does not know it (USD per million tokens).
    triage_llm_usd_per_million_input: float | None = None
    triage_llm_usd_per_million_output: float | None = None
