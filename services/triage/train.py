"""Train the category model from an organisation's ticket export: any columns, any encoding, any
number of queues, however long-tailed. Pure but for reading the CSV.

An export is read as it is (quoted newlines, a BOM, cp1252 or Latin-1, ``;`` from a European
Excel) and its labels are mapped through the catalog's ``labels:`` (GRP_0, GRP_12 → Access). Every
label with a ticket becomes a class; one the catalog does not declare, or with fewer than
``min_examples`` tickets, is escalate-only: recognised, and sent to its queue's people, never to a
coworker. The report says, per label, how many tickets it had, how it measured and why it is not
routable.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from contracts.catalog import Catalog
from contracts.coworkers import CoworkerManifest
from services.triage.classifier import CategoryModel, choose_threshold, expected_calibration_error, fit, fit_temperature

#: Routed tickets must be right this often; the rest go to people.
TARGET_PRECISION = 0.96
#: A label with fewer training tickets than this is recognised but never routed to a coworker.
MIN_EXAMPLES = 10
NOT_IN_CATALOG = "not a category in the catalog: its people take it"
#: Tried in order; Latin-1 decodes any bytes, so reading never fails on the encoding.
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
#: Real exports hold long e-mail threads; the csv module's default limit is 128 KiB a field.
FIELD_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class Labelled:
    texts: list[str]
    labels: list[str]
    sha256: str
    encoding: str = "utf-8"
    skipped: dict[str, int] = field(default_factory=dict)  # why -> rows left out ("no label", "no text")
    textless: dict[str, int] = field(default_factory=dict)  # label -> its rows that had no text
    sources: dict[str, list[str]] = field(default_factory=dict)  # label -> the upstream labels mapped onto it

    def subset(self, rows: Sequence[int]) -> Labelled:
        return replace(self, texts=[self.texts[i] for i in rows], labels=[self.labels[i] for i in rows])


# --- reading an export --------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was read with: UTF-16 by its BOM, else UTF-8 (BOM or not), else
    cp1252 (Excel on Windows), else Latin-1."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")


def delimiter(text: str) -> str:
    """``,`` unless the header line has none and has ``;`` (Excel in much of Europe), a tab or ``|``."""
    header = text.split("\n", 1)[0]
    if "," in header:
        return ","
    return max(";\t|", key=header.count) if any(c in header for c in ";\t|") else ","


def column_names(spec: str) -> list[str]:
    """``"short_description,description"`` -> both names; their texts are joined, one per line."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ValueError(f"no column named in {spec!r}; name one or more, comma-separated, e.g. 'short_description,description'")
    return names


def find_columns(wanted: Sequence[str], found: Sequence[str], path: Path) -> list[str]:
    """The header's own spelling of each wanted column (matched ignoring case and surrounding space)."""
    by_key = {name.strip().casefold(): name for name in found}
    missing = [w for w in wanted if w.strip().casefold() not in by_key]
    if missing:
        raise ValueError(
            f"{path}: no column {', '.join(repr(m) for m in missing)}; found {', '.join(repr(f) for f in found) or 'no header'}. "
            "Name the text and label columns (--text-column, --label-column)"
        )
    return [by_key[w.strip().casefold()] for w in wanted]


def read_csv(path: Path, *, text_column: str = "text", label_column: str = "category", say: Callable[[str], None] | None = None) -> Labelled:
    """Labelled rows of a CSV export (``.gz`` is read as gzip). ``text_column`` may name several
    columns, comma-separated. Rows without a label, or without text, teach nothing: they are left
    out and counted (``skipped``, ``textless``); the encoding used is on the result and said."""
    raw = path.read_bytes()
    data = gzip.decompress(raw) if path.suffix == ".gz" else raw
    text, encoding = decode(data)
    if say is not None and encoding not in ("utf-8-sig", "utf-8"):
        say(f"{path}: not UTF-8; read as {encoding}")
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter(text))
    try:
        found = list(reader.fieldnames or [])
        *text_columns, label_key = find_columns([*column_names(text_column), label_column.strip()], found, path)
        texts, labels, skipped, textless = _rows(reader, text_columns, label_key)
    except csv.Error as exc:
        raise ValueError(f"{path}: line {reader.line_num}: not readable as CSV ({exc})") from None
    if not texts:
        raise ValueError(f"{path}: no row has both text ({', '.join(text_columns)}) and a label ({label_key}); left out: {dict(skipped) or 'none'}")
    if say is not None and skipped:
        say(f"{path}: {len(texts):,} labelled tickets; left out " + ", ".join(f"{n:,} with {why}" for why, n in sorted(skipped.items())))
    return Labelled(texts, labels, hashlib.sha256(data).hexdigest(), "utf-8" if encoding == "utf-8-sig" else encoding, dict(skipped), dict(textless))


