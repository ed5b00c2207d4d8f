"""The body of `workshop bench queries`, run in the child process once Django is set up."""

from __future__ import annotations

import os
import statistics
import sys
import time

from workshop.queries.aggregations import AGGREGATIONS, bound_for
from workshop.queries.inspector import record_queries
from workshop.queries.pages import order_page_fixed, order_page_naive


def _timed(func, *args):
    started = time.perf_counter()
    value = func(*args)
    return time.perf_counter() - started, value


def measure_aggregation(aggregation, rows: int, rounds: int) -> dict:
    """Rounds of (database, values_list loop), interleaved so that a burst of load on this
    shared machine hits both sides alike; medians of each. The model-instance loop runs once
    (it takes long enough to average itself)."""
    limit, covered = bound_for(aggregation, rows)
    aggregation.db(limit)  # warm-up: the pages in PostgreSQL's cache, as for the loops after it
    db_runs, values_runs = [], []
    for _ in range(rounds):
        db_runs.append(_timed(aggregation.db, limit))
        values_runs.append(_timed(aggregation.values, limit))
    models_seconds, in_models = _timed(aggregation.models, limit)
    db, in_db = _median(db_runs)
    values_seconds, in_values = _median(values_runs)
    if not in_db == in_models == in_values:
        raise RuntimeError(
            f"{aggregation.name}: the three computations disagree; the timings would compare different work"
        )
    print(
        f"  {aggregation.name}: db {db:.3f} s {[round(r[0], 3) for r in db_runs]}, models {models_seconds:.1f} s, "
        f"values_list {values_seconds:.1f} s {[round(r[0], 1) for r in values_runs]}",
        file=sys.stderr,
        flush=True,
    )
    return {
        "name": aggregation.name,
        "rows": covered,
        "unit": aggregation.rows,
        "db": db,
        "db_runs": rounds,
        "models": models_seconds,
        "values": values_seconds,
        "groups": len(in_db),
    }


def _median(runs: list[tuple[float, dict]]) -> tuple[float, dict]:
    return sorted(runs, key=lambda run: run[0])[len(runs) // 2]


def measure_page(size: int, runs: int = 3) -> dict:
    """The N+1 page against its fix. Timed without the query inspector, whose wrapper walks the
    stack on every query (a cost paid per query: 200 times by the naive page, twice by the
    fixed one); each timed render is followed by one under the inspector, which counts the
    queries and shows what recording costs. One warm-up render of each first; then the two
    pages take turns, so a burst of load on a shared machine hits both; medians."""
    pages = {"naive": order_page_naive, "fixed": order_page_fixed}
    for page in pages.values():
        page(size)
    plain: dict[str, list[float]] = {name: [] for name in pages}
    recorded: dict[str, list[float]] = {name: [] for name in pages}
    rows, logs = {}, {}
    for _ in range(runs):
        for name, page in pages.items():
            elapsed, rows[name] = _timed(page, size)
            plain[name].append(elapsed)
            with record_queries() as logs[name]:
                page(size)
            recorded[name].append(logs[name].seconds)
    if rows["naive"] != rows["fixed"]:
        raise RuntimeError("the fixed page shows other rows than the naive one")
    return {
        "size": size,
        "naive_queries": logs["naive"].count,
        "fixed_queries": logs["fixed"].count,
        "naive": statistics.median(plain["naive"]),
        "fixed": statistics.median(plain["fixed"]),
        "naive_recorded": statistics.median(recorded["naive"]),
        "fixed_recorded": statistics.median(recorded["fixed"]),
        "runs": runs,
        "suspects": len(logs["naive"].suspects()),
    }


def run(rows: int, db_runs: int, page: int) -> dict:
    load_before = os.getloadavg()[0]
    aggregations = [measure_aggregation(a, rows, db_runs) for a in AGGREGATIONS]
    return {
        "aggregations": aggregations,
        "page": measure_page(page),
        "load": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }
