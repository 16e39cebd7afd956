"""Train the category model from a CSV of labelled history (columns ``text``, ``category``)."""

from __future__ import annotations

import csv
import gzip
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from contracts.catalog import Catalog
from services.triage.classifier import CategoryModel, choose_threshold, expected_calibration_error, fit, fit_temperature

#: Routed tickets must be right this often; the rest go to people.
TARGET_PRECISION = 0.96


@dataclass(frozen=True)
class Labelled:
    texts: list[str]
    labels: list[str]
    sha256: str


def read_csv(path: Path) -> Labelled:
    """Rows of ``text`` and ``category`` from a CSV file (``.gz`` is read as gzip)."""
    raw = path.read_bytes()
    data = gzip.decompress(raw) if path.suffix == ".gz" else raw
    reader = csv.DictReader(data.decode("utf-8").splitlines())
    missing = {"text", "category"} - set(reader.fieldnames or [])
    if missing:
        raise ValueError(f"{path}: needs columns text and category; missing {', '.join(sorted(missing))} (found {', '.join(reader.fieldnames or [])})")
    texts, labels = [], []
    for row in reader:
        if row["text"].strip() and row["category"].strip():
            texts.append(row["text"])
            labels.append(row["category"].strip())
    if not texts:
        raise ValueError(f"{path}: no labelled rows")
    return Labelled(texts, labels, hashlib.sha256(data).hexdigest())


def split(data: Labelled, holdout: float, seed: int) -> tuple[Labelled, Labelled]:
    """A stratified split: what to train on, and what to evaluate on (never trained on)."""
    train_x, test_x, train_y, test_y = train_test_split(data.texts, data.labels, test_size=holdout, stratify=data.labels, random_state=seed)
    return Labelled(train_x, train_y, data.sha256), Labelled(test_x, test_y, data.sha256)


def write_csv(data: Labelled, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="") as f:  # type: ignore[operator]
        writer = csv.writer(f)
        writer.writerow(["text", "category"])
        writer.writerows(zip(data.texts, data.labels, strict=True))


def catalog_examples(catalog: Catalog) -> Labelled:
    """Each skill's description and examples, labelled with its category."""
    texts, labels = [], []
    for skill in catalog.skills:
        for text in (skill.description, *skill.examples):
            texts.append(text)
            labels.append(skill.category)
    return Labelled(texts, labels, "")


def train(data: Labelled, catalog: Catalog, *, source: str, seed: int = 42, say: Callable[[str], None] = print) -> CategoryModel:
    """Fit on 90% to choose the threshold on the other 10%, then fit on everything with that threshold."""
    unknown = sorted(set(data.labels) - {c.name for c in catalog.categories})
    if unknown:
        raise ValueError(f"{source}: categories not in the catalog: {', '.join(unknown)}; declare them under categories: in the skill catalog")
    extra = catalog_examples(catalog)
    fit_part, check_part = split(data, 0.1, seed)
    say(f"fitting on {len(fit_part.texts):,} tickets (+{len(extra.texts)} skill examples) to choose the threshold...")
    probe = fit(fit_part.texts + extra.texts, fit_part.labels + extra.labels, source=source, data_sha256=data.sha256)
    raw = np.array([[dict(p.ranked)[c] for c in probe.categories] for p in probe.predict(check_part.texts)])
    truth = np.array([probe.categories.index(y) for y in check_part.labels])
    probe.temperature = fit_temperature(raw, truth)
    predicted = probe.predict(check_part.texts)
    confidences = np.array([p.confidence for p in predicted])
    correct = np.array([p.category == y for p, y in zip(predicted, check_part.labels, strict=True)])
    threshold = choose_threshold(confidences, correct, precision=TARGET_PRECISION)
    say(f"temperature {probe.temperature:.3f}: calibration error {expected_calibration_error(confidences, correct):.3f} on held-in tickets")
    say(f"threshold {threshold:.3f}: {np.mean(confidences >= threshold):.1%} of held-in tickets routed at ≥{TARGET_PRECISION:.0%} precision (accuracy {correct.mean():.3f})")
    say(f"fitting on all {len(data.texts):,} tickets...")
    model = fit(data.texts + extra.texts, data.labels + extra.labels, source=source, data_sha256=data.sha256)
    model.threshold = threshold
    model.temperature = probe.temperature
    model.trained |= {"rows": len(data.texts), "catalog_examples": len(extra.texts)}
    model.metrics = {"validation_accuracy": round(float(correct.mean()), 4), "validation_coverage_at_threshold": round(float(np.mean(confidences >= threshold)), 4), "target_precision": TARGET_PRECISION}
    return model
