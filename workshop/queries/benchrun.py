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
    def run(page):
        logs = []
        for _ in range(runs):
            with record_queries() as log:
                rows = page(size)
            logs.append(log)
        return rows, logs

    naive_rows, naive = run(order_page_naive)
    fixed_rows, fixed = run(order_page_fixed)
    if naive_rows != fixed_rows:
        raise RuntimeError("the fixed page shows other rows than the naive one")
    return {
        "size": size,
        "naive_queries": naive[-1].count,
        "fixed_queries": fixed[-1].count,
        "naive": statistics.median(log.seconds for log in naive),
        "fixed": statistics.median(log.seconds for log in fixed),
        "suspects": len(naive[-1].suspects()),
    }


def run(rows: int, db_runs: int, page: int) -> dict:
    load_before = os.getloadavg()[0]
    aggregations = [measure_aggregation(a, rows, db_runs) for a in AGGREGATIONS]
    return {
        "aggregations": aggregations,
        "page": measure_page(page),
        "load": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }
