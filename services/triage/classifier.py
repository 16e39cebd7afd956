"""The organisation's ticket categories, learned from its labelled history. Pure (no I/O but the model file).

Text is read in any script (NFKC, case-folded, letters and digits, single spaces), turned into word
1-2-gram TF-IDF features, and classified by a linear SVM whose scores are calibrated into
probabilities on tickets it did not fit on (and tempered), so that "0.9" means right nine times in
ten; the decision threshold that keeps the routed tickets at the target precision is learned with
it. Labels the history holds too few tickets of (or the catalog does not declare) stay classes, so
their tickets are recognised, but are escalate-only: they go to their queue's people, never to a
coworker. The model file carries its version, what it was trained on and how it measured, and
every decision names that version.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import sys
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

_SPACE = re.compile(r"\s+")
_ASCII_CONTROLS = bytes([*range(32), 127])
_ASCII_NOT_LETTERS = bytes(c for c in range(128) if not chr(c).isalpha())
_NOT_ASCII_WORD = re.compile(r"[^a-z0-9]+")  # the same as the full pattern on ASCII text, five times faster


@functools.cache
def _marks() -> str:
    """Every combining mark as a regex class body: part of a word in Devanagari, Thai, Arabic...,
    though ``\\w`` does not match it. Built once, on first use (a quarter of a second)."""
    ranges: list[tuple[int, int]] = []
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp))[0] == "M":
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Not a word character (so a separator); a letter of any script; a word of two letters or more."""
    marks = _marks()
    letter = rf"(?:[^\W\d_]|[{marks}])"
    return re.compile(rf"(?:[^\w{marks}]|_)+"), re.compile(letter), re.compile(rf"{letter}{{2,}}")


#: The shape of the features and the model. Chosen on the training split only (bench/results/triage-model-research.md).
PARAMS: dict[str, Any] = {
    # Word 1-2-grams alone: character n-grams added 0.001 of accuracy for a sixth of the speed.
    # Tokens are what ``normalise`` leaves between spaces (2+ characters), so a word keeps its marks.
    "word": {"ngram_range": (1, 2), "min_df": 2, "sublinear_tf": True, "max_features": 150_000, "token_pattern": r"[^ ]{2,}"},
    "C": 0.5,
    "calibration": "sigmoid",
    "calibration_folds": 5,  # at most: fewer when the smallest label with 2+ tickets has fewer
}


