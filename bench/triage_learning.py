"""Triage getting better from people's corrections: a simulated deployment, in one process.

The labelled IT tickets are read in file order, and file order is taken as time order (the data
has no timestamps). The first part is the history the first model is trained on; the stream of
the next ``--stream`` tickets arrives after it, ``--batch`` at a time, and is routed twice:

* frozen: the first model, never changed;
* learning: a learned example (a ticket with the same words, or nearly, that a person already
  labelled: ``Examples``, cosine >= NEAR) wins, else the current classifier. Every wrong route is
  corrected by a person (``ticket.rerouted``) ``--delay`` tickets later; the correction becomes a
  learned example, and a training row repeated ``--weight`` times when the classifier is refitted
  on history + corrections every ``--retrain-every`` tickets.

Right routes are NOT fed back as labels: in the service a resolved ticket (``ticket.resolved``)
would teach it too, but the promise is from corrections alone. A second learning run that also
learns from resolutions is reported beside it, labelled so. Accuracy is the first route of each
ticket (a learned label or the classifier's top category, no escalation threshold) against the
file's category, which is taken as the person's correction. A refit is instantaneous in stream
time. Results in bench/results/triage-learning.{json,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from services.triage.classifier import CategoryModel, fit
from services.triage.learning import Examples
from services.triage.train import read_csv

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
DATA = ROOT.parent / "shared" / "data" / "it_tickets" / "train.csv.gz"
PROMISE = 0.89  # accuracy on the last 5,000 tickets of the stream, from corrections alone
LAST = 5000
BLOCK = 1000


@dataclass(frozen=True)
class Plan:
    """How the deployment is simulated; every count is in tickets of the stream."""

    batch: int = 100  # tickets routed together (one consumer poll)
    delay: int = 200  # a person corrects a wrong route this many tickets after it
    retrain_every: int = 1000  # the classifier is refitted this often
    # A correction counts as 3 history rows: at 1 a few hundred corrections barely move a
    # classifier fitted on 18,280 rows; at ~1/error (5) they would weigh as much as the whole
    # stream labelled, but they are only its hard tickets, so the class mix would skew to them.
    weight: int = 3
    resolutions: bool = False  # also learn from right routes (a resolved ticket), weight 1


@dataclass(frozen=True)
class Learned:
    """A label a person gave: for which stream ticket, and before which ticket it was known."""

    ticket: int
    known_from: int
    category: str
    source: str  # "rerouted" (a correction) or "resolved"


@dataclass
class Run:
    """What one routing policy did to the stream."""

    name: str
    routes: list[str] = field(default_factory=list)
    by_learned_example: list[bool] = field(default_factory=list)
    classifier_routes: list[str] = field(default_factory=list)  # what the classifier alone said
    learned: list[Learned] = field(default_factory=list)
    refits: list[int] = field(default_factory=list)
    fit_seconds: float = 0.0


def split(texts: Sequence[str], labels: Sequence[str], stream: int) -> tuple[tuple[list[str], list[str]], tuple[list[str], list[str]]]:
    """The history (everything before the stream) and the stream (the last ``stream`` tickets)."""
    if not 0 < stream < len(texts):
        raise ValueError(f"--stream {stream} must be between 1 and the {len(texts):,} tickets read, leaving a history to train on")
    cut = len(texts) - stream
    return (list(texts[:cut]), list(labels[:cut])), (list(texts[cut:]), list(labels[cut:]))


def frozen(model: CategoryModel, texts: Sequence[str], batch: int) -> Run:
    """The first model on every ticket: what the service does without learning."""
    run = Run("frozen")
    for start in range(0, len(texts), batch):
        run.routes += [p.category for p in model.predict(texts[start : start + batch])]
    run.by_learned_example = [False] * len(texts)
    run.classifier_routes = run.routes
    return run


def index(model: CategoryModel, stream: Sequence[str], learned: Sequence[Learned]) -> Examples:
    """The learned examples in a model's feature space: after a refit the service restarts with
    the new model and reads every label again, so the simulation does the same."""
    examples = Examples(model)
    examples.add([stream[x.ticket] for x in learned], [x.category for x in learned], [None] * len(learned), [x.source for x in learned])
    return examples


def refit(history: tuple[list[str], list[str]], stream: Sequence[str], learned: Sequence[Learned], weight: int) -> CategoryModel:
    """History plus the labels known so far; a correction is repeated ``weight`` times (``fit``
    takes no sample weights, so repetition is the weight)."""
    texts, labels = list(history[0]), list(history[1])
    for x in learned:
        times = weight if x.source == "rerouted" else 1
        texts += [stream[x.ticket]] * times
        labels += [x.category] * times
    return fit(texts, labels, source="triage-learning")


def learning(model: CategoryModel, history: tuple[list[str], list[str]], stream: tuple[list[str], list[str]], plan: Plan) -> Run:
    """Route the stream in batches while people's labels arrive ``plan.delay`` tickets late and
    the classifier is refitted every ``plan.retrain_every`` tickets."""
    texts, truth = stream
    run = Run("learning+resolutions" if plan.resolutions else "learning")
    in_flight: deque[Learned] = deque()  # labels a person will give, in the order they are due
    examples = index(model, texts, [])
    for start in range(0, len(texts), plan.batch):
        arrived = []
        while in_flight and in_flight[0].known_from <= start:
            x = in_flight.popleft()
            arrived.append(Learned(x.ticket, start, x.category, x.source))
        run.learned += arrived
        if start and start % plan.retrain_every < plan.batch and run.learned:
            started = time.perf_counter()
            model = refit(history, texts, run.learned, plan.weight)
            run.fit_seconds += time.perf_counter() - started
            run.refits.append(start)
            examples = index(model, texts, run.learned)
        else:
            examples.add([texts[x.ticket] for x in arrived], [x.category for x in arrived], [None] * len(arrived), [x.source for x in arrived])
        batch = texts[start : start + plan.batch]
        predictions, features = model.read(batch)
        for offset, (prediction, label) in enumerate(zip(predictions, examples.lookup_batch(batch, features), strict=True)):
            i = start + offset
            route = label.category if label is not None else prediction.category
            run.routes.append(route)
            run.by_learned_example.append(label is not None)
            run.classifier_routes.append(prediction.category)
            if route != truth[i]:
                in_flight.append(Learned(i, i + plan.delay, truth[i], "rerouted"))
            elif plan.resolutions:
                in_flight.append(Learned(i, i + plan.delay, truth[i], "resolved"))
    return run


def accuracy(routes: Sequence[str], truth: Sequence[str]) -> np.ndarray:
    return np.array([r == t for r, t in zip(routes, truth, strict=True)])


def per_block(correct: np.ndarray, size: int = BLOCK) -> list[float]:
    return [round(float(correct[i : i + size].mean()), 4) for i in range(0, len(correct), size)]


def summary(run: Run, truth: Sequence[str], last: int) -> dict:
    """What a reader of the chart needs about one run."""
    correct = accuracy(run.routes, truth)
    learned = np.array(run.by_learned_example)
    tail = slice(len(correct) - min(last, len(correct)), None)
    return {
        "accuracy_per_1000": per_block(correct),
        f"accuracy_last_{last}": round(float(correct[tail].mean()), 4),
        "accuracy_all": round(float(correct.mean()), 4),
        "corrections": sum(x.source == "rerouted" for x in run.learned),
        "resolutions_learned": sum(x.source == "resolved" for x in run.learned),
        "routed_by_learned_example": int(learned.sum()),
        # Whether the learned-example path helps: its tickets, routed by it and by the classifier alone.
        "learned_example_accuracy": round(float(correct[learned].mean()), 4) if learned.any() else None,
        "classifier_accuracy_on_those": round(float(accuracy(run.classifier_routes, truth)[learned].mean()), 4) if learned.any() else None,
        "refits": len(run.refits),
        "fit_seconds": round(run.fit_seconds, 1),
    }


def simulate(texts: Sequence[str], labels: Sequence[str], *, stream: int, plan: Plan, variants: bool = True) -> tuple[dict[str, Run], list[str], float]:
    """Fit the first model on the history; route the stream frozen, learning from corrections,
    and (``variants``) learning from resolutions too. Returns the runs, the stream's truth and the
    first fit's seconds."""
    history, (stream_texts, truth) = split(texts, labels, stream)
    started = time.perf_counter()
    model = fit(*history, source="triage-learning")
    first_fit = time.perf_counter() - started
    runs = {"frozen": frozen(model, stream_texts, plan.batch)}
    runs["learning"] = learning(model, history, (stream_texts, truth), plan)
    if variants:
        with_resolutions = Plan(plan.batch, plan.delay, plan.retrain_every, plan.weight, resolutions=True)
        runs["learning+resolutions"] = learning(model, history, (stream_texts, truth), with_resolutions)
    return runs, truth, first_fit


