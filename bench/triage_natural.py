"""Plain employee tickets, and text that is not a ticket at all, through triage's own decision path.

1. **Natural tickets** (bench/data/natural_tickets.jsonl, written by hand, never trained or tuned
   on): each with the skill that serves it, or none (a near-miss a person must take). A ticket is
   *right* when triage routes it to that skill or asks the question that skill needs (a split into
   children counts when the skill is among them; onboarding when it expands); *wrong* when it goes
   to another skill (a near-miss routed anywhere is wrong); otherwise *escalated*.
2. **Out of scope** (bench/data/out_of_scope.txt): the share escalated or answered as not a
   ticket, and what the not-a-ticket gate costs real tickets: the share of held-out IT tickets (the
   split `workforce triage train` holds out) and of natural tickets routed, with and without the
   gate, in the same run.
3. **Cost**: microseconds per ticket for reading + deciding, beside the classifier alone.

The decisions are the service's: the shipped model, the shipped static embedding, the example
workforce's coworkers (all active), the catalog in deploy/workforce. Results:
bench/results/triage-natural.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from contracts.catalog import Catalog, load_catalog
from contracts.envelope import Actor
from contracts.events import Requester, Ticket, TicketCreated
from deploy.stack import ROOT
from services.triage.batch import Decided, triage_batch
from services.triage.classifier import CategoryModel
from services.triage.decisions import Policy, Reading, Triager
from services.triage.embedding import StaticEmbedder
from services.triage.learning import Examples
from services.triage.reading import OfflineReader
from services.triage.router import SkillRouter, training_data
from services.triage.settings import DEFAULT_CATALOG, DEFAULT_EMBEDDING, DEFAULT_MODEL
from services.triage.train import read_csv, split

DATA = Path(__file__).parent / "data"
RESULTS = Path(__file__).parent / "results"
IT_TICKETS = ROOT.parent / "shared" / "data" / "it_tickets" / "train.csv.gz"


def coworker_table() -> dict[str, Any]:
    """The example workforce, every coworker active, as governance would announce it."""
    from datetime import UTC, datetime

    from contracts.coworkers import LifecycleState
    from contracts.events import CoworkerState
    from deploy.coworkers import example_workforce

    now = datetime.now(UTC)
    return {m.name: CoworkerState(coworker=m.name, revision=1, state=LifecycleState("active"), active_version=1, active=m, changed_at=now) for m in example_workforce().values()}


def event(n: int, title: str, description: str, country: str = "US") -> TicketCreated:
    ticket_id = f"NT-{n:05d}"
    requester = Requester(id="ana.silva", email="ana.silva@acme.example", name="Ana Silva", country=country)
    return TicketCreated.create(Ticket(ticket_id=ticket_id, title=(title or description or "(no title)")[:200], description=description[:2000], requester=requester), source="/bench", team="it-support", actor=Actor.system("bench"), correlation_id=ticket_id, subject=ticket_id)


def routed_skills(done: Decided) -> list[str]:
    """The skills the ticket was sent to: a route, a question for a skill, or a split's children."""
    skills: list[str] = []
    for out in done.outcome.events:
        if out.type in ("ticket.triaged", "ticket.question"):
            skills.append(out.data.skill)
        elif out.type == "ticket.split":
            skills += [c.skill for c in out.data.children]
    return list(dict.fromkeys(skills))


def verdict(done: Decided, expected: str | None, catalog: Catalog) -> str:
    skills = routed_skills(done)
    if not skills:
        return "escalated"
    if expected is None:
        return "wrong"
    spec = catalog.get(expected)
    parts = {p.replace("{country}", c) for p in (spec.expands_to if spec else []) for c in ("us", "in")}
    return "right" if expected in skills or (parts and set(skills) <= parts) else "wrong"


def share(counts: Counter, key: str) -> float:
    total = sum(counts.values())
    return round(counts[key] / total, 4) if total else 0.0


class Bench:
    def __init__(self, model: CategoryModel, catalog: Catalog, router: SkillRouter) -> None:
        self.model, self.catalog, self.router = model, catalog, router
        self.reader = OfflineReader(model, Examples(model), router)
        self.triager = Triager(catalog, Policy(threshold=model.threshold, queue="service-desk", model="tfidf-linearsvc", model_version=model.version, source="/bench"))
        self.table = coworker_table()

    def decide(self, events: list[TicketCreated], *, gate: bool = True) -> list[Decided]:
        done = asyncio.run(triage_batch(self.reader, self.triager, events, self.table))
        if gate:
            return done
        # The same tickets with the not-a-ticket gate switched off: what it costs real tickets.
        return [Decided(d.event, d.reading, self.triager.decide(d.event, d.event.data, ungated(d.reading), self.table), d.spent) for d in done]


def ungated(reading: Reading) -> Reading:
    return replace(reading, route=replace(reading.route, rejected=False)) if reading.route is not None else reading


