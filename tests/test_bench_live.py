"""The small versions the chapters' "How fast?" buttons run (`live()` beside each theme's
benchmark), each once on the tiny dataset: they finish, compare the same work, and give the
rows the widget shows. Their speed is not asserted (that is the benchmarks' job)."""

from __future__ import annotations

import math

import pytest
from flags_helpers import stop_the_process_listener  # noqa: F401  (autouse: the flag listener stops before teardown)

pytestmark = pytest.mark.django_db


def test_review_live_walks_a_small_history_with_pydriller_beside_it():
    from workshop.review import bench

    [walk] = bench.live(commits=30)
    assert walk.name == "review.commits_per_second" and walk.value > 0 and walk.baseline > 0
    assert walk.ratio == pytest.approx(walk.value / walk.baseline)
    assert "30 commits" in walk.note


def test_anonymize_live_compares_the_engine_with_a_save_loop_and_leaves_nothing():
    from anonymize_support import schemas

    from workshop.anonymize import bench
    from workshop.shop.models import Customer

    before = list(Customer.objects.order_by("id").values_list("email", flat=True)[:50])
    [row] = bench.live(loop_rows=50)
    assert row.value > 0 and row.baseline > 0 and row.ratio == pytest.approx(row.value / row.baseline)
    assert f"{Customer.objects.count():,} customers" in row.note and "50 customers" in row.note
    assert bench.LIVE_SCHEMA not in schemas()  # the copy is dropped
    assert list(Customer.objects.order_by("id").values_list("email", flat=True)[:50]) == before  # rolled back


def test_flags_live_measures_every_rung():
    from flags_helpers import run_committed
    from waffle.models import Flag, Switch

    from workshop import flags
    from workshop.flags import bench, ladder, measure

    try:  # committed, as in the notebook: the client reads only committed definitions
        costs = run_committed(bench.live, count=20)
    finally:
        run_committed(flags.delete, ladder.RECOMMENDED)
        run_committed(
            lambda: (
                Switch.objects.filter(name=ladder.RECOMMENDED).delete(),
                Flag.objects.filter(name__in=[ladder.RECOMMENDED, measure.GROUP_FLAG]).delete(),
            )
        )
    assert {"env_toggle", "waffle_group_flag", "recommended", "openfeature"} <= set(costs.index)
    assert (costs["us"] > 0).all()
    assert costs.loc["recommended", "queries"] == 0 < costs.loc["waffle_group_flag", "queries"]


def test_queries_live_runs_section_one_and_the_page():
    from workshop.queries import bench

    found = {r.name: r for r in bench.live(rows=2_000, page=10)}
    assert set(found) == {
        "queries.revenue_by_month.vs_models",
        "queries.revenue_by_month.vs_values_list",
        "queries.nplus1_queries",
        "queries.prefetch_queries",
    }
    assert found["queries.prefetch_queries"].value <= 3 < found["queries.nplus1_queries"].value


def test_search_live_times_postgres_and_says_why_for_a_backend_it_cannot_use():
    from workshop.search import api, bench, pg

    pg.install()
    rows = {r.name: r for r in bench.live(queries=("lamp", "headphons"), repeats=1)}
    assert set(rows) == {f"search.{b}.query_p50_ms" for b in api.backends()}
    assert rows["search.postgres.query_p50_ms"].value > 0
    for backend, why in api.backends().items():
        if why:  # not usable here: no time, the reason instead
            assert math.isnan(rows[f"search.{backend}.query_p50_ms"].value)
            assert rows[f"search.{backend}.query_p50_ms"].note == why
