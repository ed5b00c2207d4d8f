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
