from decimal import Decimal
from pathlib import Path

from pydantic import Field

from runtime.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]


class BillingSettings(ServiceSettings):
    batch_max_records: int = Field(default=5000, ge=1)
    db_pool_size: int = Field(default=4, ge=1)
    #: Team and skill budgets, local model prices, the human baseline (see deploy/workforce/budgets.yaml).
    billing_config: Path = ROOT / "deploy" / "workforce" / "budgets.yaml"
    #: A price snapshot file; the newest in services/billing/prices/ when unset.
    billing_price_table: Path | None = None
    #: The operator's price of the local embedding model (the same setting memory reports with).
    embed_usd_per_million_tokens: Decimal | None = None
    #: How long a lease lasts, and how long after that billing waits for its usage before freeing it.
    lease_ttl_s: float = Field(default=60.0, gt=0)
    lease_grace_s: float = Field(default=30.0, ge=0)
    #: How often spend.report is published per team (overrides the config file when set).
    spend_report_every_s: float | None = Field(default=None, gt=0)
