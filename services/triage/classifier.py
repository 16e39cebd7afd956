"""The organisation's ticket categories, learned from its labelled history. Pure (no I/O but the model file).

Text is read the way the history was written (lower case, letters only), turned into word 1-2-gram
TF-IDF features, and classified by a linear SVM whose scores are calibrated into probabilities on
tickets it did not fit on (and tempered), so that "0.9" means right nine times in ten; the decision threshold that keeps the
routed tickets at the target precision is learned with it. The model file carries its version,
what it was trained on and how it measured, and every decision names that version.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

_NOT_LETTERS = re.compile(r"[^a-z]+")
_NOT_ASCII_LETTER = re.compile(r"[^A-Za-z]+")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z]{3,}")

#: The shape of the features and the model. Chosen on the training split only (bench/results/triage-model-research.md).
PARAMS: dict[str, Any] = {
    # Word 1-2-grams alone: character n-grams added 0.001 of accuracy for a sixth of the speed.
    "word": {"ngram_range": (1, 2), "min_df": 2, "sublinear_tf": True, "max_features": 150_000},
    "C": 0.5,
    "calibration": "sigmoid",
    "calibration_folds": 5,
}


def normalise(text: str) -> str:
    """Lower case, letters only, single spaces: how the organisation's ticket history is written."""
    return _NOT_LETTERS.sub(" ", text.lower()).strip()


def readable(text: str) -> bool:
    """Whether a text has words the model can read: a word of three letters or more, and letters
    making up at least 30% of what is not white space (not binary junk, not another alphabet)."""
    visible = len(_SPACE.sub("", text))
    letters = len(_NOT_ASCII_LETTER.sub("", text))
    return visible > 0 and letters / visible >= 0.3 and _WORD.search(normalise(text)) is not None


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


def fit(texts: Sequence[str], labels: Sequence[str], *, params: dict[str, Any] = PARAMS, source: str = "", data_sha256: str = "") -> CategoryModel:
    """Train on (text, category) pairs. The temperature and threshold are set afterwards, on
    tickets the model did not fit on (``train``)."""
    started = time.perf_counter()
    normalised = [normalise(t) for t in texts]
    features = FeatureUnion([("word", TfidfVectorizer(**params["word"]))])
    matrix = features.fit_transform(normalised)
    # Calibrated on out-of-fold scores (5 folds), then one SVM fitted on all rows: the accuracy of
    # a 5-model ensemble's data, the file size of one model.
    calibrated = CalibratedClassifierCV(LinearSVC(C=params["C"]), method=params["calibration"], cv=params["calibration_folds"], ensemble=False).fit(matrix, list(labels))
    for fitted in calibrated.calibrated_classifiers_:
        fitted.estimator.coef_ = fitted.estimator.coef_.astype(np.float32)  # half the file, the same decisions
    pipeline = Pipeline([("features", features), ("classifier", calibrated)])
    categories = [str(c) for c in calibrated.classes_]
    digest = hashlib.sha256(f"{data_sha256}|{sorted(params.items())!r}|{sklearn.__version__}".encode()).hexdigest()[:10]
    version = f"{time.strftime('%Y%m%d', time.gmtime())}-{digest}"
    trained = {
        "rows": len(texts),
        "source": source,
        "data_sha256": data_sha256,
        "params": repr(params),
        "sklearn": sklearn.__version__,
        "seconds": round(time.perf_counter() - started, 1),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return CategoryModel(pipeline, categories, version, threshold=0.0, trained=trained)


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
