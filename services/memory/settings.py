from decimal import Decimal
from pathlib import Path

from pydantic import Field

from runtime.settings import ServiceSettings


class MemorySettings(ServiceSettings):
    #: A Qdrant server; when unset, Qdrant Edge in this process on disk under ``qdrant_path`` (one process only).
    qdrant_url: str | None = None
    qdrant_api_key: str | None = Field(default=None, repr=False)
    qdrant_path: Path = Path(".var/qdrant")
    memory_collection: str = "memories"
    embed_max_seq_length: int = Field(default=256, ge=16, le=512)
    embed_threads: int | None = None
    embed_usd_per_million_tokens: Decimal = Decimal(0)
    #: Embeddings kept by content hash (least recently used out first): ~1.5 kB each at 384 dimensions.
    embed_cache_entries: int = Field(default=20_000, ge=0)
    batch_max_records: int = Field(default=200, ge=1)
    #: How long a memory of each scope is kept after it was last seen (days; 0 keeps it forever).
    retention_days_ticket: int = Field(default=365, ge=0)
    retention_days_requester: int = Field(default=90, ge=0)
    retention_days_coworker: int = Field(default=365, ge=0)
    retention_days_team: int = Field(default=0, ge=0)
    retention_sweep_s: float = Field(default=3600.0, gt=0)
    #: Recall ranking: weights of similarity, recency and scope; recency halves every this many days.
    recall_weight_similarity: float = 0.6
    recall_weight_recency: float = 0.1
    recall_weight_scope: float = 0.3
    #: Below this cosine similarity a memory is not about the request, however fresh or close.
    recall_min_similarity: float = Field(default=0.3, ge=-1, le=1)
    recall_half_life_days: float = Field(default=30.0, gt=0)

    def retention(self) -> dict[str, int]:
        return {"ticket": self.retention_days_ticket, "requester": self.retention_days_requester, "coworker": self.retention_days_coworker, "team": self.retention_days_team}
    #: A litellm embedding model (e.g. ``openai/text-embedding-3-small``) instead of the offline
    #: all-MiniLM-L6-v2; the collection remembers which model made its vectors and refuses another.
    memory_embed_model: str | None = None
    memory_embed_api_base: str | None = None
    memory_embed_api_key: str | None = Field(default=None, repr=False)
    memory_embed_timeout_s: float = Field(default=30.0, gt=0)
