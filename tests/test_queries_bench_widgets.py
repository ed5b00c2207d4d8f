"""The benchmark's three computations agree (so their timings compare equal work), its results
carry the issue's names; the explorer widget shows SQL, plan and result, and bad input as a line."""

from __future__ import annotations

import datetime as dt

import pytest

from workshop.queries.aggregations import AGGREGATIONS
from workshop.queries.bench import results
from workshop.queries.benchrun import measure_page, run

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("aggregation", AGGREGATIONS, ids=[a.name for a in AGGREGATIONS])
def test_database_models_and_values_list_agree(aggregation):
    for limit in (500, 10**6):
        in_db = aggregation.db(limit)
        assert in_db, f"{aggregation.name} found nothing"
        assert in_db == aggregation.models(limit) == aggregation.values(limit)


def test_results_have_the_issue_names():
    names = [r.name for r in results(run(10**6, 1, 10))]
    for needed in (
        "queries.db_vs_python_ratio",
        "queries.db_vs_values_list_ratio",
        "queries.nplus1_queries",
        "queries.prefetch_queries",
    ):
        assert needed in names


def test_the_page_fix_in_the_benchmark():
    page = measure_page(10, runs=1)
    assert page["fixed_queries"] <= 3 < page["naive_queries"] and page["suspects"] >= 2


def test_the_page_timings_run_without_the_inspector(monkeypatch):
    """The inspector walks the stack on every query: the timed runs go without it; each is
    followed by one under it (the query count, and what recording costs)."""
    from django.db import connection

    from workshop.queries import benchrun

    watched = []  # (page, whether a query recorder was wrapped around this render)

    def watching(name, page):
        def render(size):
            watched.append((name, bool(connection.execute_wrappers)))
            return page(size)

        return render

    monkeypatch.setattr(benchrun, "order_page_naive", watching("naive", benchrun.order_page_naive))
    monkeypatch.setattr(benchrun, "order_page_fixed", watching("fixed", benchrun.order_page_fixed))
    page = benchrun.measure_page(10, runs=3)
    for name in ("naive", "fixed"):
        recorded = [inside for seen, inside in watched if seen == name]
        assert recorded.count(True) == 3 and recorded.count(False) == 4, (name, recorded)  # + a warm-up
    assert page["naive_queries"] > page["fixed_queries"] and page["runs"] == 3
    assert page["naive_recorded"] > 0 and page["fixed_recorded"] > 0
    timed = [seen for seen, inside in watched if not inside]  # a warm-up each, then turns
    assert timed == ["naive", "fixed"] * (len(timed) // 2)


def test_explore_shows_everything():
    from workshop.queries.widgets import explore

    seen = explore("revenue_by_month")
    assert "rows" in seen.message and not seen.table.empty
    assert "def revenue_by_month" in seen.code
    assert "SELECT" in seen.sql and "DATE_TRUNC" in seen.sql
    assert "EXPLAIN (ANALYZE, BUFFERS)" in seen.plan_html and "plan node" in seen.plan_html
    audio = explore("best_product_per_category", category="audio")
    assert list(audio.table.category) == ["audio"]


@pytest.mark.parametrize(
    "values, message",
    [
        ({"start": dt.date(2025, 1, 1), "end": dt.date(2024, 1, 1)}, "reversed"),
        ({"min_orders": "many"}, "not a whole number"),
        ({"category": "spaceships"}, "Unknown category"),
        ({"start": dt.date(2031, 1, 1)}, "No rows"),
    ],
)
def test_explore_bad_input_is_a_line(values, message):
    from workshop.queries.widgets import explore

    seen = explore("repeat_customers", **values)
    assert message in seen.message and "\n" not in seen.message
    # Invalid input stops before any SQL; an empty range is valid and still shows its query.
    assert bool(seen.code) == (message == "No rows")


def test_explorer_widget_runs_every_control(capsys):
    from workshop.queries.widgets import question_explorer

    box = question_explorer()
    controls, _status, tabs, _verdict = box.children
    question, (start, end, category), (min_orders, _top, check_button) = (
        controls.children[0],
        controls.children[1].children,
        controls.children[2].children,
    )
    start.value, end.value = dt.date(2025, 1, 1), dt.date(2024, 1, 1)
    end.value = None
    min_orders.value = "many"
    min_orders.value = "2"
    category.value = "audio"
    question.value = "best_product_per_category"
    tabs.selected_index = 3  # the plan tab: drawn when opened
    check_button.click()
    out = capsys.readouterr().out  # outside a kernel, Output widgets let their text through
    assert "reversed" in out and "not a whole number" in out and "Traceback" not in out
