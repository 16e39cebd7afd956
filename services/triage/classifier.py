"""The organisation's ticket categories, learned from its labelled history. Pure (no I/O but the model file).

Text is read the way the history was written (lower case, letters only), turned into word and
character n-gram TF-IDF features, and classified by a linear SVM whose scores are calibrated into
probabilities on tickets it did not fit on, so that "0.9" means right nine times in ten; the decision threshold that keeps the
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
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

_NOT_LETTERS = re.compile(r"[^a-z]+")
_NOT_ASCII_LETTER = re.compile(r"[^A-Za-z]+")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z]{3,}")

#: The shape of the features and the model. Chosen on the training split only (bench/results/triage-model-research.md).
PARAMS: dict[str, Any] = {
    "word": {"ngram_range": (1, 2), "min_df": 2, "sublinear_tf": True, "max_features": 60_000},
    "char": {"ngram_range": (2, 5), "min_df": 3, "sublinear_tf": True, "max_features": 100_000, "analyzer": "char_wb"},
    "C": 0.3,
    "calibration": "sigmoid",
    "calibration_share": 0.15,  # held out of the linear fit to calibrate its scores into probabilities
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
    trained: dict[str, Any] = field(default_factory=dict)  # what and when, for the record
    metrics: dict[str, Any] = field(default_factory=dict)  # how it measured on held-out data

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return self.read(texts)[0]

    def read(self, texts: Sequence[str]) -> tuple[list[Prediction], Any]:
        """The predictions, and the features they were made from (one row per text)."""
        features = self.pipeline.named_steps["features"].transform([normalise(t) for t in texts])
        probabilities = self.pipeline.named_steps["classifier"].predict_proba(features)
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


def fit(texts: Sequence[str], labels: Sequence[str], *, params: dict[str, Any] = PARAMS, source: str = "", data_sha256: str = "", seed: int = 42) -> CategoryModel:
    """Train on (text, category) pairs: features on all of them, a linear SVM on most, its scores
    calibrated into probabilities on the rest. The threshold is set by ``choose_threshold`` after."""
    started = time.perf_counter()
    normalised = [normalise(t) for t in texts]
    features = FeatureUnion([("word", TfidfVectorizer(**params["word"])), ("char", TfidfVectorizer(**params["char"]))])
    matrix = features.fit_transform(normalised)
    fit_rows, calibrate_rows = train_test_split(np.arange(len(labels)), test_size=params["calibration_share"], stratify=labels, random_state=seed)
    labels_array = np.asarray(labels)
    linear = LinearSVC(C=params["C"]).fit(matrix[fit_rows], labels_array[fit_rows])
    linear.coef_ = linear.coef_.astype(np.float32)  # half the file, the same decisions to many decimals
    calibrated = CalibratedClassifierCV(FrozenEstimator(linear), method=params["calibration"]).fit(matrix[calibrate_rows], labels_array[calibrate_rows])
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


def choose_threshold(confidences: np.ndarray, correct: np.ndarray, *, precision: float) -> float:
    """The lowest confidence at which the tickets at or above it are right at least ``precision`` of
    the time (on data the model did not train on): route those, escalate the rest."""
    order = np.argsort(-confidences)
    running = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(running >= precision)[0]
    if len(ok) == 0:
        return 1.0
    return float(confidences[order][ok[-1]])
