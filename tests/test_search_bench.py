"""The benchmark's names and goals (the measurement itself is `workshop bench search`), and
the benchmark's pieces on the tiny dataset."""

from __future__ import annotations

import pytest

from workshop.search import bench


def test_results_are_named_per_backend_and_compared_with_the_goals():
    measured = {
        "outbox": {
            "index_docs_per_second": 6000.0,
            "query_p50_ms": 5.0,
            "query_p95_ms": 40.0,
            "visible_lag_p50_ms": 500.0,
            "visible_lag_p95_ms": 900.0,
            "visible_lag_misses": 1,
            "ndcg_at_10": 0.9,
            "ndcg_at_10_flat": 0.6,
            "judged_queries": 28,
            "disagreements": 0,
            "note": "relayed",
        },
        "postgres": {"index_docs_per_second": 9000.0, "disagreements": 2},
    }
    results = {r.name: r for r in bench.results_from(measured)}
    assert set(results) == {f"search.outbox.{m}" for m in bench.UNITS if m not in bench.ZOMBODB_ONLY} | {
        "search.postgres.index_docs_per_second",
        "search.postgres.disagreements",
    }
    assert "goal >= 5,000: met" in results["search.outbox.index_docs_per_second"].note
    assert results["search.outbox.index_docs_per_second"].note.startswith("relayed")
    assert "goal <= 30: NOT met" in results["search.outbox.query_p95_ms"].note
    assert "goal <= 1,500: met" in results["search.outbox.visible_lag_p95_ms"].note
    assert "goal <= 0: NOT met" in results["search.outbox.visible_lag_misses"].note
    assert "NOT met" in results["search.postgres.disagreements"].note
    assert results["search.outbox.query_p95_ms"].unit == "ms"
    assert (
        results["search.outbox.ndcg_at_10"].value == 0.9
        and "28 judged queries" in results["search.outbox.ndcg_at_10"].note
    )


def test_the_zombodb_rows_carry_the_write_overhead_and_the_query_goal():
    measured = {
        "zombodb": {
            "index_docs_per_second": 20000.0,
            "writes_per_second": 400.0,
            "write_overhead_ratio": 3.5,
            "query_p50_ms": 8.0,
            "query_p95_ms": 20.0,
            "visible_lag_p50_ms": 4.0,
            "visible_lag_p95_ms": 6.0,
            "disagreements": 0,
            "note": "CREATE INDEX",
        }
    }
    results = {r.name: r for r in bench.results_from(measured)}
    assert results["search.zombodb.write_overhead_ratio"].unit == "x"
    assert results["search.zombodb.writes_per_second"].value == 400.0
    assert "goal <= 30: met" in results["search.zombodb.query_p95_ms"].note
    assert "goal <= 0: met" in results["search.zombodb.disagreements"].note


def test_the_fifty_queries_all_parse():
    from workshop.search.query import parse

    queries = pytest.importorskip("workshop.search.benchmark").QUERIES
    assert len(queries) == len(set(queries)) == 50
    for q in queries:
        parse(q)


@pytest.mark.django_db
def test_generated_documents_and_query_latency_on_postgres(monkeypatch):
    import inspect

    from workshop.search import api, benchmark, pg
    from workshop.shop.models import Product, Review

    have = Product.objects.count() + Review.objects.count()
    assert benchmark.ensure_documents(have + 50) == have + 50
    generated = Product.objects.filter(sku__startswith=benchmark.GENERATED_SKU)
    assert generated.count() == 50 and all(p.title and p.description for p in generated)
    pg.install()
    search, windows = api.SearchQuerySet.search, []
    default_window = inspect.signature(search).parameters["window"].default

    def recording(self, text, *args, **kwargs):
        windows.append(kwargs.get("window", default_window))
        return search(self, text, *args, **kwargs)

    monkeypatch.setattr(api.SearchQuerySet, "search", recording)
    p50, p95 = benchmark.query_latency("postgres", repeats=1)
    assert 0 < p50 <= p95
    assert windows and set(windows) == {default_window} == {1000}  # measured as users search
