"""Route a ticket by embedding similarity to each skill's description and examples. Pure; no I/O.

A skill's score is its best cosine similarity over its description and examples: one close example
is strong evidence, and averaging would let a long list of examples dilute it. The best skill's
score is the decision's confidence; below the threshold the honest answer is "a human should look".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contracts.catalog import Catalog, SkillSpec
from contracts.events import Candidate


@dataclass(frozen=True)
class Route:
    skill: SkillSpec
    confidence: float
    candidates: list[Candidate]

    def confident(self, threshold: float) -> bool:
        return self.confidence >= threshold


class SkillIndex:
    """The catalog's texts as unit vectors, and which skill each text belongs to."""

    def __init__(self, catalog: Catalog, vectors: np.ndarray) -> None:
        texts = index_texts(catalog)
        if vectors.shape[0] != len(texts):
            raise ValueError(f"{vectors.shape[0]} vectors for {len(texts)} catalog texts")
        self.skills = list(catalog.skills)
        self.vectors = vectors.astype(np.float32)
        self.owner = np.array([i for i, skill in enumerate(self.skills) for _ in texts_of(skill)])

    def route(self, tickets: np.ndarray, *, top: int = 3) -> list[Route]:
        """The best skill and runners-up for each ticket vector (rows of ``tickets``, unit length)."""
        similarity = tickets.astype(np.float32) @ self.vectors.T  # (tickets, texts)
        scores = np.full((tickets.shape[0], len(self.skills)), -1.0, dtype=np.float32)
        for skill in range(len(self.skills)):
            scores[:, skill] = similarity[:, self.owner == skill].max(axis=1)
        scores = np.clip(scores, 0.0, 1.0)
        routes = []
        for row in scores:
            order = np.argsort(-row)[:top]
            candidates = [
                Candidate(skill=self.skills[i].name, score=round(float(row[i]), 4))
                for i in order
            ]
            routes.append(Route(skill=self.skills[order[0]], confidence=candidates[0].score, candidates=candidates))
        return routes


def texts_of(skill: SkillSpec) -> list[str]:
    return [skill.description, *skill.examples]


def index_texts(catalog: Catalog) -> list[str]:
    return [text for skill in catalog.skills for text in texts_of(skill)]
