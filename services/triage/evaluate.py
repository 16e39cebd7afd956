"""How right the category model is on labelled tickets it never saw: the numbers and the plot.
A ticket predicted as an escalate-only label counts as escalated, whatever its confidence."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from services.triage.classifier import CategoryModel, expected_calibration_error
from services.triage.train import Labelled


def evaluate(model: CategoryModel, data: Labelled) -> dict[str, Any]:
    started = time.perf_counter()
    predicted = model.predict(data.texts)
    seconds = time.perf_counter() - started
    guesses = [p.category for p in predicted]
    confidences = np.array([p.confidence for p in predicted])
    correct = np.array([g == y for g, y in zip(guesses, data.labels, strict=True)])
    labels = sorted(set(data.labels) | set(model.categories))
    precision, recall, f1, support = precision_recall_fscore_support(data.labels, guesses, labels=labels, zero_division=0)
    # Escalated: not confident enough, or predicted as a label whose tickets always go to people.
    escalated = (confidences < model.threshold) | np.array([g in model.escalate_only for g in guesses], dtype=bool)
    order = np.argsort(-confidences)
    cumulative = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    coverage = np.arange(1, len(order) + 1) / len(order)
    at = lambda c: float(cumulative[max(0, int(np.ceil(c * len(order))) - 1)])  # noqa: E731
    reaching = np.nonzero(cumulative >= 0.96)[0]
    return {
        "model_version": model.version,
        "tickets": len(data.texts),
        "accuracy": round(float(accuracy_score(data.labels, guesses)), 4),
        "macro_f1": round(float(f1_score(data.labels, guesses, labels=labels, average="macro", zero_division=0)), 4),
        "accuracy_at_80pct_coverage": round(at(0.8), 4),
        "coverage_at_96pct_accuracy": round(float(coverage[reaching[-1]]) if len(reaching) else 0.0, 4),
        "calibration_error": round(expected_calibration_error(confidences, correct), 4),
        "threshold": round(model.threshold, 4),
        "routed_share": round(float(np.mean(~escalated)), 4),
        "routed_accuracy": round(float(correct[~escalated].mean()) if (~escalated).any() else 0.0, 4),
        # Escalation as a detector of wrong answers: of those escalated, how many would have been
        # wrong (precision); of all the wrong ones, how many were escalated (recall).
        "escalation_precision": round(float((~correct[escalated]).mean()) if escalated.any() else 0.0, 4),
        "escalation_recall": round(float(escalated[~correct].mean()) if (~correct).any() else 0.0, 4),
        "escalate_only": dict(model.escalate_only),
        "per_class": {label: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4), "support": int(s), "routable": label not in model.escalate_only} for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)},
        "confusion": {"labels": labels, "matrix": confusion_matrix(data.labels, guesses, labels=labels).tolist()},
        "curve": {"coverage": [round(float(c), 4) for c in coverage[:: max(1, len(coverage) // 200)]], "accuracy": [round(float(a), 4) for a in cumulative[:: max(1, len(coverage) // 200)]]},
        "tickets_per_second": round(len(data.texts) / seconds, 1),
    }


def write(report: dict[str, Any], folder: Path, *, name: str = "triage-eval") -> tuple[Path, Path]:
    """``<name>.json`` with every number, and ``<name>-coverage.png``: accuracy against coverage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    data_path = folder / f"{name}.json"
    data_path.write_text(json.dumps(report, indent=2) + "\n")
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.plot(report["curve"]["coverage"], report["curve"]["accuracy"], label=f"model {report['model_version']}")
    ax.axhline(0.96, color="grey", linestyle="--", linewidth=1, label="96% accuracy")
    ax.axvline(0.8, color="grey", linestyle=":", linewidth=1, label="80% coverage")
    ax.axvline(report["routed_share"], color="tab:green", linestyle="-.", linewidth=1, label=f"threshold {report['threshold']:.2f}: {report['routed_share']:.0%} routed")
    ax.set_xlabel("coverage (share of tickets routed, most confident first)")
    ax.set_ylabel("accuracy of the routed tickets")
    ax.set_title(f"Triage on {report['tickets']:,} held-out tickets: accuracy {report['accuracy']:.3f}, at 80% coverage {report['accuracy_at_80pct_coverage']:.3f}")
    ax.set_ylim(min(0.8, min(report["curve"]["accuracy"]) - 0.02), 1.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    plot_path = folder / f"{name}-coverage.png"
    fig.savefig(plot_path)
    plt.close(fig)
    return data_path, plot_path