def natural(bench: Bench, rows: list[dict[str, Any]]) -> dict[str, Any]:
    events = [event(n, r["title"], r.get("description", "")) for n, r in enumerate(rows)]
    started = time.perf_counter()
    done = bench.decide(events)
    seconds = time.perf_counter() - started
    overall, skill_tickets, near = Counter(), Counter(), Counter()
    by_skill: dict[str, Counter] = defaultdict(Counter)
    by_style: dict[str, Counter] = defaultdict(Counter)
    by_lang: dict[str, Counter] = defaultdict(Counter)
    mistakes = []
    for row, d in zip(rows, done, strict=True):
        v = verdict(d, row["skill"], bench.catalog)
        overall[v] += 1
        (skill_tickets if row["skill"] else near)[v] += 1
        by_skill[row["skill"] or "(none: near-miss)"][v] += 1
        if row["skill"]:  # styles and languages of the tickets a skill exists for
            by_style[row.get("style", "?")][v] += 1
            by_lang[row.get("lang", "?")][v] += 1
        if v == "wrong":
            mistakes.append({"id": row["id"], "expected": row["skill"], "got": routed_skills(d), "text": (row["title"] + " | " + row.get("description", ""))[:160]})
    table = lambda groups: {k: {"tickets": sum(c.values()), "right": share(c, "right"), "wrong": share(c, "wrong"), "escalated": share(c, "escalated")} for k, c in sorted(groups.items())}  # noqa: E731
    return {
        "tickets": len(rows),
        "skill_tickets": sum(skill_tickets.values()),
        "near_misses": sum(near.values()),
        "right_skill": share(skill_tickets, "right"),
        "wrong_skill": share(skill_tickets, "wrong"),
        "escalated": share(skill_tickets, "escalated"),
        "near_misses_escalated": share(near, "escalated"),
        "near_misses_routed": share(near, "wrong"),
        "wrong_of_all": share(overall, "wrong"),
        "per_skill": table(by_skill),
        "per_style": table(by_style),
        "per_language": table(by_lang),
        "wrong_routes": mistakes,
        "microseconds_per_ticket": round(seconds / len(rows) * 1e6, 1),
    }


def routed_share(done: list[Decided]) -> float:
    return round(sum(1 for d in done if routed_skills(d)) / len(done), 4) if done else 0.0


def out_of_scope(bench: Bench, lines: list[str], holdout: list[str], naturals: list[dict[str, Any]]) -> dict[str, Any]:
    done = bench.decide([event(n, line[:200], "") for n, line in enumerate(lines)])
    codes = Counter(next((o.data.reason_code for o in d.outcome.events if o.type == "ticket.escalated"), "routed") for d in done)
    routed = [{"text": d.event.data.title, "to": routed_skills(d)} for d in done if routed_skills(d)]
    held = [event(n, t[:80] or "ticket", t) for n, t in enumerate(holdout)]
    nat = [event(n, r["title"], r.get("description", "")) for n, r in enumerate(naturals) if r["skill"]]
    with_gate, without_gate = bench.decide(held), bench.decide(held, gate=False)
    nat_with, nat_without = bench.decide(nat), bench.decide(nat, gate=False)
    return {
        "out_of_scope_lines": len(lines),
        "escalated_or_not_a_ticket": round(1 - len(routed) / len(lines), 4),
        "by_outcome": dict(codes.most_common()),
        "routed_examples": routed[:40],
        "it_holdout_tickets": len(held),
        "it_holdout_routed_with_gate": routed_share(with_gate),
        "it_holdout_routed_without_gate": routed_share(without_gate),
        "natural_tickets_routed_with_gate": routed_share(nat_with),
        "natural_tickets_routed_without_gate": routed_share(nat_without),
    }


def cost(bench: Bench, texts: list[str], rounds: int = 3) -> dict[str, float]:
    events = [event(n, t[:80] or "ticket", t) for n, t in enumerate(texts)]
    best_all, best_model = float("inf"), float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        bench.decide(events)
        best_all = min(best_all, time.perf_counter() - started)
        started = time.perf_counter()
        bench.model.predict(texts)
        best_model = min(best_model, time.perf_counter() - started)
    per = lambda s: round(s / len(texts) * 1e6, 1)  # noqa: E731
    return {"tickets": len(texts), "read_and_decide_us_per_ticket": per(best_all), "classifier_only_us_per_ticket": per(best_model), "ratio": round(best_all / best_model, 2), "tickets_per_second": round(len(texts) / best_all, 1)}


