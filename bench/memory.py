"""Memory: retrieval quality and latency.

Quality: tickets from ``../shared/data/it_tickets/train.csv.gz`` are remembered (embedded with the
offline all-MiniLM-L6-v2, stored through ``MemoryStore.remember``); held-out tickets are the
queries. A neighbour is relevant when it shares the query's queue (category). recall@5 is the share of
queries with a relevant memory in the top 5; MRR the mean reciprocal rank of the first relevant one.
The baseline, measured in the same run, is chance: the same metrics for neighbours drawn at random
from the same memories.

Latency: writes and recalls (team-filtered search + ranking) at 10k and 100k memories spread over
10 teams, p50/p99 over a few hundred operations, on the embedded engine (Qdrant Edge, payload-indexed)
and, in the same run at 10k only, on the engine it replaced (qdrant-client's local mode, which scans
every point in Python; at 100k one recall costs seconds). The collection is filled with random unit
vectors (embedding 100k texts on 2 CPU cores would take most of an hour; vector search cost does not
depend on where a vector came from). A second baseline is an exact numpy top-k over the same team's
vectors in the same process. A Qdrant server too when ``QDRANT_URL`` is set.

Store throughput: facts/s through ``MemoryStore.remember_many`` (batches of ``--batch``) against one
``remember`` per fact, and the event loop's lag (how late a 5 ms timer fires) while a big batch is
written. End to end: facts/s through ``Memory.remember`` with the real embedder, for new texts and for
texts already embedded (the embedding cache).

Writes bench/results/memory.json and memory.md.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gzip
import json
import os
import platform
import random
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import AsyncQdrantClient, models

from contracts.envelope import Actor
from contracts.events import Requester, Resolution, Ticket, TicketCreated, TicketResolved
from runtime.embeddings import LocalEmbedder
from services.memory.engines import ServerEngine
from services.memory.memory import Memory
from services.memory.settings import MemorySettings
from services.memory.store import Fact, MemoryStore

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "it_tickets" / "train.csv.gz"
TEAMS = [f"team-{i}" for i in range(10)]
DIMS = 384
EDGE = "qdrant edge (embedded)"
LOCAL_MODE = "qdrant-client local mode (before)"


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 3)


def load_tickets(n_memories: int, n_queries: int, seed: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    with gzip.open(DATA, "rt", newline="") as fh:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(fh) if r["text"].strip()]
    random.Random(seed).shuffle(rows)
    return rows[:n_memories], rows[n_memories:n_memories + n_queries]


async def quality(store_settings: MemorySettings, embedder: LocalEmbedder, n_memories: int, n_queries: int, seed: int) -> dict[str, Any]:
    memories, queries = load_tickets(n_memories, n_queries, seed)
    store = MemoryStore(store_settings)
    await store.open(dimensions=embedder.dimensions, model=embedder.model)
    try:
        started = time.perf_counter()
        vectors = embedder.embed_sync([t for t, _ in memories]).vectors
        embed_s = time.perf_counter() - started
        now = datetime.now(UTC)
        points = []
        for i, ((text, category), vector) in enumerate(zip(memories, vectors, strict=True)):
            fact = Fact(team="it-support", scope="ticket", subject=f"Q-{i}", key="resolution", kind="resolution", text=text, source_event=f"e{i}", valid_from=now, ticket_id=f"Q-{i}", extra={"category": category})
            points.append(models.PointStruct(id=fact.point_id, vector=vector.tolist(), payload=store._payload(fact)))  # noqa: SLF001
        for chunk in range(0, len(points), 500):
            await store.upsert(points[chunk:chunk + 500])
        query_vectors = embedder.embed_sync([t for t, _ in queries]).vectors
        hits_at_5, rr, chance_hits, chance_rr = 0, 0.0, 0, 0.0
        rng = random.Random(seed + 1)
        categories = [c for _, c in memories]
        for (_, category), vector in zip(queries, query_vectors, strict=True):
            found = await store.search("it-support", vector.tolist(), limit=10)
            ranks = [i for i, h in enumerate(found, 1) if h["category"] == category]
            hits_at_5 += bool(ranks and ranks[0] <= 5)
            rr += 1 / ranks[0] if ranks else 0.0
            drawn = rng.sample(categories, 10)
            chance = [i for i, c in enumerate(drawn, 1) if c == category]
            chance_hits += bool(chance and chance[0] <= 5)
            chance_rr += 1 / chance[0] if chance else 0.0
        n = len(queries)
        return {
            "memories": len(memories), "queries": n, "relevant": "shares the query's queue (category)",
            "recall_at_5": round(hits_at_5 / n, 4), "mrr_at_10": round(rr / n, 4),
            "chance_recall_at_5": round(chance_hits / n, 4), "chance_mrr_at_10": round(chance_rr / n, 4),
            "recall_at_5_vs_chance": round((hits_at_5 / n) / max(chance_hits / n, 1e-9), 2),
            "embed_texts_per_s": round(len(memories) / embed_s, 1),
        }
    finally:
        await store.close()


def unit_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal((n, DIMS), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def open_store(backend: str, settings: MemorySettings) -> MemoryStore:
    """The store on ``backend``: Qdrant Edge (the embedded default), qdrant-client's local mode (the baseline), or a server."""
    if backend == LOCAL_MODE:
        return MemoryStore(settings, engine=ServerEngine(client=AsyncQdrantClient(path=str(settings.qdrant_path))))
    return MemoryStore(settings)


