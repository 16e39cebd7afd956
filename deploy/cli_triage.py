"""``workforce triage train`` and ``workforce eval triage``: build the category model, measure it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deploy.stack import ROOT

DEFAULT_MODELS = ROOT / "deploy" / "models" / "triage"
RESULTS = ROOT / "bench" / "results"

triage = typer.Typer(no_args_is_help=True, help="Train the triage model.")
evaluation = typer.Typer(no_args_is_help=True, help="Measure the platform's models.")


@triage.command("train")
def train_command(
    data: Annotated[Path, typer.Option("--data", help="CSV of labelled history: columns text, category (.gz is fine).", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option(help="Folder of model files; 'current' names the newest.")] = DEFAULT_MODELS,
    holdout: Annotated[float, typer.Option(help="Share of the data kept out of training, for `workforce eval triage`.", min=0.0, max=0.5)] = 0.2,
    holdout_file: Annotated[Path | None, typer.Option(help="Where to write the held-out rows (default: next to the model).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 42,
    catalog: Annotated[Path, typer.Option(help="The skill catalog (categories and skills' examples).")] = ROOT / "deploy" / "workforce" / "skills.yaml",
) -> None:
    """Build the model the triage service loads (TRIAGE_MODEL); its version goes on every decision."""
    from contracts.catalog import load_catalog
    from services.triage.train import read_csv, split, train, write_csv

    history = read_csv(data)
    kept, held = split(history, holdout, seed) if holdout > 0 else (history, None)
    model = train(kept, load_catalog(catalog), source=str(data), seed=seed, say=typer.echo)
    path = model.save(out)
    typer.echo(f"model {model.version} written to {path} ({path.stat().st_size / 1e6:.1f} MB); threshold {model.threshold:.3f}")
    if held is not None:
        target = holdout_file or out / f"holdout-{model.version}.csv.gz"
        write_csv(held, target)
        typer.echo(f"{len(held.texts):,} held-out tickets written to {target}: `workforce eval triage --data {target}`")


@evaluation.command("triage")
def eval_triage(
    data: Annotated[Path, typer.Option("--data", help="CSV of labelled tickets the model did not train on.", exists=True, dir_okay=False)],
    model: Annotated[Path, typer.Option(help="A model file, or a folder whose 'current' names one.")] = DEFAULT_MODELS,
    out: Annotated[Path, typer.Option(help="Where the report and the plot go.")] = RESULTS,
) -> None:
    """Accuracy, macro-F1, per-class precision/recall, confusion matrix, escalation precision/recall,
    and the accuracy-versus-coverage curve (PNG)."""
    from services.triage.classifier import CategoryModel
    from services.triage.evaluate import evaluate, write
    from services.triage.train import read_csv

    report = evaluate(CategoryModel.load(model), read_csv(data))
    json_path, png_path = write(report, out)
    typer.echo(f"model {report['model_version']} on {report['tickets']:,} tickets")
    typer.echo(f"  accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}")
    typer.echo(f"  accuracy at 80% coverage {report['accuracy_at_80pct_coverage']:.4f}   coverage at 96% accuracy {report['coverage_at_96pct_accuracy']:.1%}   calibration error {report['calibration_error']:.3f}")
    typer.echo(f"  threshold {report['threshold']:.3f}: {report['routed_share']:.1%} routed, {report['routed_accuracy']:.4f} right; escalation precision {report['escalation_precision']:.3f}, recall {report['escalation_recall']:.3f}")
    width = max(len(label) for label in report["per_class"])
    typer.echo(f"  {'category':<{width}}  precision  recall  support")
    for label, row in report["per_class"].items():
        typer.echo(f"  {label:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['support']:7d}")
    typer.echo(f"  {report['tickets_per_second']:,.0f} tickets/s (predict, one process)")
    typer.echo(f"written: {json_path}, {png_path}")