def markdown(report: dict[str, Any]) -> str:
    n, o, c = report["natural"], report["out_of_scope"], report["cost"]
    lines = [
        "# Triage on plain employee tickets and on text that is not a ticket",
        "",
        f"Run {report['at']} on {report['machine']}; model {report['model_version']}, embedding {report['embedding']}; router {report['router']}.",
        "",
        f"## Natural tickets ({n['tickets']}: {n['skill_tickets']} for a skill, {n['near_misses']} near-misses no skill serves)",
        "",
        "| measure | result | target |",
        "| --- | --- | --- |",
        f"| to the right skill (or its question) | {n['right_skill']:.1%} | ≥ 90% |",
        f"| to a wrong skill | {n['wrong_skill']:.1%} | ≤ 2% |",
        f"| escalated to a person | {n['escalated']:.1%} | the rest |",
        f"| near-misses escalated | {n['near_misses_escalated']:.1%} | |",
        f"| wrong routes of all tickets (skill + near-miss) | {n['wrong_of_all']:.1%} | ≤ 2% |",
        "",
        "| skill | tickets | right | wrong | escalated |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {k} | {v['tickets']} | {v['right']:.0%} | {v['wrong']:.0%} | {v['escalated']:.0%} |" for k, v in n["per_skill"].items()],
        "",
        "Tickets a skill exists for, by how they are written:",
        "",
        "| style | tickets | right | wrong | escalated |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {k} | {v['tickets']} | {v['right']:.0%} | {v['wrong']:.0%} | {v['escalated']:.0%} |" for k, v in n["per_style"].items()],
        "",
        "| language | tickets | right | wrong | escalated |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {k} | {v['tickets']} | {v['right']:.0%} | {v['wrong']:.0%} | {v['escalated']:.0%} |" for k, v in n["per_language"].items()],
        "",
        f"## Out of scope ({o['out_of_scope_lines']} lines that are not workplace requests)",
        "",
        f"- escalated or answered as not a ticket: **{o['escalated_or_not_a_ticket']:.1%}** (target ≥ 98%); by outcome: {o['by_outcome']}",
        f"- held-out IT tickets routed: {o['it_holdout_routed_with_gate']:.1%} with the not-a-ticket gate, {o['it_holdout_routed_without_gate']:.1%} without (of {o['it_holdout_tickets']:,}; target: a drop of at most one point)",
        f"- natural tickets routed: {o['natural_tickets_routed_with_gate']:.1%} with the gate, {o['natural_tickets_routed_without_gate']:.1%} without",
        "",
        "## Cost per ticket (same run, one process)",
        "",
        f"- reading and deciding (classifier + router + gate + decision): **{c['read_and_decide_us_per_ticket']} µs** a ticket ({c['tickets_per_second']:,.0f} tickets/s), the classifier alone {c['classifier_only_us_per_ticket']} µs (×{c['ratio']})",
        "",
        "Wrong routes are listed in triage-natural.json (`natural.wrong_routes`).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--natural", type=Path, default=DATA / "natural_tickets.jsonl")
    parser.add_argument("--out-of-scope", type=Path, default=DATA / "out_of_scope.txt")
    parser.add_argument("--it-tickets", type=Path, default=IT_TICKETS, help="the labelled history the shipped model was trained on; its held-out split is re-made here")
    parser.add_argument("--holdout-tickets", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="triage-natural", help="result files' name (a tuning run on the development set writes elsewhere)")
    parser.add_argument("--quick", action="store_true", help="natural tickets only (no out-of-scope or cost runs)")
    args = parser.parse_args()

    catalog = load_catalog(DEFAULT_CATALOG)
    model = CategoryModel.load(DEFAULT_MODEL)
    started = time.perf_counter()
    router = SkillRouter(StaticEmbedder(DEFAULT_EMBEDDING), training_data(catalog))
    fit_seconds = time.perf_counter() - started
    bench = Bench(model, catalog, router)
    rows = [json.loads(line) for line in args.natural.read_text(encoding="utf-8").splitlines() if line.strip()]
    report = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "model_version": model.version,
        "embedding": DEFAULT_EMBEDDING.name,
        "router": router.trained | {"fit_seconds": round(fit_seconds, 1)},
        "natural_set": str(args.natural.relative_to(ROOT) if args.natural.is_relative_to(ROOT) else args.natural),
        "natural": natural(bench, rows),
    }
    if args.quick:
        n = report["natural"]
        print(f"right {n['right_skill']:.1%}  wrong {n['wrong_skill']:.1%}  escalated {n['escalated']:.1%}  near-misses routed {n['near_misses_routed']:.1%}  wrong of all {n['wrong_of_all']:.1%}")
        print(json.dumps({k: v for k, v in n["per_style"].items()}, indent=None))
        return
    lines = [line.strip() for line in args.out_of_scope.read_text(encoding="utf-8").splitlines() if line.strip()]
    _, held = split(read_csv(args.it_tickets), 0.2, 42)
    holdout = held.texts[: args.holdout_tickets]
    report["out_of_scope"] = out_of_scope(bench, lines, holdout, rows)
    report["cost"] = cost(bench, holdout[:2000])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (args.out / f"{args.name}.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
