"""``workforce triage train`` and ``workforce eval triage``: build the category model, measure it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from deploy.stack import ROOT

DEFAULT_MODELS = ROOT / "deploy" / "models" / "triage"
RESULTS = ROOT / "bench" / "results"

triage = typer.Typer(no_args_is_help=True, help="Train the triage model.")
evaluation = typer.Typer(no_args_is_help=True, help="Measure the platform's models.")


TextColumn = Annotated[str, typer.Option(help="The column(s) holding the ticket's text; several, comma-separated, are joined (e.g. 'short_description,description').")]
LabelColumn = Annotated[str, typer.Option(help="The column holding the queue, category or assignment group.")]
CatalogOption = Annotated[Path, typer.Option(help="The skill catalog (categories, their upstream labels, and skills' examples).")]
DEFAULT_CATALOG = ROOT / "deploy" / "workforce" / "skills.yaml"


def fail(exc: Exception) -> NoReturn:
    """A problem with the user's files, said plainly: no traceback, exit code 2."""
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


@triage.command("train")
def train_command(
    data: Annotated[Path, typer.Option("--data", help="CSV of labelled history, e.g. a ticket export (.gz is fine; UTF-8, cp1252 or Latin-1).", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option(help="Folder of model files; 'current' names the newest.")] = DEFAULT_MODELS,
    holdout: Annotated[float, typer.Option(help="Share of the data kept out of training, for `workforce eval triage`.", min=0.0, max=0.5)] = 0.2,
    holdout_file: Annotated[Path | None, typer.Option(help="Where to write the held-out rows (default: next to the model).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 42,
    catalog: CatalogOption = DEFAULT_CATALOG,
    text_column: TextColumn = "text",
    label_column: LabelColumn = "category",
    min_examples: Annotated[int, typer.Option(help="Labels with fewer training tickets are recognised but always go to their people.", min=1)] = 10,
    workforce: Annotated[Path, typer.Option(help="Folder of coworker manifests, to warn about categories no coworker takes.")] = ROOT / "deploy" / "workforce" / "coworkers",
) -> None:
    """Build the model the triage service loads (TRIAGE_MODEL); its version goes on every decision.
    Prints, and writes next to the model as report-<version>.json, what it learned per label."""
    from contracts.catalog import load_catalog
    from contracts.coworkers import load_workforce
    from services.triage.train import coverage_problems, map_labels, read_csv, split, train, training_report, write_csv

    try:
        skills = load_catalog(catalog)
        history = map_labels(read_csv(data, text_column=text_column, label_column=label_column, say=typer.echo), skills)
        kept, held = split(history, holdout, seed) if holdout > 0 else (history, None)
        model = train(kept, skills, source=str(data), seed=seed, min_examples=min_examples, say=typer.echo)
        warnings = coverage_problems(model, skills, load_workforce(workforce)) if workforce.is_dir() else []
    except ValueError as exc:  # the catalog's, the manifests' and the export's problems are all ValueErrors
        fail(exc)
    path = model.save(out)
    report = training_report(model, warnings)
    report_path = out / f"report-{model.version}.json"
    report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print_labels(report["labels"])
    for warning in warnings:
        typer.echo(f"warning: {warning}")
    typer.echo(f"model {model.version} written to {path} ({path.stat().st_size / 1e6:.1f} MB); threshold {model.threshold:.3f}; report {report_path}")
    if held is not None and held.texts:
        target = holdout_file or out / f"holdout-{model.version}.csv.gz"
        write_csv(held, target)
        typer.echo(f"{len(held.texts):,} held-out tickets written to {target}: `workforce eval triage --data {target}`")


def print_labels(labels: dict[str, dict[str, Any]]) -> None:
    """One line per label: its queue, tickets, held-in precision and recall, and whether coworkers get it."""
    width = min(40, max([len("label"), *(len(label) for label in labels)]))
    queue_width = min(30, max([len("queue"), *(len(row["queue"]) for row in labels.values())]))
    number = lambda v: "    -" if v is None else f"{v:5.3f}"  # noqa: E731
    typer.echo(f"  {'label':<{width}}  {'queue':<{queue_width}}  tickets  precision  recall  routed")
    for label, row in labels.items():
        routed = "yes" if row["routable"] else f"no: {row['why_not']}"
        typer.echo(f"  {label[:width]:<{width}}  {row['queue'][:queue_width]:<{queue_width}}  {row['tickets']:7,d}  {number(row['precision']):>9}  {number(row['recall']):>6}  {routed}")


@triage.command("distill")
def distill_command(
    out: Annotated[Path, typer.Option(help="Folder to write the static embedding into (what TRIAGE_EMBEDDING_MODEL points at).")] = ROOT / "deploy" / "models" / "static-minilm",
) -> None:
    """Make the static embedding the skill router reads meaning with, from the all-MiniLM-L6-v2
    wheel (offline, about a minute on two cores): each word piece's MiniLM vector, reduced by PCA."""
    from services.triage.embedding import StaticEmbedder, distill

    folder = distill(out)
    (vector,) = StaticEmbedder(folder).encode(["I forgot my password"])
    size = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
    typer.echo(f"static embedding written to {folder} ({size:.1f} MB, {len(vector)} dimensions)")


@evaluation.command("triage")
def eval_triage(
    data: Annotated[Path, typer.Option("--data", help="CSV of labelled tickets the model did not train on.", exists=True, dir_okay=False)],
    model: Annotated[Path, typer.Option(help="A model file, or a folder whose 'current' names one.")] = DEFAULT_MODELS,
    out: Annotated[Path, typer.Option(help="Where the report and the plot go.")] = RESULTS,
    catalog: CatalogOption = DEFAULT_CATALOG,
    text_column: TextColumn = "text",
    label_column: LabelColumn = "category",
) -> None:
    """Accuracy, macro-F1, per-class precision/recall, confusion matrix, escalation precision/recall,
    and the accuracy-versus-coverage curve (PNG)."""
    from services.triage.classifier import CategoryModel
    from services.triage.evaluate import evaluate, write
    from contracts.catalog import load_catalog
    from services.triage.train import map_labels, read_csv

    try:
        labelled = map_labels(read_csv(data, text_column=text_column, label_column=label_column, say=typer.echo), load_catalog(catalog))
        report = evaluate(CategoryModel.load(model), labelled)
    except (ValueError, FileNotFoundError) as exc:
        fail(exc)
    json_path, png_path = write(report, out)
    typer.echo(f"model {report['model_version']} on {report['tickets']:,} tickets")
    typer.echo(f"  accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}")
    typer.echo(f"  accuracy at 80% coverage {report['accuracy_at_80pct_coverage']:.4f}   coverage at 96% accuracy {report['coverage_at_96pct_accuracy']:.1%}   calibration error {report['calibration_error']:.3f}")
    typer.echo(f"  threshold {report['threshold']:.3f}: {report['routed_share']:.1%} routed, {report['routed_accuracy']:.4f} right; escalation precision {report['escalation_precision']:.3f}, recall {report['escalation_recall']:.3f}")
    width = min(40, max(len(label) for label in report["per_class"]))
    typer.echo(f"  {'category':<{width}}  precision  recall  support")
    for label, row in report["per_class"].items():
        typer.echo(f"  {label[:width]:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['support']:7d}" + ("" if row.get("routable", True) else "  (escalate-only)"))
    typer.echo(f"  {report['tickets_per_second']:,.0f} tickets/s (predict, one process)")
    typer.echo(f"written: {json_path}, {png_path}")