def bench_fact(n: int, team: str, now: datetime, prefix: str) -> Fact:
    return Fact(team=team, scope="ticket", subject=f"{prefix}-{n}", key="resolution", kind="resolution", text=f"{prefix} memory {n}", source_event=f"{prefix}{n}",
                valid_from=now - timedelta(days=n % 90), ticket_id=f"{prefix}-{n}", requester_id=f"r{n % 500}")


async def loop_lag(work: Any) -> dict[str, float]:
    """How late a 5 ms timer fires while ``work()`` runs: what every other handler of the service waits."""
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append((time.perf_counter() - t0 - 0.005) * 1000)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    t0 = time.perf_counter()
    result = await work()
    elapsed = time.perf_counter() - t0
    done.set()
    await task
    return {"work_s": round(elapsed, 3), "loop_lag_ms_p50": percentile(lags, 50), "loop_lag_ms_p99": percentile(lags, 99), "loop_lag_ms_max": round(max(lags), 3), "ticks": len(lags), "result": result}


async def latency(backend: str, settings: MemorySettings, size: int, operations: int, batch: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    store = open_store(backend, settings)
    await store.open(dimensions=DIMS, model="random-unit-vectors")
    memory = Memory(store, embedder=None, settings=settings)  # type: ignore[arg-type]  # ranking only: no embedding here
    try:
        vectors = unit_vectors(size, rng)
        teams = [TEAMS[i % len(TEAMS)] for i in range(size)]
        now = datetime.now(UTC)
        started = time.perf_counter()
        for start in range(0, size, 1000):
            points = [models.PointStruct(id=(f := bench_fact(i, teams[i], now, "T")).point_id, vector=vectors[i].tolist(), payload=store._payload(f))  # noqa: SLF001
                      for i in range(start, min(size, start + 1000))]
            await store.upsert(points)
        fill_s = time.perf_counter() - started
        writes, recalls, exact = [], [], []
        queries = unit_vectors(operations, rng)
        by_team = {t: np.asarray([i for i in range(size) if teams[i] == t]) for t in TEAMS}
        for n in range(operations):
            team = TEAMS[n % len(TEAMS)]
            fact = bench_fact(n, team, now, "W")
            t0 = time.perf_counter()
            await store.remember(fact, queries[n].tolist())
            writes.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            hits = await store.search(team, queries[n].tolist(), limit=40, requester_id="r1")
            memory.rank(hits, None, "r1", None, now=now, token_budget=10_000, limit=10)
            recalls.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            idx = by_team[team]
            scores = vectors[idx] @ queries[n]
            top = idx[np.argpartition(-scores, 40)[:40]]
            _ = top[np.argsort(-(vectors[top] @ queries[n]))]
            exact.append((time.perf_counter() - t0) * 1000)
        # Store throughput: the same number of new facts one remember() at a time, then in batches.
        count = 10 * batch
        fresh = unit_vectors(2 * count, rng)
        one = [(bench_fact(n, TEAMS[n % len(TEAMS)], now, "S"), fresh[n].tolist()) for n in range(count)]
        many = [(bench_fact(n, TEAMS[n % len(TEAMS)], now, "B"), fresh[count + n].tolist()) for n in range(count)]

        async def one_by_one() -> None:
            for fact, vector in one:
                await store.remember(fact, vector)

        async def batched() -> None:
            for start in range(0, count, batch):
                await store.remember_many(many[start:start + batch])

        single = await loop_lag(one_by_one)
        grouped = await loop_lag(batched)
        return {
            "memories": size, "teams": len(TEAMS), "operations": operations, "fill_points_per_s": round(size / fill_s, 1),
            "write_ms_p50": percentile(writes, 50), "write_ms_p99": percentile(writes, 99),
            "recall_ms_p50": percentile(recalls, 50), "recall_ms_p99": percentile(recalls, 99),
            "numpy_exact_ms_p50": percentile(exact, 50), "numpy_exact_ms_p99": percentile(exact, 99),
            "recall_p50_vs_numpy": round(percentile(recalls, 50) / max(percentile(exact, 50), 1e-6), 1),
            "facts": count, "batch": batch,
            "facts_per_s_one_by_one": round(count / single["work_s"], 1), "facts_per_s_batched": round(count / grouped["work_s"], 1),
            "loop_lag_one_by_one": {k: v for k, v in single.items() if k != "result"}, "loop_lag_batched": {k: v for k, v in grouped.items() if k != "result"},
        }
    finally:
        await store.close()


def resolved_events(texts: list[str], team: str, tag: str) -> list[TicketResolved]:
    """``ticket.resolved`` events as skills emits them, one per ticket text."""
    out = []
    for n, text in enumerate(texts):
        ticket_id = f"{tag}-{n}"
        created = TicketCreated.create(Ticket(ticket_id=ticket_id, title=text[:200], requester=Requester(id=f"r{n % 50}", email=f"r{n % 50}@acme.example")),
                                       source="/bench", team=team, actor=Actor.system("bench"), correlation_id=ticket_id, subject=ticket_id)
        out.append(created.caused(TicketResolved, Resolution(ticket_id=ticket_id, ticket=created.data, resolution="Resolved as before.", skill="bench"), source="/services/skills", actor=Actor.coworker("jordan")))
    return out


async def end_to_end(settings: MemorySettings, embedder: LocalEmbedder, tickets: int, batch: int, seed: int) -> dict[str, Any]:
    """facts/s through ``Memory.remember`` as the ``ticket.resolved`` handler calls it (a resolution
    and the requester's copy per ticket, one embedding for both), new texts then the same again."""
    texts = [t for t, _ in load_tickets(tickets, 0, seed + 2)[0]]
    store = MemoryStore(settings)
    await store.open(dimensions=embedder.dimensions, model=embedder.model)
    memory = Memory(store, embedder, settings)
    try:
        rows = {}
        for label, events in (("new texts", resolved_events(texts, "it-support", "E")), ("texts embedded before (cache)", resolved_events(texts, "it-support", "F"))):
            facts = 0

            async def work(events: list[TicketResolved] = events) -> int:
                stored = 0
                for start in range(0, len(events), batch):
                    pairs = [(e, f) for e in events[start:start + batch] for f in (memory.resolved_fact(e), *memory.requester_facts(e))]
                    await memory.remember(pairs)
                    stored += len(pairs)
                return stored

            measured = await loop_lag(work)
            facts = measured.pop("result")
            rows[label] = {"tickets": len(events), "facts": facts, "facts_per_s": round(facts / measured["work_s"], 1), **measured}
        rows["cache"] = {"hits": memory.embeddings.hits, "misses": memory.embeddings.misses}
        return rows
    finally:
        await store.close()


def markdown(result: dict[str, Any]) -> str:
    q = result["quality"]
    lines = [
        "# Memory benchmark", "",
        f"{result['at']} on {result['machine']}. `python -m bench.memory` ({result['args']}).", "",
        "## Retrieval quality", "",
        f"{q['memories']} tickets remembered, {q['queries']} held-out tickets as queries; a neighbour is relevant when it {q['relevant']}.", "",
        "| metric | memory | chance (same run) | ratio |", "| --- | ---: | ---: | ---: |",
        f"| recall@5 | {q['recall_at_5']} | {q['chance_recall_at_5']} | {q['recall_at_5_vs_chance']} |",
        f"| MRR@10 | {q['mrr_at_10']} | {q['chance_mrr_at_10']} | {round(q['mrr_at_10'] / max(q['chance_mrr_at_10'], 1e-9), 2)} |", "",
        f"Embedding throughput: {q['embed_texts_per_s']} texts/s (all-MiniLM-L6-v2, CPU).", "",
        "## Latency (random unit vectors, 384 dimensions, 10 teams)", "",
        "| backend | memories | fill points/s | write p50 / p99 ms | recall p50 / p99 ms | numpy exact p50 / p99 ms | recall p50 ÷ numpy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result["latency"]:
        lines.append(f"| {row['backend']} | {row['memories']} | {row['fill_points_per_s']} | {row['write_ms_p50']} / {row['write_ms_p99']} | {row['recall_ms_p50']} / {row['recall_ms_p99']} | {row['numpy_exact_ms_p50']} / {row['numpy_exact_ms_p99']} | {row['recall_p50_vs_numpy']} |")
    lines += ["", "## Store throughput and the event loop", "",
              "New facts stored into the filled collection, one `remember` per fact against `remember_many` in batches; loop lag = how late a 5 ms timer fired meanwhile.", "",
              "| backend | memories | facts | one by one facts/s | batched facts/s | batched ÷ one by one | loop lag p99 / max ms, one by one | loop lag p99 / max ms, batched |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in result["latency"]:
        a, b = row["loop_lag_one_by_one"], row["loop_lag_batched"]
        lines.append(f"| {row['backend']} | {row['memories']} | {row['facts']} (batches of {row['batch']}) | {row['facts_per_s_one_by_one']} | {row['facts_per_s_batched']} | "
                     f"{round(row['facts_per_s_batched'] / max(row['facts_per_s_one_by_one'], 1e-9), 1)} | {a['loop_lag_ms_p99']} / {a['loop_lag_ms_max']} | {b['loop_lag_ms_p99']} / {b['loop_lag_ms_max']} |")
    e = result["end_to_end"]
    lines += ["", "## End to end: `Memory.remember` with the real embedder", "",
              "`ticket.resolved` events as the handler stores them (the resolution and the requester's copy: two facts, one embedding), on Qdrant Edge.", "",
              "| texts | tickets | facts | facts/s | loop lag p99 / max ms |", "| --- | ---: | ---: | ---: | ---: |"]
    for label in ("new texts", "texts embedded before (cache)"):
        row = e[label]
        lines.append(f"| {label} | {row['tickets']} | {row['facts']} | {row['facts_per_s']} | {row['loop_lag_ms_p99']} / {row['loop_lag_ms_max']} |")
    lines += ["", f"Embedding cache: {e['cache']['hits']} hits, {e['cache']['misses']} misses.", "", result["notes"], ""]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=5000, help="tickets remembered for the quality run")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--sizes", default="10000,100000", help="collection sizes for the latency runs on the embedded engine")
    parser.add_argument("--baseline-sizes", default="10000", help="sizes for qdrant-client local mode (at 100k one recall costs seconds)")
    parser.add_argument("--operations", type=int, default=300)
    parser.add_argument("--batch", type=int, default=200, help="facts per remember_many, as a consumer batch brings them")
    parser.add_argument("--tickets", type=int, default=400, help="resolved tickets stored end to end with the real embedder")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="memory-bench-"))
    try:
        embedder = LocalEmbedder(max_seq_length=128)
        embedder.load()
        result: dict[str, Any] = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
                                  "args": " ".join(f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k != "out")}
        print("quality ...", flush=True)
        result["quality"] = await quality(MemorySettings(qdrant_path=scratch / "quality", qdrant_url=None), embedder, args.memories, args.queries, args.seed)
        print(result["quality"], flush=True)
        print("end to end ...", flush=True)
        result["end_to_end"] = await end_to_end(MemorySettings(qdrant_path=scratch / "e2e", qdrant_url=None), embedder, args.tickets, max(1, args.batch // 2), args.seed)
        print(result["end_to_end"], flush=True)
        result["latency"] = []
        runs = [(LOCAL_MODE, None, size) for size in args.baseline_sizes.split(",") if size] + [(EDGE, None, size) for size in args.sizes.split(",")]
        runs += [("qdrant server", os.environ["QDRANT_URL"], size) for size in args.sizes.split(",")] if os.environ.get("QDRANT_URL") else []
        for name, url, size in runs:
            print(f"latency {name} {size} ...", flush=True)
            settings = MemorySettings(qdrant_path=scratch / f"lat-{uuid.uuid4().hex[:8]}", qdrant_url=url, memory_collection=f"bench_{uuid.uuid4().hex[:8]}")
            row = {"backend": name, **await latency(name, settings, int(size), args.operations, args.batch, args.seed)}
            print(row, flush=True)
            result["latency"].append(row)
        result["notes"] = (
            "Latency runs fill the collection with random unit vectors, not embedded texts (embedding 100k texts on this machine's CPUs "
            "would take most of an hour; search cost does not depend on where a vector came from). Write = one reconciled `remember` "
            "(one read of the fact's current point, one upsert). Recall = one team-filtered search for 40 candidates (current facts, requester scope only for the requester), then ranking "
            "(similarity, recency, scope) and token-budget packing of the best 10 (the query embedding, ~10 ms on this CPU, is not included). "
            "qdrant-client local mode is measured at the baseline sizes only: it evaluates filters in Python over every point and blocks the event loop while it does. "
            "Qdrant Edge runs on one worker thread; its segments are not HNSW-indexed here (no optimizer run), so a recall scores the team's points found through the "
            "tenant index exactly: it grows with the team's size, not the collection's. "
            + ("A Qdrant server was measured at QDRANT_URL." if os.environ.get("QDRANT_URL") else "No Qdrant server was measured: QDRANT_URL was not set in this run.")
        )
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "memory.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / "memory.md").write_text(markdown(result))
        print(markdown(result))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
