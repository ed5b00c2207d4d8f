"""EXPLAIN (ANALYZE, BUFFERS) parsed into a tree with each node's own time, and the SQL shown
with its parameters bound."""

from __future__ import annotations

import pytest

from workshop.queries.explain import PlanNode, draw, explain, sql_of
from workshop.queries.questions import ask

pytestmark = pytest.mark.django_db


def test_plan_of_correlated_subqueries_names_them_and_counts_loops():
    plan = explain(ask("orders_above_customer_average", start="2024-01-01"))
    subplans = [n for n in plan.nodes if n.label.startswith("[SubPlan")]
    assert subplans and all(n.depth > 0 for n in subplans)
    assert max(n.loops for n in plan.nodes) > 1  # run once per outer row
    assert all(n.own_ms <= n.total_ms + 1e-9 for n in plan.nodes)
    assert plan.execution_ms > 0 and "plan node" in draw(plan)


def test_window_filter_plan_works_where_queryset_explain_does_not():
    # Django 5.2's QuerySet.explain() nests EXPLAIN in the subquery of a filtered window.
    plan = explain(ask("best_product_per_category", category="audio"))
    assert any("WindowAgg" in n.label for n in plan.nodes)


def test_sql_has_parameters_bound_and_is_laid_out():
    sql = sql_of(ask("revenue_by_month", start="2024-01-01", category="audio"))
    assert "'audio'" in sql and "2024-01-01" in sql and "\n" in sql


def test_misestimate_is_symmetric():
    node = PlanNode(0, "Seq Scan", estimated_rows=10, actual_rows=1000, loops=1, total_ms=1, own_ms=1, hit=0, read=0)
    assert node.misestimate == 100
    assert PlanNode(0, "x", 1000, 10, 1, 1, 1, 0, 0).misestimate == 100


@pytest.fixture
def parallel_plans():
    """Plans that use parallel workers even on the tiny dataset (this session only)."""
    from django.db import connection

    settings = {
        "parallel_setup_cost": "0",
        "parallel_tuple_cost": "0",
        "min_parallel_table_scan_size": "0",
        "max_parallel_workers_per_gather": "2",
    }
    with connection.cursor() as cursor:
        for name, value in settings.items():
            cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
    yield
    with connection.cursor() as cursor:
        for name in settings:
            cursor.execute(f"RESET {name}")  # names from the dict above


def test_parallel_nodes_count_their_time_once_not_once_per_process(parallel_plans):
    """Below a Gather, EXPLAIN sums a node's loops over the processes that ran it side by side
    and averages its time per loop over them: loops x time is process time, not the time the
    query waited. Each node's time is its slowest process's, so own times add up to the
    query's time instead of exceeding it. (md5 of a long text: enough work per row that the
    workers share the scan even on the tiny dataset.)"""
    from django.db.models.functions import MD5, Repeat

    from workshop.shop.models import Customer

    plan = explain(Customer.objects.annotate(h=MD5(Repeat("email", 5000))).exclude(h=""))
    gather = next(n for n in plan.nodes if n.label.startswith("Gather"))
    scan = next(n for n in plan.nodes if n.label.startswith("Parallel Seq Scan"))
    assert gather.workers_launched >= 1 and 1 <= scan.workers <= gather.workers_launched
    assert scan.process_ms > scan.total_ms  # two or three processes' time, summed
    assert scan.total_ms <= gather.total_ms * 1.01 + 0.05  # inside the Gather's time
    root = plan.nodes[0]
    assert sum(n.own_ms for n in plan.nodes) <= root.total_ms * 1.01 + 0.05
    drawn = draw(plan)
    assert f"{gather.workers_launched} of {gather.workers_planned} launched" in drawn
    assert scan.worker_info.split(":")[0] in drawn and "+ leader" in scan.worker_info
