"""Learning from outcomes: a person's re-route or a resolved ticket becomes a labelled example,
and the next ticket with the same words (or nearly) goes where the people said.

The labels live in PostgreSQL (every triage instance learns from every label, whichever
partition it came through); each instance keeps an index of them and refreshes it as it works.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import numpy as np
from scipy.sparse import spmatrix, vstack

from services.triage.classifier import CategoryModel, normalise

#: A ticket this similar to a learned one (cosine, TF-IDF) gets the learned label.
NEAR = 0.9


@dataclass(frozen=True)
class Label:
    category: str
    skill: str | None
    source: str
    similarity: float


async def learn(conn: asyncpg.Connection, *, event_id: str, ticket_id: str, text: str, category: str, skill: str | None, source: str) -> bool:
    """Store a labelled example once per event; return whether it was new."""
    status = await conn.execute(
        "INSERT INTO learned_examples (event_id, ticket_id, text, category, skill, source) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
        event_id,
        ticket_id,
        normalise(text),
        category,
        skill,
        source,
    )
    return status.endswith("1")


class Examples:
    def __init__(self, model: CategoryModel, *, refresh_every_s: float = 1.0) -> None:
        self.model = model  # learned examples are compared in the category model's feature space
        self.refresh_every_s = refresh_every_s
        self._labels: list[tuple[str, str | None, str]] = []
        self._exact: dict[str, int] = {}
        self._matrix: spmatrix | None = None
        self._last_id = 0
        self._refreshed = 0.0

    def __len__(self) -> int:
        return len(self._exact)

    async def refresh(self, conn: asyncpg.Connection, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._refreshed < self.refresh_every_s:
            return
        rows = await conn.fetch("SELECT id, text, category, skill, source FROM learned_examples WHERE id > $1 ORDER BY id", self._last_id)
        self._refreshed = time.monotonic()
        if not rows:
            return
        self.add([r["text"] for r in rows], [r["category"] for r in rows], [r["skill"] for r in rows], [r["source"] for r in rows])
        self._last_id = rows[-1]["id"]

    def add(self, texts: Sequence[str], categories: Sequence[str], skills: Sequence[str | None], sources: Sequence[str]) -> None:
        """Index labelled examples in memory, oldest first (a later label of the same words wins).
        ``refresh`` adds what PostgreSQL holds this way; a simulation adds its labels directly."""
        if not texts:
            return
        normalised = [normalise(t) for t in texts]
        vectors = self.model.vectorise(normalised)
        for text, category, skill, source in zip(normalised, categories, skills, sources, strict=True):
            self._exact[text] = len(self._labels)
            self._labels.append((category, skill, source))
        self._matrix = vectors if self._matrix is None else vstack([self._matrix, vectors]).tocsr()

    def lookup_batch(self, texts: list[str], rows: spmatrix) -> list[Label | None]:
        """For each text, the label people gave its words, or very nearly these words."""
        if not self._exact:
            return [None] * len(texts)
        similarity = (rows @ self._matrix.T).toarray() / self.model.feature_parts
        return [self._label(text, similarity[i]) for i, text in enumerate(texts)]

    def _label(self, text: str, similarity: np.ndarray) -> Label | None:
        exact = self._exact.get(normalise(text))
        if exact is not None:
            category, skill, source = self._labels[exact]
            return Label(category, skill, source, 1.0)
        best = int(similarity.argmax())
        if similarity[best] < NEAR:
            return None
        # The newest label among equally near texts wins: people's latest word.
        newest = int(np.nonzero(similarity >= similarity[best] - 1e-9)[0].max())
        category, skill, source = self._labels[newest]
        return Label(category, skill, source, float(similarity[best]))
