"""`workshop bench queries`: aggregations in the database against the same computation in
Python over model instances and over values_list rows; the N+1 page against its fix.

Runs in a child process on database `workshop_bench` with the `bench` dataset (1M customers,
2M orders, ~4.8M items; loading is idempotent and shared with the anonymize benchmark).
Every aggregation covers the same fixed slice of about 1M rows in all three forms (customers
and orders by primary key, order items as the items of the first orders: see
aggregations.bound_for), so the Python loops stay within minutes; the three results are
compared before the timings count. The database runs with the server's settings as they are
(work_mem 16MB on the embedded server): no tuning for the benchmark.
"""

from __future__ import annotations

import os

from workshop.bench import Result, benchmark, run_child

DB_NAME = "workshop_bench"
ROWS = 1_000_000
DB_RUNS = 3  # rounds of (database, values_list loop) after a warm-up; medians are reported
PAGE = 50  # orders on the N+1 page

_CHILD = """
import json, sys
import workshop
workshop.setup("bench", progress=True)
from workshop.queries.benchrun import run
print(json.dumps(run(%d, %d, %d)))
"""


def _child(rows: int = ROWS, db_runs: int = DB_RUNS, page: int = PAGE, db_name: str = DB_NAME) -> dict:
    return run_child(f"queries bench: {rows:,}-row slices", _CHILD % (rows, db_runs, page), db_name)


def results(measured: dict) -> list[Result]:
    out: list[Result] = []
    aggregations = measured["aggregations"]
    for a in aggregations:
        out.append(
            Result(
                f"queries.{a['name']}.vs_models",
                a["db"],
                "s",
                baseline=a["models"],
                ratio=a["models"] / a["db"],
                note=f"{a['rows']:,} {a['unit']}: database {a['db']:.3f} s (median of {a['db_runs']}, interleaved with the values_list runs), "
                f"model-instance loop {a['models']:.1f} s (one run), values_list loop {a['values']:.1f} s (median of 3)",
            )
        )
        out.append(
            Result(
                f"queries.{a['name']}.vs_values_list", a["db"], "s", baseline=a["values"], ratio=a["values"] / a["db"]
            )
        )
    load = measured.get("load", ["?", "?"])
    worst_models = min(aggregations, key=lambda a: a["models"] / a["db"])
    worst_values = min(aggregations, key=lambda a: a["values"] / a["db"])
    out.append(
        Result(
            "queries.db_vs_python_ratio",
            worst_models["models"] / worst_models["db"],
            "x",
            note=f"smallest over {len(aggregations)} aggregations ({worst_models['name']}); goal >= 20x; "
            f"{os.cpu_count()} cores, load average {load[0]} at the start, {load[1]} at the end",
        )
    )
    out.append(
        Result(
            "queries.db_vs_values_list_ratio",
            worst_values["values"] / worst_values["db"],
            "x",
            note=f"smallest ({worst_values['name']}); goal >= 5x",
        )
    )
    page = measured["page"]
    out.append(
        Result(
            "queries.nplus1_queries",
            page["naive_queries"],
            "queries",
            note=f"{page['size']}-order page: {page['naive_queries']} queries in {page['naive']:.3f} s "
            f"(median of {page.get('runs', '?')} renders alternating with the fix, timed without the query "
            f"inspector; recorded by it, {page.get('naive_recorded', float('nan')):.3f} s; "
            f"N+1 suspects flagged: {page['suspects']})",
        )
    )
    out.append(
        Result(
            "queries.prefetch_queries",
            page["fixed_queries"],
            "queries",
            baseline=page["naive_queries"],
            ratio=page["naive"] / page["fixed"],
            note=f"select_related + prefetch_related: {page['fixed_queries']} queries in {page['fixed']:.3f} s "
            f"(recorded: {page.get('fixed_recorded', float('nan')):.3f} s; ratio = time without the inspector); "
            f"goal <= 3 queries",
        )
    )
    return out


AGGREGATION_NAMES = ("revenue_by_month", "lost_orders_by_month", "top_spenders", "signups_by_year_gender")


@benchmark(
    "queries",
    "aggregations in the database vs Python loops (model instances, values_list); N+1 vs prefetch",
    names=(
        *(f"queries.{a}.{vs}" for a in AGGREGATION_NAMES for vs in ("vs_models", "vs_values_list")),
        "queries.db_vs_python_ratio",
        "queries.db_vs_values_list_ratio",
        "queries.nplus1_queries",
        "queries.prefetch_queries",
    ),
)
def bench_queries() -> list[Result]:
    return results(_child())


def live(rows: int = 120_000, page: int = 50) -> list[Result]:
    """The notebook's small version (chapter 04): revenue by month over about `rows` order items
    as a queryset, a model-instance loop and a values_list loop (same answer checked), and the
    N+1 page against its fix, on the notebook's dataset, with the benchmark's own code."""
    from workshop.queries.aggregations import AGGREGATIONS
    from workshop.queries.benchrun import measure_aggregation, measure_page

    revenue = next(a for a in AGGREGATIONS if a.name == "revenue_by_month")
    shown = results({"aggregations": [measure_aggregation(revenue, rows, rounds=3)], "page": measure_page(page, 3)})
    return [r for r in shown if not r.name.endswith("_ratio")]  # the "smallest of four" rows need all four