def synthetic(rows: int = 4000, *, seed: int = 11, noise: float = 0.05) -> tuple[list[str], list[str]]:
    """Tickets whose words say their queue, with ``noise`` of the labels wrong, in time order:
    halfway, Storage tickets start using words the history never saw (new hardware), and one in
    ten tickets after that repeats an earlier one (the same person asking again)."""
    rng = random.Random(seed)
    queues = ["Hardware", "Access", "Storage", "Purchase"]
    words = {q: [f"{q[:3].lower()}{w}" for w in "abcdefghijklmnopqrst"] for q in queues}
    new_storage = [f"nas{w}" for w in "abcdefghijklmnopqrst"]
    shared = [f"common{w}" for w in "abcdefghijklmnopqrstuvwxy"]
    texts: list[str] = []
    labels: list[str] = []
    for i in range(rows):
        if i > rows // 2 and rng.random() < 0.1:
            j = rng.randrange(rows // 2, i)
            texts.append(texts[j])
            labels.append(labels[j])
            continue
        queue = rng.choice(queues)
        own = new_storage if queue == "Storage" and i > rows // 2 else words[queue]
        texts.append(" ".join(rng.sample(own, 5) + rng.sample(shared, 4)))
        labels.append(rng.choice(queues) if rng.random() < noise else queue)
    return texts, labels


def plot(blocks: dict[str, list[float]], path: Path, *, title: str) -> None:
    """Accuracy per 1,000 tickets, one line per run, with the promised 0.89."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {"frozen": ("frozen model", "-", "tab:gray"), "learning": ("learning from corrections", "-", "tab:blue"), "learning+resolutions": ("also learning from resolutions (not the promise)", ":", "tab:green")}
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, values in blocks.items():
        label, style, colour = styles[name]
        ax.plot([(i + 1) * BLOCK for i in range(len(values))], values, style, color=colour, marker="o", markersize=3, label=label)
    ax.axhline(PROMISE, color="tab:red", linestyle="--", linewidth=1, label=f"promise on the last {LAST:,}: {PROMISE}")
    ax.set_xlabel("tickets of the stream (file order taken as time order)")
    ax.set_ylabel(f"accuracy per {BLOCK:,} tickets")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="CSV (.gz) of text, category, in time order")
    parser.add_argument("--stream", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=Plan.batch)
    parser.add_argument("--delay", type=int, default=Plan.delay)
    parser.add_argument("--retrain-every", type=int, default=Plan.retrain_every)
    parser.add_argument("--weight", type=int, default=Plan.weight)
    parser.add_argument("--no-resolutions", action="store_true", help="skip the run that also learns from resolutions")
    parser.add_argument("--small", action="store_true", help="generated tickets (4,000, stream 2,000): the path the unit test takes; writes only with --out")
    parser.add_argument("--out", type=Path, default=None, help="JSON result; the chart is written beside it (.png)")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    np.random.seed(0)  # LinearSVC's solver draws its seed from numpy's global state: a run repeats
    started = time.perf_counter()
    if args.small:
        texts, labels = synthetic()
        source, stream = "synthetic (bench/triage_learning.py synthetic())", min(args.stream, 2000)
    else:
        data = read_csv(args.data)
        texts, labels, source, stream = data.texts, data.labels, str(args.data), args.stream
    plan = Plan(args.batch, args.delay, args.retrain_every, args.weight)
    runs, truth, first_fit = simulate(texts, labels, stream=stream, plan=plan, variants=not args.no_resolutions)
    last = min(LAST, stream)
    result = {
        "data": source,
        "rows": len(texts),
        "history": len(texts) - stream,
        "stream": stream,
        "time_order": "file order is taken as time order (the data has no timestamps): the history is the first rows, the stream the rows after them",
        "labels": "only corrections (ticket.rerouted) of wrong routes are fed back; right routes are NOT fed back as labels in 'learning' (a resolved ticket would be in the service; 'learning+resolutions' shows that, and is not the promise)",
        "accuracy": "each ticket's first route (learned example or classifier's top category, no escalation threshold) against the file's category, taken as the person's correction",
        "plan": asdict(plan),
        "promise": {"accuracy_last": last, "at_least": PROMISE},
        "runs": {name: summary(run, truth, last) for name, run in runs.items()},
        "first_fit_seconds": round(first_fit, 1),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
    }
    kept = result["runs"]["learning"][f"accuracy_last_{last}"]
    result["promise"]["met"] = bool(kept >= PROMISE)
    out = args.out if args.out is not None or args.small else RESULTS / "triage-learning.json"
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        blocks = {name: r["accuracy_per_1000"] for name, r in result["runs"].items()}
        plot(blocks, out.with_suffix(".png"), title=f"Triage on {stream:,} tickets after {len(texts) - stream:,} of history, frozen vs learning\nrefit every {plan.retrain_every:,} tickets, corrections x{plan.weight}, {plan.delay} tickets late")
    for name, r in result["runs"].items():
        print(f"{name:22} last {last:,}: {r[f'accuracy_last_{last}']:.4f}  all: {r['accuracy_all']:.4f}  corrections {r['corrections']:,}  by learned example {r['routed_by_learned_example']:,}")
    print(f"promise (learning, last {last:,} >= {PROMISE}): {'met' if result['promise']['met'] else 'NOT met'}; {result['seconds']:.0f} s; file order taken as time order; right routes not fed back in 'learning'")


if __name__ == "__main__":
    main()
