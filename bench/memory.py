"""Memory: retrieval quality and latency.

Quality: tickets from ``../shared/data/it_tickets/train.csv.gz`` are remembered (embedded with the
offline all-MiniLM-L6-v2, stored through ``MemoryStore.remember``); held-out tickets are the
queries. A neighbour is relevant when it shares the query's queue (category). recall@5 is the share of
queries with a relevant memory in the top 5; MRR the mean reciprocal rank of the first relevant one.
The baseline, measured in the same run, is chance: the same metrics for neighbours drawn at random
from the same memories.

Latency: writes (``remember``: reconciliation read + upsert) and recalls (team-filtered search +
ranking) at 10k and 100k memories spread over 10 teams, p50/p99 over a few hundred operations. The
collection is filled with random unit vectors (embedding 100k texts on 2 CPU cores would take most of
an hour; vector search cost does not depend on where a vector came from). The baseline is an exact
numpy top-k over the same team's vectors in the same process. Local mode always; a Qdrant server too
when ``QDRANT_URL`` is set.

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
from qdrant_client import models

from runtime.embeddings import LocalEmbedder
from services.memory.memory import Memory
from services.memory.settings import MemorySettings
from services.memory.store import Fact, MemoryStore

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "it_tickets" / "train.csv.gz"
TEAMS = [f"team-{i}" for i in range(10)]
DIMS = 384


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


async def latency(settings: MemorySettings, size: int, operations: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    store = MemoryStore(settings)
    await store.open(dimensions=DIMS, model="random-unit-vectors")
    memory = Memory(store, embedder=None, settings=settings)  # type: ignore[arg-type]  # ranking only: no embedding here
    try:
        vectors = unit_vectors(size, rng)
        teams = [TEAMS[i % len(TEAMS)] for i in range(size)]
        now = datetime.now(UTC)
        started = time.perf_counter()
        batch = 1000
        for start in range(0, size, batch):
            points = []
            for i in range(start, min(size, start + batch)):
                fact = Fact(team=teams[i], scope="ticket", subject=f"T-{i}", key="resolution", kind="resolution", text=f"memory {i}", source_event=f"e{i}", valid_from=now - timedelta(days=i % 90), ticket_id=f"T-{i}", requester_id=f"r{i % 500}")
                points.append(models.PointStruct(id=fact.point_id, vector=vectors[i].tolist(), payload=store._payload(fact)))  # noqa: SLF001
            await store.upsert(points)
        fill_s = time.perf_counter() - started
        writes, recalls, exact = [], [], []
        queries = unit_vectors(operations, rng)
        by_team = {t: np.asarray([i for i in range(size) if teams[i] == t]) for t in TEAMS}
        for n in range(operations):
            team = TEAMS[n % len(TEAMS)]
            fact = Fact(team=team, scope="ticket", subject=f"W-{n}", key="resolution", kind="resolution", text=f"new memory {n}", source_event=f"w{n}", valid_from=now, ticket_id=f"W-{n}", requester_id="r1")
            t0 = time.perf_counter()
            await store.remember(fact, queries[n].tolist())
            writes.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            hits = await store.search(team, queries[n].tolist(), limit=40)
            memory.rank(hits, None, "r1", None, now=now, token_budget=10_000, limit=10)
            recalls.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            idx = by_team[team]
            scores = vectors[idx] @ queries[n]
            top = idx[np.argpartition(-scores, 40)[:40]]
            _ = top[np.argsort(-(vectors[top] @ queries[n]))]
            exact.append((time.perf_counter() - t0) * 1000)
        return {
            "memories": size, "teams": len(TEAMS), "operations": operations, "fill_points_per_s": round(size / fill_s, 1),
            "write_ms_p50": percentile(writes, 50), "write_ms_p99": percentile(writes, 99),
            "recall_ms_p50": percentile(recalls, 50), "recall_ms_p99": percentile(recalls, 99),
            "numpy_exact_ms_p50": percentile(exact, 50), "numpy_exact_ms_p99": percentile(exact, 99),
            "recall_p50_vs_numpy": round(percentile(recalls, 50) / max(percentile(exact, 50), 1e-6), 1),
        }
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
    lines += ["", result["notes"], ""]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=5000, help="tickets remembered for the quality run")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--sizes", default="10000,100000", help="collection sizes for the latency runs")
    parser.add_argument("--operations", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="memory-bench-"))
    try:
        embedder = LocalEmbedder(max_seq_length=128)
        embedder.load()
        result: dict[str, Any] = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
                                  "args": " ".join(f"--{k}={v}" for k, v in vars(args).items() if k != "out")}
        print("quality ...", flush=True)
        result["quality"] = await quality(MemorySettings(qdrant_path=scratch / "quality", qdrant_url=None), embedder, args.memories, args.queries, args.seed)
        print(result["quality"], flush=True)
        result["latency"] = []
        backends = [("qdrant local mode", None)] + ([("qdrant server", os.environ["QDRANT_URL"])] if os.environ.get("QDRANT_URL") else [])
        for name, url in backends:
            for size in (int(s) for s in args.sizes.split(",")):
                print(f"latency {name} {size} ...", flush=True)
                settings = MemorySettings(qdrant_path=scratch / f"lat-{size}", qdrant_url=url, memory_collection=f"bench_{uuid.uuid4().hex[:8]}")
                row = {"backend": name, **await latency(settings, size, args.operations, args.seed)}
                print(row, flush=True)
                result["latency"].append(row)
        result["notes"] = (
            "Latency runs fill the collection with random unit vectors, not embedded texts (embedding 100k texts on this machine's CPUs "
            "would take most of an hour; search cost does not depend on where a vector came from). Write = one reconciled `remember` "
            "(read the fact's current point, then upsert). Recall = one team-filtered search for 40 candidates, then ranking (similarity, recency, scope) and token-budget packing of the best 10 (the query embedding, ~10 ms on this CPU, is not included). "
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
