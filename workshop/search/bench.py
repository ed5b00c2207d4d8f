"""`workshop bench search`: the backends side by side on 100k documents, in a child
process on a database of its own (`search_bench`, the `workshop` dataset plus generated
products), so the notebooks' databases stay as they are. Needs Elasticsearch for the
signals and outbox rows; without it only postgres is measured. The zombodb rows come from a
second child whose database is `search_bench` on the ZomboDB server (`workshop zombodb up`;
PostgreSQL 15), the same documents loaded the same way (workshop/search/zombodb_bench.py)."""

from __future__ import annotations

import sys

from workshop.bench import Result, benchmark, run_child

DB_NAME = "search_bench"
DOCUMENTS = 100_000

_CHILD = """
import json, workshop
workshop.setup("workshop", progress=True)
from workshop.search import benchmark
print(json.dumps(benchmark.run(%d)))
"""
_ZOMBODB_CHILD = """
import json, workshop
workshop.setup("workshop", progress=True)
from workshop.search import zombodb_bench
print(json.dumps(zombodb_bench.run(%d)))
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
    ("query_p95_ms", "zombodb"): (30, False),
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
    "writes_per_second": "docs/s",
    "write_overhead_ratio": "x",
}
ZOMBODB_ONLY = ("writes_per_second", "write_overhead_ratio")  # the price of indexing inside the transaction


def _child(documents: int) -> dict:
    return run_child(f"search bench: {documents:,} documents", _CHILD % documents, DB_NAME)


def _zombodb_child(documents: int) -> dict:
    """{"zombodb": metrics} when the ZomboDB server runs, else {} (its rows are then absent)."""
    from workshop.search import zombodb_db
    from workshop.services import postgres

    url = zombodb_db.database_url()
    if url is None:
        print(f"search bench: no zombodb rows ({zombodb_db.FIX_UP})", file=sys.stderr)
        return {}
    db = postgres.ensure_database(postgres.Database(url, "zombodb"), DB_NAME)
    env = {"WORKSHOP_DATABASE_URL": db.url}
    return {
        "zombodb": run_child(
            f"search bench, zombodb: {documents:,} documents", _ZOMBODB_CHILD % documents, DB_NAME, env=env
        )
    }


def results_from(measured: dict) -> list[Result]:
    out = []
    for backend in ("signals", "outbox", "postgres", "zombodb"):
        metrics = measured.get(backend)
        if not metrics:
            continue
        for metric, unit in UNITS.items():
            if metric not in metrics or (metric in ZOMBODB_ONLY and backend != "zombodb"):
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


def _names(backend: str, metrics: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"search.{backend}.{metric}" for metric in metrics)


ALL_METRICS = tuple(m for m in UNITS if m not in ZOMBODB_ONLY)
ZOMBODB_METRICS = tuple(UNITS)  # measured on its own server by zombodb_bench.py, write overhead included


# postgres always; the Elasticsearch backends and ZomboDB only where they run (a record says
# which by the rows it holds: each group is there whole or not at all)
@benchmark(
    "search",
    "search backends side by side on 100k documents: indexing, query and visibility latency, ranking (nDCG@10), "
    "disagreements",
    names=_names("postgres", ALL_METRICS),
    optional={
        "elasticsearch": _names("signals", ALL_METRICS) + _names("outbox", ALL_METRICS),
        "zombodb": _names("zombodb", ZOMBODB_METRICS),
    },
)
def bench_search() -> list[Result]:
    measured = _child(DOCUMENTS)
    measured.update(_zombodb_child(DOCUMENTS))
    return results_from(measured)


LIVE_QUERIES = ("wireless earbuds", "cast iron skillet", "standing desk", "yoga mat", "headphons")  # a typo too


def live(queries: tuple[str, ...] = LIVE_QUERIES, repeats: int = 3) -> list[Result]:
    """The notebook's small version (chapter 05): query latency (the search and the first 10 rows
    through the ORM, typo tolerance on) on a few queries, with every backend usable here; a
    backend that is not set up in this kernel gets a row saying why instead of a time."""
    import statistics
    import time

    from workshop.search import api
    from workshop.search.benchmark import percentile

    out = []
    for backend, why in api.backends().items():
        if why:
            out.append(Result(f"search.{backend}.query_p50_ms", float("nan"), "ms", note=why))
            continue
        try:
            for q in queries:  # warm-up: connections and caches
                list(api.products().search(q, backend=backend, fuzzy=True)[:10])
            timings = []
            for _ in range(repeats):
                for q in queries:
                    started = time.perf_counter()
                    list(api.products().search(q, backend=backend, fuzzy=True)[:10])
                    timings.append((time.perf_counter() - started) * 1000)
        except Exception as error:  # e.g. a backend this kernel has not installed: say so, go on
            out.append(Result(f"search.{backend}.query_p50_ms", float("nan"), "ms", note=f"{error}"))
            continue
        note = f"{len(queries)} queries x {repeats}; p95 {percentile(timings, 95):.1f} ms"
        out.append(Result(f"search.{backend}.query_p50_ms", statistics.median(timings), "ms", note=note))
    return out
