from decimal import Decimal
from pathlib import Path

from pydantic import Field

from runtime.settings import ServiceSettings


class MemorySettings(ServiceSettings):
    #: A Qdrant server; when unset, Qdrant's local mode on disk at ``qdrant_path`` (one process only).
    qdrant_url: str | None = None
    qdrant_api_key: str | None = Field(default=None, repr=False)
    qdrant_path: Path = Path(".var/qdrant")
    memory_collection: str = "memories"
    embed_max_seq_length: int = Field(default=256, ge=16, le=512)
    embed_threads: int | None = None
    embed_usd_per_million_tokens: Decimal = Decimal(0)
    batch_max_records: int = Field(default=200, ge=1)