def _rows(reader: csv.DictReader[str], text_columns: Sequence[str], label_key: str) -> tuple[list[str], list[str], Counter[str], Counter[str]]:
    texts, labels, skipped, textless = [], [], Counter[str](), Counter[str]()
    for row in reader:
        label = (row.get(label_key) or "").strip()
        text = "\n".join(part.strip() for part in (row.get(c) or "" for c in text_columns) if part.strip())
        if not label:
            skipped["no label"] += 1
        elif not text:
            skipped["no text"] += 1
            textless[label] += 1
        else:
            texts.append(text)
            labels.append(label)
    return texts, labels, skipped, textless


def write_csv(data: Labelled, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as f:  # type: ignore[operator]
        writer = csv.writer(f)
        writer.writerow(["text", "category"])
        writer.writerows(zip(data.texts, data.labels, strict=True))


def split(data: Labelled, holdout: float, seed: int) -> tuple[Labelled, Labelled]:
    """What to train on, and what to evaluate on (never trained on): each label gives ``holdout``
    of its tickets (rounded) but keeps at least one for training, so a label with a single ticket
    is learned rather than only ever tested."""
    rng = np.random.default_rng(seed)
    rows_of: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(data.labels):
        rows_of[label].append(i)
    held: set[int] = set()
    for label in sorted(rows_of):
        rows = rows_of[label]
        held.update(int(i) for i in rng.permutation(rows)[: min(len(rows) - 1, int(len(rows) * holdout + 0.5))])
    return data.subset([i for i in range(len(data.labels)) if i not in held]), data.subset(sorted(held))


# --- labels, queues, and what may be routed -----------------------------------------------------


def label_map(catalog: Catalog) -> dict[str, str]:
    """Upstream label -> catalog category: each category's own name, and its ``labels:``."""
    return {c.name: c.name for c in catalog.categories} | {label: c.name for c in catalog.categories for label in c.labels}


def map_labels(data: Labelled, catalog: Catalog) -> Labelled:
    """The data with each label replaced by the category the catalog says it means (others stay)."""
    mapping = label_map(catalog)
    sources: dict[str, set[str]] = defaultdict(set)
    for label in {*data.labels, *data.textless}:
        sources[mapping.get(label, label)].update(data.sources.get(label, [label]))  # mapping twice changes nothing
    textless: Counter[str] = Counter()
    for label, n in data.textless.items():
        textless[mapping.get(label, label)] += n
    return replace(
        data,
        labels=[mapping.get(label, label) for label in data.labels],
        textless=dict(textless),
        sources={k: sorted(v) for k, v in sources.items() if v != {k}},
    )


def queue_name(label: str) -> str:
    """A queue name for a label the catalog does not declare, in the pattern queue names take
    (``contracts.coworkers.Name``: lower-case letters, digits, ``_ . -``; at most 100)."""
    folded = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().casefold()
    slug = re.sub(r"[^a-z0-9_.-]+", "-", folded).strip("-_.")[:100].rstrip("-_.")
    return slug or "queue-" + hashlib.sha256(label.encode()).hexdigest()[:8]


def queues(labels: Iterable[str], catalog: Catalog) -> dict[str, str]:
    """Label -> the human queue that takes its tickets: the category's, or one named after the
    label (made unique when two labels would share a name)."""
    out: dict[str, str] = {}
    taken: dict[str, str] = {}
    for label in sorted(set(labels)):
        spec = catalog.category(label)
        if spec is not None:
            out[label] = spec.queue
            continue
        name = queue_name(label)
        if taken.get(name, label) != label:
            name = f"{name[:91]}-{hashlib.sha256(label.encode()).hexdigest()[:8]}"
        taken[name] = label
        out[label] = name
    return out


def escalate_only(counts: Mapping[str, int], catalog: Catalog, min_examples: int) -> dict[str, str]:
    """Label -> why no ticket predicted as it may go to a coworker: the catalog does not declare it,
    or the history holds too few of its tickets to learn it."""
    reasons = {}
    for label, n in counts.items():
        if catalog.category(label) is None:
            reasons[label] = NOT_IN_CATALOG
        elif n < min_examples:
            reasons[label] = f"{n} ticket{'' if n == 1 else 's'} in training; {min_examples} needed to learn it"
    return reasons


def catalog_examples(catalog: Catalog) -> Labelled:
    """Each skill's description and examples, labelled with its category."""
    texts, labels = [], []
    for skill in catalog.skills:
        for text in (skill.description, *skill.examples):
            texts.append(text)
            labels.append(skill.category)
    return Labelled(texts, labels, "")


def coverage_problems(model_or_labels: CategoryModel | Iterable[str], catalog: Catalog, workforce: Mapping[str, CoworkerManifest]) -> list[str]:
    """Routable categories (skills in the catalog, not escalate-only) whose skills no coworker
    manifest holds: the model would route their tickets to nobody."""
    if isinstance(model_or_labels, CategoryModel):
        labels, blocked = list(model_or_labels.categories), model_or_labels.escalate_only
    else:
        labels, blocked = list(model_or_labels), {}
    held = {skill for manifest in workforce.values() for skill in manifest.skills}
    problems = []
    for label in sorted(set(labels)):
        skills = [s.name for s in catalog.skills_in(label)]
        if label in blocked or not skills or held & set(skills):
            continue
        spec = catalog.category(label)
        problems.append(
            f"category {label!r} is routable but no coworker manifest holds any of its skills ({', '.join(skills)}); "
            f"give one to a coworker (skills:) or its tickets all go to {spec.queue if spec else 'people'}"
        )
    return problems


# --- training -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldIn:
    """How the model fitted on 90% did on the other 10%, and what was chosen from it."""

    temperature: float
    threshold: float
    truth: list[str]
    predicted: list[str]
    confidences: np.ndarray
    routable: np.ndarray  # predicted as a label that may go to a coworker


def held_in(probe: CategoryModel, check: Labelled, blocked: Mapping[str, str]) -> HeldIn:
    """Temperature fitted on the held-in tickets, then the threshold at which the tickets that would
    be routed (confident, and predicted as a routable label) are right ``TARGET_PRECISION`` of the time."""
    if not check.texts:
        return HeldIn(1.0, 1.0, [], [], np.zeros(0), np.zeros(0, dtype=bool))
    raw = np.array([[dict(p.ranked)[c] for c in probe.categories] for p in probe.predict(check.texts)])
    probe.temperature = fit_temperature(raw, np.array([probe.categories.index(y) for y in check.labels]))
    predicted = probe.predict(check.texts)
    guesses = [p.category for p in predicted]
    confidences = np.array([p.confidence for p in predicted])
    routable = np.array([g not in blocked for g in guesses])
    correct = np.array([g == y for g, y in zip(guesses, check.labels, strict=True)])
    threshold = choose_threshold(confidences[routable], correct[routable], precision=TARGET_PRECISION) if routable.any() else 1.0
    return HeldIn(probe.temperature, threshold, list(check.labels), guesses, confidences, routable)


def train(data: Labelled, catalog: Catalog, *, source: str, seed: int = 42, min_examples: int = MIN_EXAMPLES, say: Callable[[str], None] = print) -> CategoryModel:
    """Fit on 90% to choose the temperature and threshold on the other 10%, then fit on everything
    with them. The model carries, per label, its queue and whether (and why not) it is routed."""
    if min_examples < 1:
        raise ValueError(f"min_examples must be at least 1; got {min_examples}")
    data = map_labels(data, catalog)
    for category, upstream in sorted(data.sources.items()):
        say(f"labels {', '.join(upstream)} → {category}")
    extra = catalog_examples(catalog)
    counts = Counter(data.labels)
    blocked = escalate_only({label: counts.get(label, 0) for label in {*counts, *extra.labels}}, catalog, min_examples)
    fit_part, check_part = split(data, 0.1, seed)
    say(f"fitting on {len(fit_part.texts):,} tickets (+{len(extra.texts)} skill examples) in {len(counts)} labels to choose the threshold...")
    probe = fit(fit_part.texts + extra.texts, fit_part.labels + extra.labels, source=source, data_sha256=data.sha256, seed=seed)
    check = held_in(probe, check_part, blocked)
    correct = np.array([g == y for g, y in zip(check.predicted, check.truth, strict=True)], dtype=bool)
    routed = check.routable & (check.confidences >= check.threshold)
    if check.truth:
        say(f"temperature {check.temperature:.3f}: calibration error {expected_calibration_error(check.confidences, correct):.3f} on {len(check.truth):,} held-in tickets")
        say(f"threshold {check.threshold:.3f}: {routed.mean():.1%} of held-in tickets routed at ≥{TARGET_PRECISION:.0%} precision (accuracy {correct.mean():.3f})")
    else:
        say("no label has tickets to spare for a held-in check: threshold 1.0, every ticket goes to people")
    say(f"{len(blocked)} of {len(set(counts) | set(extra.labels))} labels escalate-only (fewer than {min_examples} tickets, or not in the catalog)")
    say(f"fitting on all {len(data.texts):,} tickets...")
    model = fit(data.texts + extra.texts, data.labels + extra.labels, source=source, data_sha256=data.sha256, seed=seed)
    model.threshold, model.temperature = check.threshold, check.temperature
    model.escalate_only = {label: reason for label, reason in blocked.items() if label in model.categories}
    model.queues = queues(model.categories, catalog)
    model.trained |= {"rows": len(data.texts), "catalog_examples": len(extra.texts), "encoding": data.encoding, "skipped": data.skipped, "min_examples": min_examples}
    model.metrics = {
        "validation_tickets": len(check.truth),
        "validation_accuracy": round(float(correct.mean()), 4) if check.truth else None,
        "validation_coverage_at_threshold": round(float(routed.mean()), 4) if check.truth else None,
        "target_precision": TARGET_PRECISION,
        "labels": label_report(model, catalog, counts, data, check),
    }
    return model


def label_report(model: CategoryModel, catalog: Catalog, counts: Mapping[str, int], data: Labelled, check: HeldIn) -> dict[str, dict[str, Any]]:
    """Per label: its queue, tickets in training, precision and recall on the held-in tickets,
    and whether it is routed to coworkers (and why not)."""
    labels = sorted(set(model.categories) | set(data.textless))
    queue_of = queues(labels, catalog)
    report = {}
    for label in labels:
        truly = np.array([y == label for y in check.truth], dtype=bool)
        said = np.array([g == label for g in check.predicted], dtype=bool)
        why = why_not_routed(label, model, catalog)
        report[label] = {
            "queue": queue_of[label],
            "tickets": int(counts.get(label, 0)),
            "without_text": int(data.textless.get(label, 0)),
            "from": data.sources.get(label, []),
            "validation_tickets": int(truly.sum()),
            "precision": round(float((truly & said).sum() / said.sum()), 4) if said.any() else None,
            "recall": round(float((truly & said).sum() / truly.sum()), 4) if truly.any() else None,
            "routable": why is None,
            "why_not": why,
        }
    return report


def why_not_routed(label: str, model: CategoryModel, catalog: Catalog) -> str | None:
    if label not in model.categories:
        return "no ticket with text to learn it from: the model never predicts it"
    if label in model.escalate_only:
        return model.escalate_only[label]
    if not catalog.skills_in(label):
        return "no skill in the catalog for it: its people take it"
    return None


def training_report(model: CategoryModel, warnings: Sequence[str] = ()) -> dict[str, Any]:
    """What ``workforce triage train`` writes next to the model (``report-<version>.json``)."""
    return {
        "model_version": model.version,
        "source": model.trained.get("source"),
        "encoding": model.trained.get("encoding"),
        "rows": model.trained.get("rows"),
        "skipped": model.trained.get("skipped", {}),
        "min_examples": model.trained.get("min_examples"),
        "threshold": round(model.threshold, 4),
        "temperature": round(model.temperature, 4),
        "validation": {k: v for k, v in model.metrics.items() if k != "labels"},
        "labels": model.metrics.get("labels", {}),
        "warnings": list(warnings),
    }
