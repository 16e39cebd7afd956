"""The simulated deployment of bench/triage_learning.py on a small generated slice: triage that
learns from people's corrections routes better than the frozen model, remembers a corrected
ticket, and learns nothing before a person could have said it."""

from __future__ import annotations

import pytest

from bench.triage_learning import Plan, Run, simulate, synthetic
from services.triage.classifier import fit
from services.triage.learning import Examples

PLAN = Plan(batch=50, delay=100, retrain_every=500, weight=3)
STREAM = 2000


@pytest.fixture(scope="module")
def simulated() -> tuple[dict[str, Run], list[str], list[str]]:
    """4,000 generated tickets (Storage changes its words halfway), the last 2,000 streamed."""
    texts, labels = synthetic(4000)
    runs, truth, _ = simulate(texts, labels, stream=STREAM, plan=PLAN, variants=False)
    return runs, truth, texts[-STREAM:]


def test_learning_from_corrections_routes_the_last_tickets_better_than_the_frozen_model(simulated) -> None:  # noqa: ANN001
    runs, truth, _ = simulated
    last = slice(-1000, None)

    def right(run: Run) -> float:
        return sum(r == t for r, t in zip(run.routes[last], truth[last], strict=True)) / 1000

    assert right(runs["learning"]) > right(runs["frozen"]) + 0.05, (right(runs["learning"]), right(runs["frozen"]))
    assert runs["learning"].refits == [500, 1000, 1500]


def test_a_repeated_ticket_corrected_once_is_routed_right_the_next_time(simulated) -> None:  # noqa: ANN001
    runs, truth, texts = simulated
    run = runs["learning"]
    later = [(x, j) for x in run.learned for j in range(x.known_from, STREAM) if texts[j] == texts[x.ticket]]
    assert len(later) >= 5, "the generated stream should repeat some corrected tickets"
    assert all(run.routes[j] == truth[j] == x.category and run.by_learned_example[j] for x, j in later)


def test_corrections_arrive_only_after_the_delay_and_only_for_wrong_routes(simulated) -> None:  # noqa: ANN001
    runs, truth, _ = simulated
    run = runs["learning"]
    assert run.learned and all(x.source == "rerouted" for x in run.learned)
    assert all(PLAN.delay <= x.known_from - x.ticket < PLAN.delay + PLAN.batch for x in run.learned)
    assert all(run.routes[x.ticket] != truth[x.ticket] == x.category for x in run.learned)
    first = min(x.known_from for x in run.learned)
    assert not any(run.by_learned_example[:first]), "a learned example was used before any person had corrected a ticket"


def test_a_label_added_in_memory_is_found_for_the_same_words_and_the_newest_wins() -> None:
    texts, labels = synthetic(600, seed=5)
    model = fit(texts, labels)
    examples = Examples(model)
    examples.add(["Laptop  SCREEN broken!", "laptop screen broken"], ["Storage", "Hardware"], [None, None], ["rerouted", "rerouted"])
    queries = ["laptop screen broken", "printer jammed again"]
    found = examples.lookup_batch(queries, model.read(queries)[1])
    assert found[0] is not None and (found[0].category, found[0].similarity) == ("Hardware", 1.0)
    assert found[1] is None
    assert len(examples) == 1
