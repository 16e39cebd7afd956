"""Which skill within a category fits a ticket: TF-IDF cosine to the skill's description and
examples, in the classifier's own feature space. Pure.

A batch of tickets is compared with every skill text in one sparse product; each skill's score
is its best text's (one close example is strong evidence; averaging would dilute it)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy.sparse import spmatrix

from contracts.catalog import Catalog
from services.triage.classifier import CategoryModel, normalise

#: Below this similarity no skill of ours does what the ticket asks.
MIN_SKILL_SCORE = 0.12


class SkillMatcher:
    def __init__(self, model: CategoryModel, catalog: Catalog) -> None:
        self.features = model.pipeline.named_steps["features"]
        self.parts = len(self.features.transformer_list)  # each part is L2-normalised on its own
        texts, starts, self.skills = [], [], []
        for skill in catalog.skills:
            starts.append(len(texts))
            self.skills.append(skill.name)
            texts += [normalise(t) for t in (skill.description, *skill.examples)]
        self.vectors = self.features.transform(texts)
        self.starts = np.array(starts)
        self.index = {name: i for i, name in enumerate(self.skills)}

    def vectorise(self, texts: Iterable[str]) -> spmatrix:
        return self.features.transform([normalise(t) for t in texts])

    def similarity(self, rows: spmatrix) -> np.ndarray:
        """Each ticket's (row's) best similarity to each skill: one product for the whole batch."""
        per_text = (rows @ self.vectors.T).toarray() / self.parts
        return np.maximum.reduceat(per_text, self.starts, axis=1)

    def scores(self, per_skill: np.ndarray, skills: Sequence[str]) -> list[tuple[str, float]]:
        """``skills`` with the ticket's similarity to each (a row of ``similarity``), best first."""
        found = [(name, float(per_skill[self.index[name]])) for name in skills if name in self.index]
        return sorted(found, key=lambda kv: -kv[1])
