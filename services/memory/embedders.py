"""The embedder memory uses: the offline all-MiniLM-L6-v2 by default, or any litellm embedding
model when ``MEMORY_EMBED_MODEL`` is set (an OpenAI-compatible ``/v1/embeddings`` at
``MEMORY_EMBED_API_BASE``, or a provider litellm knows). Both give L2-normalised vectors and the
tokens each text cost."""

from __future__ import annotations

from typing import Any

import numpy as np

from runtime.embeddings import Embedding, LocalEmbedder
from services.memory.settings import MemorySettings


class LiteLLMEmbedder:
    """Embeddings from a model behind litellm; its dimension is learnt from one call at start."""

    def __init__(self, model: str, *, api_base: str | None = None, api_key: str | None = None, timeout_s: float = 30.0) -> None:
        self.model = model
        self.provider = model.split("/", 1)[0] if "/" in model else "openai"
        self.api_base = api_base
        self.api_key = api_key
        self.timeout_s = timeout_s
        self._dimensions: int | None = None

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            raise RuntimeError(f"the embedding model {self.model!r} is not loaded yet")
        return self._dimensions

    def load(self) -> None:
        """One call, to learn the model's dimension and to fail at start, not on the first ticket."""
        self._dimensions = int(self.embed_sync(["warm up"]).vectors.shape[1])

    def _kwargs(self, texts: list[str]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self.model, "input": texts, "timeout": self.timeout_s}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        return kwargs

    def _embedding(self, response: Any, texts: list[str]) -> Embedding:
        rows = sorted(response.data, key=lambda d: d["index"] if isinstance(d, dict) else d.index)
        vectors = np.asarray([d["embedding"] if isinstance(d, dict) else d.embedding for d in rows], dtype=np.float32)
        if vectors.shape[0] != len(texts):
            raise RuntimeError(f"{self.model} returned {vectors.shape[0]} embeddings for {len(texts)} texts")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms == 0, 1, norms)
        total = int(getattr(response.usage, "prompt_tokens", 0) or 0) if response.usage else 0
        counted = [self.count_tokens(t) for t in texts]
        if total:  # the provider's count is the bill; spread it over the texts in proportion
            whole = sum(counted) or 1
            counted = [round(total * c / whole) for c in counted]
            counted[-1] += total - sum(counted)
        return Embedding(vectors=vectors, tokens=counted)

    def count_tokens(self, text: str) -> int:
        import litellm

        return int(litellm.token_counter(model=self.model, text=text))

    def embed_sync(self, texts: list[str]) -> Embedding:
        import litellm

        return self._embedding(litellm.embedding(**self._kwargs(texts)), texts)

    async def embed(self, texts: list[str]) -> Embedding:
        import litellm

        return self._embedding(await litellm.aembedding(**self._kwargs(texts)), texts)


def make_embedder(settings: MemorySettings) -> LocalEmbedder | LiteLLMEmbedder:
    if settings.memory_embed_model:
        return LiteLLMEmbedder(settings.memory_embed_model, api_base=settings.memory_embed_api_base, api_key=settings.memory_embed_api_key, timeout_s=settings.memory_embed_timeout_s)
    return LocalEmbedder(max_seq_length=settings.embed_max_seq_length, threads=settings.embed_threads)
