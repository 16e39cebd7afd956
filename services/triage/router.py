"""Which skill a ticket asks for, read the way employees write, and whether it is a ticket at all. Pure.

Two small linear models over the same features, fitted at start-up from the skill catalog (in
seconds; the catalog can change without retraining anything):

- **skills**: one class per skill (its description, examples, and whole tickets written for it)
  plus *no skill* (workplace requests no skill serves);
- **ticket or not**: all of those tickets against text that is not a workplace request at all
  (``data/not_tickets.txt``).

Features: the static MiniLM embedding of the request's words (meaning: "can't get in" ~ "locked
out") beside word and character n-grams (names of apps, misspellings, other languages). Both
models' thresholds are chosen on out-of-fold predictions of their own training data, never on the
evaluation sets (ADR 0019).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC

from contracts.catalog import Catalog
from services.triage.classifier import choose_threshold
from services.triage.cleaning import request_text
from services.triage.embedding import StaticEmbedder

DATA = Path(__file__).parent / "data"
NO_SKILL = "(no skill)"

#: Routed tickets must be right this often on out-of-fold training predictions.
SKILL_PRECISION = 0.985
#: The share of real tickets the not-a-ticket gate may hold back (out of fold): the one point of
#: routed tickets the gate is allowed to cost.
TICKETS_HELD_BACK = 0.01
#: How much the meaning (embedding) weighs beside the n-grams (each block is unit length).
EMBEDDING_WEIGHT = 1.5


def read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_jsonl(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass(frozen=True)
class Route:
    """What the router read in one text."""

    skill: str | None  # the most likely skill; None when "no skill" is likelier than any skill
    confidence: float  # the probability of ``skill`` (or of "no skill")
    not_ticket: float  # the probability that the text is not a workplace request at all
    ranked: list[tuple[str, float]]  # every skill with its probability, most likely first
    confident: bool  # ``confidence`` reaches the threshold that keeps routes right
    rejected: bool = False  # the not-a-ticket gate holds it back


@dataclass
class _Features:
    embedder: StaticEmbedder
    words: TfidfVectorizer = field(default_factory=lambda: TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, strip_accents="unicode", lowercase=True))
    chars: TfidfVectorizer = field(default_factory=lambda: TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2, strip_accents="unicode", lowercase=True, max_features=60_000))

    def fit(self, texts: Sequence[str]) -> csr_matrix:
        cleaned = [request_text(t) for t in texts]
        self.words.fit(cleaned)
        self.chars.fit(cleaned)
        return self._stack(cleaned)

    def transform(self, texts: Sequence[str]) -> csr_matrix:
        return self._stack([request_text(t) for t in texts])

    def _stack(self, cleaned: list[str]) -> csr_matrix:
        meaning = csr_matrix(self.embedder.encode(cleaned) * EMBEDDING_WEIGHT)
        return hstack([meaning, self.words.transform(cleaned), self.chars.transform(cleaned)], format="csr")


@dataclass(frozen=True)
class Training:
    """What the router learns from, by where it came from (for the record and the tests)."""

    skill_texts: list[str]
    skill_labels: list[str]
    tickets: list[str]  # real requests in any style (positives of the gate)
    not_tickets: list[str]


def training_data(catalog: Catalog, *, not_tickets: Sequence[str] | None = None, no_skill: Sequence[str] | None = None, tickets: Sequence[tuple[str, str]] | None = None) -> Training:
    """The catalog's skills (description + examples), whole tickets written for them (``(text,
    skill)``: long, chatty, signed and forwarded, as employees write), requests no skill serves, and
    non-tickets. (The organisation's keyword-style history is the category model's to learn: in the
    *no skill* class it pulled its own tickets away from skills, 27% routed to 9%.)"""
    texts, labels = [], []
    for skill in catalog.skills:
        for text in (skill.description, *skill.examples):
            texts.append(text)
            labels.append(skill.name)
    written = tickets if tickets is not None else [(row["text"], row["skill"]) for row in read_jsonl(DATA / "skill_tickets.jsonl")]
    for text, skill in written:
        if catalog.get(skill) is not None:  # a skill this deployment's catalog does not have teaches nothing
            texts.append(text)
            labels.append(skill)
    unserved = list(no_skill if no_skill is not None else read_lines(DATA / "no_skill_tickets.txt"))
    texts += unserved
    labels += [NO_SKILL] * len(unserved)
    background = list(not_tickets if not_tickets is not None else read_lines(DATA / "not_tickets.txt"))
    return Training(texts, labels, list(texts), background)


class Tempered:
    """A linear SVM whose scores become probabilities through a softmax with one temperature,
    fitted on out-of-fold scores; those out-of-fold probabilities are kept to choose thresholds.
    (A multinomial logistic regression reads the same but takes ~20 times longer to fit.)"""

    def __init__(self, x: csr_matrix, y: np.ndarray, *, cv: StratifiedKFold, C: float = 0.5) -> None:  # noqa: N803
        svm = LinearSVC(C=C, class_weight="balanced")
        oof = _scores(cross_val_predict(svm, x, y, cv=cv, method="decision_function"))
        self.svm = svm.fit(x, y)
        self.classes = [str(c) for c in self.svm.classes_]
        truth = np.searchsorted(self.svm.classes_, y)
        losses = {t: -np.mean(np.log(np.clip(_softmax(oof / t)[np.arange(len(y)), truth], 1e-12, 1.0))) for t in np.geomspace(0.02, 2.0, 60)}
        self.temperature = float(min(losses, key=losses.get))  # type: ignore[arg-type]
        self.out_of_fold = _softmax(oof / self.temperature)

    def probabilities(self, x: csr_matrix) -> np.ndarray:
        return _softmax(_scores(self.svm.decision_function(x)) / self.temperature)


def _scores(raw: np.ndarray) -> np.ndarray:
    """Two classes give one score column; make it two (not-first, first) like more classes do."""
    return np.column_stack([-raw, raw]) if raw.ndim == 1 else raw


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class SkillRouter:
    def __init__(self, embedder: StaticEmbedder, data: Training, *, seed: int = 0, folds: int = 5) -> None:
        self.features = _Features(embedder)
        matrix = self.features.fit(data.skill_texts + data.tickets + data.not_tickets)
        n_skill, n_tickets = len(data.skill_texts), len(data.tickets)
        labels = np.array(data.skill_labels)
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        self.skills = Tempered(matrix[:n_skill], labels, cv=cv)
        gate_y = np.array([0] * n_tickets + [1] * len(data.not_tickets))
        self.gate = Tempered(matrix[n_skill:], gate_y, cv=cv)
        self.classes = self.skills.classes
        # Thresholds from out-of-fold predictions: how sure the models are on text they did not see.
        self.skill_threshold = _route_threshold(self.skills.out_of_fold, labels, self.classes, SKILL_PRECISION)
        self.gate_threshold = float(np.quantile(self.gate.out_of_fold[:n_tickets, 1], 1.0 - TICKETS_HELD_BACK))
        self.trained = {"skill_texts": n_skill, "tickets": n_tickets, "not_tickets": len(data.not_tickets), "skill_threshold": round(self.skill_threshold, 4), "gate_threshold": round(self.gate_threshold, 4)}

    def read(self, texts: Sequence[str]) -> list[Route]:
        if not texts:
            return []
        matrix = self.features.transform(texts)
        probabilities = self.skills.probabilities(matrix)
        not_ticket = self.gate.probabilities(matrix)[:, 1]
        return [self._route(row, float(p)) for row, p in zip(probabilities, not_ticket, strict=True)]

    def _route(self, row: np.ndarray, not_ticket: float) -> Route:
        order = np.argsort(-row)
        best = self.classes[order[0]]
        ranked = [(self.classes[i], float(row[i])) for i in order if self.classes[i] != NO_SKILL]
        confidence = float(row[order[0]])
        skill = None if best == NO_SKILL else best
        return Route(skill=skill, confidence=confidence, not_ticket=not_ticket, ranked=ranked, confident=skill is not None and confidence >= self.skill_threshold, rejected=not_ticket >= self.gate_threshold)


def _route_threshold(probabilities: np.ndarray, labels: np.ndarray, classes: list[str], precision: float) -> float:
    """The lowest confidence at which out-of-fold routes to a skill are right ``precision`` of the
    time; a "no skill" text routed anywhere counts as wrong."""
    predicted = np.array([classes[i] for i in probabilities.argmax(axis=1)])
    routed = predicted != NO_SKILL
    return choose_threshold(probabilities.max(axis=1)[routed], predicted[routed] == labels[routed], precision=precision)
