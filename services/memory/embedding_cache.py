"""Embeddings remembered by content hash, so a text memory stores again (a repeated resolution, the
requester's copy of a shared text, a redelivered batch) is not embedded again: MiniLM makes ~100
vectors a second on two cores, which would otherwise cap how fast memory stores facts.

Bounded (least recently used goes first) and keyed by the model too, so vectors of two models never
mix. Each entry remembers who it was embedded for (the event that paid for it), so the caller can
tell a redelivery of that event (whose usage record must be emitted again, with the same id, in case
the first attempt's was never published) from another event reusing the text (no model call: nothing to bill).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Embedded:
    vector: np.ndarray
    tokens: int  # what embedding it cost, when it was embedded
    cached: bool  # served from the cache: no model call, no tokens spent now
    owner: str | None = None  # whom it was embedded for


class EmbeddingCache:
    def __init__(self, embedder: Any, *, max_entries: int = 10_000) -> None:
        self.embedder = embedder
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[np.ndarray, int, str | None]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.embedder.model}\0{text}".encode()).digest()

    async def embed(self, texts: list[str], owners: dict[str, str] | None = None) -> tuple[dict[str, Embedded], float]:
        """Each distinct text's vector; and the latency per embedded text (ms, 0 when all were cached).
        ``owners`` names whom each text is embedded for, kept with a new entry."""
        out: dict[str, Embedded] = {}
        missing: list[str] = []
        for text in dict.fromkeys(texts):
            key = self._key(text)
            found = self._entries.get(key)
            if found is None:
                missing.append(text)
                continue
            self._entries.move_to_end(key)
            out[text] = Embedded(found[0], found[1], cached=True, owner=found[2])
        self.hits += len(out)
        self.misses += len(missing)
        latency_ms = 0.0
        if missing:
            started = time.perf_counter()
            embedding = await self.embedder.embed(missing)
            latency_ms = (time.perf_counter() - started) * 1000 / len(missing)
            for text, vector, tokens in zip(missing, embedding.vectors, embedding.tokens, strict=True):
                vector = np.asarray(vector, dtype=np.float32)
                owner = (owners or {}).get(text)
                out[text] = Embedded(vector, int(tokens), cached=False, owner=owner)
                self._entries[self._key(text)] = (vector, int(tokens), owner)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return out, latency_ms