def normalise(text: str) -> str:
    """Letters of any script and digits, case-folded, single spaces: what the features are made of.
    NFKC first, so full-width, ligature and composed forms read as the plain word."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    separator = _NOT_ASCII_WORD if folded.isascii() else _patterns()[0]
    return separator.sub(" ", folded).strip()


def readable(text: str) -> bool:
    """Whether a text has words the model can read: a word of two letters or more (any script), and
    letters making up at least 30% of what is not white space, of which control characters (NUL,
    escape codes) are under 10% — not binary junk, not a dump of numbers and symbols."""
    _, letter, word = _patterns()
    visible = _SPACE.sub("", text)
    if not visible:
        return False
    if visible.isascii():  # most tickets: the same counts, by C-speed deletes instead of a loop per character
        raw = visible.encode()
        controls = len(raw) - len(raw.translate(None, _ASCII_CONTROLS))
        letters = len(raw.translate(None, _ASCII_NOT_LETTERS))
    else:
        controls = sum(1 for ch in visible if unicodedata.category(ch) == "Cc")
        letters = len(letter.findall(visible))
    return controls / len(visible) < 0.1 and letters / len(visible) >= 0.3 and word.search(normalise(text)) is not None


@dataclass(frozen=True)
class Prediction:
    category: str
    confidence: float
    ranked: list[tuple[str, float]]  # every category with its probability, most likely first


@dataclass
class CategoryModel:
    pipeline: Pipeline
    categories: list[str]
    version: str
    threshold: float  # the confidence below which a ticket goes to a person
    temperature: float = 1.0  # sharpens the sigmoid's (under-confident) probabilities; fitted on held-out tickets
    trained: dict[str, Any] = field(default_factory=dict)  # what and when, for the record
    metrics: dict[str, Any] = field(default_factory=dict)  # how it measured on held-out data
    escalate_only: dict[str, str] = field(default_factory=dict)  # label -> why no ticket of it goes to a coworker
    queues: dict[str, str] = field(default_factory=dict)  # label -> the human queue that takes it

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Model files written before a field existed load with that field's default."""
        self.__dict__.update({"escalate_only": {}, "queues": {}, **state})

    def escalation(self, category: str) -> str | None:
        """Why a ticket predicted as ``category`` goes to people whatever its confidence, or None."""
        return self.escalate_only.get(category)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return self.read(texts)[0]

    def read(self, texts: Sequence[str]) -> tuple[list[Prediction], Any]:
        """The predictions, and the features they were made from (one row per text)."""
        features = self.pipeline.named_steps["features"].transform([normalise(t) for t in texts])
        probabilities = temper(self.pipeline.named_steps["classifier"].predict_proba(features), self.temperature)
        out = []
        for row in probabilities:
            order = np.argsort(-row)
            ranked = [(self.categories[i], float(row[i])) for i in order]
            out.append(Prediction(ranked[0][0], ranked[0][1], ranked))
        return out, features

    def vectorise(self, texts: Iterable[str]) -> Any:
        """The features of ``texts`` (rows as ``read`` makes them), without classifying them."""
        return self.pipeline.named_steps["features"].transform([normalise(t) for t in texts])

    @property
    def feature_parts(self) -> int:
        """How many L2-normalised blocks a feature row holds (a row's self-similarity)."""
        return len(self.pipeline.named_steps["features"].transformer_list)

    @staticmethod
    def knows_nothing(features: Any) -> np.ndarray:
        """Per row of ``read``'s features: no word of the text is one the model learned (another
        language, say), so its prediction is only the labels' prior — a person should read it."""
        return np.asarray(features.getnnz(axis=1) == 0)

    def save(self, folder: Path) -> Path:
        """Write ``triage-<version>.joblib`` into ``folder`` and point ``current`` at it."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"triage-{self.version}.joblib"
        buffer = io.BytesIO()
        joblib.dump({"format": 1, "model": self}, buffer, compress=3)
        path.write_bytes(buffer.getvalue())
        current = folder / "current"
        current.write_text(path.name + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> CategoryModel:
        """A model file, or a folder whose ``current`` names one."""
        if path.is_dir():
            pointer = path / "current"
            if not pointer.exists():
                raise FileNotFoundError(f"{path} holds no trained triage model (no 'current'); train one with `workforce triage train --data FILE`")
            path = path / pointer.read_text().strip()
        stored = joblib.load(path)
        if not isinstance(stored, dict) or stored.get("format") != 1:
            raise ValueError(f"{path} is not a triage model file of format 1")
        return stored["model"]


def fit(texts: Sequence[str], labels: Sequence[str], *, params: dict[str, Any] = PARAMS, source: str = "", data_sha256: str = "", seed: int = 0) -> CategoryModel:
    """Train on (text, category) pairs; a label may have a single example. The temperature and
    threshold are set afterwards, on tickets the model did not fit on (``train``)."""
    started = time.perf_counter()
    if len(set(labels)) < 2:
        raise ValueError(f"a classifier needs at least two labels; the data has only {sorted(set(labels))}")
    normalised = [normalise(t) for t in texts]
    features = FeatureUnion([("word", TfidfVectorizer(**params["word"]))])
    matrix = features.fit_transform(normalised)
    calibrated = CalibratedSVM(C=params["C"], folds=params["calibration_folds"], seed=seed).fit(matrix, np.asarray(labels))
    pipeline = Pipeline([("features", features), ("classifier", calibrated)])
    categories = [str(c) for c in calibrated.classes_]
    digest = hashlib.sha256(f"{data_sha256}|{sorted(params.items())!r}|{sklearn.__version__}".encode()).hexdigest()[:10]
    version = f"{time.strftime('%Y%m%d', time.gmtime())}-{digest}"
    trained = {
        "rows": len(texts),
        "source": source,
        "data_sha256": data_sha256,
        "params": repr(params),
        "calibration_folds": calibrated.folds_,
        "sklearn": sklearn.__version__,
        "seconds": round(time.perf_counter() - started, 1),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return CategoryModel(pipeline, categories, version, threshold=0.0, trained=trained)


#: A label's own sigmoid needs this many out-of-fold examples; below it, the curve fitted on all labels' scores.
MIN_OWN_CALIBRATION = 5


class CalibratedSVM:
    """A linear SVM whose per-label scores become probabilities through sigmoids (Platt) fitted on
    out-of-fold scores, then one SVM fitted on all rows (one set of float32 weights in the file).

    Unlike ``CalibratedClassifierCV`` it takes labels with a single example: the folds are
    stratified over labels with two or more (as many folds as the smallest of them has, at most
    ``folds``), singletons sit in every fold's training part, and a label with too few out-of-fold
    examples of its own is calibrated by the sigmoid fitted on every label's scores pooled."""

    def __init__(self, C: float, folds: int = 5, seed: int = 0) -> None:  # noqa: N803 (sklearn's name)
        self.C, self.folds, self.seed = C, folds, seed

    def fit(self, X: Any, y: np.ndarray) -> CalibratedSVM:  # noqa: N803
        self.classes_, index, counts = np.unique(y, return_inverse=True, return_counts=True)
        scores, held = self._out_of_fold(X, index, counts)
        self.svm_ = LinearSVC(C=self.C).fit(X, index)
        self.svm_.coef_ = self.svm_.coef_.astype(np.float32)  # half the file, the same decisions
        self.slopes_, self.intercepts_ = self._calibrate(scores, index[held])
        return self

    def _out_of_fold(self, X: Any, index: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores of every row of a label with 2+ examples from an SVM that did not fit on it."""
        several = counts >= 2
        self.folds_ = int(min(self.folds, counts[several].min())) if several.sum() >= 2 else 0
        held = several[index]
        scores = np.zeros((int(held.sum()), len(counts)))
        if self.folds_ < 2:
            return scores[:0], np.zeros_like(held)
        rows, always = np.nonzero(held)[0], np.nonzero(~held)[0]
        position = {row: n for n, row in enumerate(rows)}
        for fit_part, check in StratifiedKFold(self.folds_, shuffle=True, random_state=self.seed).split(rows, index[rows]):
            svm = LinearSVC(C=self.C).fit(X[np.concatenate([rows[fit_part], always])], index[np.concatenate([rows[fit_part], always])])
            scores[[position[r] for r in rows[check]]] = two_columns(svm.decision_function(X[rows[check]]))
        return scores, held

    def _calibrate(self, scores: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.classes_)
        positive = truth[:, None] == np.arange(n)[None, :]
        pooled = fit_sigmoid(scores.ravel(), positive.ravel()) if len(truth) else (1.0, 0.0)
        own = [fit_sigmoid(scores[:, c], positive[:, c]) if positive[:, c].sum() >= MIN_OWN_CALIBRATION else pooled for c in range(n)]
        return np.array([a for a, _ in own]), np.array([b for _, b in own])

    def decision_function(self, X: Any) -> np.ndarray:  # noqa: N803
        return two_columns(self.svm_.decision_function(X))

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        p = np.clip(expit(self.decision_function(X) * self.slopes_ + self.intercepts_), 1e-12, 1.0)
        return p / p.sum(axis=1, keepdims=True)


def two_columns(scores: np.ndarray) -> np.ndarray:
    """A binary SVM's one score column as a score per label, like the multi-label case."""
    return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores


def fit_sigmoid(scores: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """Platt's sigmoid P(label | score) = 1 / (1 + exp(-(a·score + b))), fitted by log-loss on
    smoothed targets (so one or no positive example still gives a finite, sane curve)."""
    n_pos = float(positive.sum())
    n_neg = float(len(positive) - n_pos)
    target = np.where(positive, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        z = p[0] * scores + p[1]
        gap = expit(z) - target
        return float(np.sum(np.logaddexp(0.0, z) - target * z)), np.array([np.dot(gap, scores), gap.sum()])

    result = minimize(loss, np.array([1.0, np.log((n_pos + 1) / (n_neg + 1))]), jac=True, method="L-BFGS-B")
    a, b = (float(v) for v in result.x)
    return (a, b) if np.isfinite(a) and np.isfinite(b) else (1.0, 0.0)


def temper(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities raised to 1/T and renormalised: the ranking stays, the confidence is corrected."""
    if temperature == 1.0:
        return probabilities
    tempered = np.power(np.clip(probabilities, 1e-12, 1.0), 1.0 / temperature)
    return tempered / tempered.sum(axis=1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, truth: np.ndarray) -> float:
    """The T that minimises log-loss of the true categories on tickets the model did not fit on."""
    candidates = np.linspace(0.4, 2.0, 81)
    losses = [-np.mean(np.log(np.clip(temper(probabilities, t)[np.arange(len(truth)), truth], 1e-12, 1.0))) for t in candidates]
    return float(candidates[int(np.argmin(losses))])


def expected_calibration_error(confidences: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """How far stated confidence is from observed accuracy, averaged over 10 confidence bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidences > low) & (confidences <= high)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidences[inside].mean())
    return float(total)


def choose_threshold(confidences: np.ndarray, correct: np.ndarray, *, precision: float) -> float:
    """The lowest confidence at which the tickets at or above it are right at least ``precision`` of
    the time (on data the model did not train on): route those, escalate the rest."""
    order = np.argsort(-confidences)
    running = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(running >= precision)[0]
    if len(ok) == 0:
        return 1.0
    return float(confidences[order][ok[-1]])
