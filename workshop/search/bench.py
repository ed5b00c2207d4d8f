"""`workshop bench search`: the backends side by side on 100k documents, in a child
process on a database of its own (`search_bench`, the `workshop` dataset plus generated
products), so the notebooks' databases stay as they are. Needs Elasticsearch for the
signals and outbox rows; without it only postgres is measured."""

from __future__ import annotations

from workshop.bench import Result, benchmark, run_child

DB_NAME = "search_bench"
DOCUMENTS = 100_000

_CHILD = """
import json, workshop
workshop.setup("workshop", progress=True)
from workshop.search import benchmark
print(json.dumps(benchmark.run(%d)))
"""

GOALS = {  # (metric, backend): (goal, higher is better)
    ("index_docs_per_second", "outbox"): (5000, True),
    ("visible_lag_p95_ms", "outbox"): (1500, False),
    ("visible_lag_misses", "outbox"): (0, False),
    ("query_p95_ms", "outbox"): (30, False),
    ("query_p95_ms", "signals"): (30, False),
    ("query_p95_ms", "postgres"): (30, False),
    ("disagreements", "outbox"): (0, False),
    ("disagreements", "postgres"): (0, False),
    ("disagreements", "zombodb"): (0, False),
}
UNITS = {
    "index_docs_per_second": "docs/s",
    "query_p50_ms": "ms",
    "query_p95_ms": "ms",
    "visible_lag_p50_ms": "ms",
    "visible_lag_p95_ms": "ms",
    "visible_lag_misses": "probes",
    "ndcg_at_10": "nDCG",
    "ndcg_at_10_flat": "nDCG",
    "disagreements": "docs",
}


def _child(documents: int) -> dict:
    return run_child(f"search bench: {documents:,} documents", _CHILD % documents, DB_NAME)


def results_from(measured: dict) -> list[Result]:
    out = []
    for backend in ("signals", "outbox", "postgres", "zombodb"):
        metrics = measured.get(backend)
        if not metrics:
            continue
        for metric, unit in UNITS.items():
            if metric not in metrics:
                continue
            value = metrics[metric]
            note = metrics.get("note", "") if metric == "index_docs_per_second" else ""
            if metric.startswith("ndcg") and "judged_queries" in metrics:
                note = f"{metrics['judged_queries']} judged queries (workshop/search/judgments.json)"
                note += ", title over brand over description" if metric == "ndcg_at_10" else ", every field the same"
            goal = GOALS.get((metric, backend))
            if goal:
                target, higher = goal
                met = value >= target if higher else value <= target
                note = (
                    (note + "; " if note else "")
                    + f"goal {'>=' if higher else '<='} {target:,}: "
                    + ("met" if met else "NOT met")
                )
            out.append(Result(f"search.{backend}.{metric}", float(value), unit, note=note))
    return out


@benchmark(
    "search",
    "search backends side by side on 100k documents: indexing, query and visibility latency, ranking (nDCG@10), "
    "disagreements",
)
def bench_search() -> list[Result]:
    return results_from(_child(DOCUMENTS))
