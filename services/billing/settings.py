from pydantic import Field

from runtime.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    batch_max_records: int = Field(default=5000, ge=1)
    db_pool_size: int = Field(default=4, ge=1)
