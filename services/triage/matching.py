"""Which skill within a category fits a ticket: TF-IDF cosine to the skill's description and
examples, in the classifier's own feature space (the ticket is vectorised once). Pure."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.sparse import spmatrix

from contracts.catalog import Catalog
from services.triage.classifier import CategoryModel, normalise

#: Below this similarity no skill of ours does what the ticket asks.
MIN_SKILL_SCORE = 0.12


class SkillMatcher:
    def __init__(self, model: CategoryModel, catalog: Catalog) -> None:
        self.features = model.pipeline.named_steps["features"]
        texts, owners = [], []
        for skill in catalog.skills:
            for text in (skill.description, *skill.examples):
                texts.append(normalise(text))
                owners.append(skill.name)
        self.vectors = self.features.transform(texts)
        self.owners = np.array(owners)
        self.parts = len(self.features.transformer_list)  # each part is L2-normalised on its own

    def vectorise(self, texts: Iterable[str]) -> spmatrix:
        return self.features.transform([normalise(t) for t in texts])

    def scores(self, row: spmatrix, skills: Iterable[str]) -> list[tuple[str, float]]:
        """Each of ``skills`` with its best similarity to the ticket's features ``row``, best first."""
        wanted = set(skills)
        if not wanted:
            return []
        similarity = (self.vectors @ row.T).toarray().ravel() / self.parts
        best: dict[str, float] = {}
        for owner, value in zip(self.owners.tolist(), similarity.tolist(), strict=True):
            if owner in wanted and value > best.get(owner, -1.0):
                best[owner] = float(value)
        return sorted(best.items(), key=lambda kv: -kv[1])
