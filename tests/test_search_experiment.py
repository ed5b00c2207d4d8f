# ruff: noqa: F811  (pytest fixtures imported from search_support are redefined as arguments)
"""The consistency experiment against the real node: after a workload with rollbacks,
concurrent updates, a relay killed with SIGKILL and an Elasticsearch outage, the outbox and
postgres backends agree with the database document for document; the signals backend does
not (its disagreements are measured, not assumed: the workload always contains rollbacks)."""

from __future__ import annotations

import pytest
from search_support import committed  # noqa: F401 (fixtures)

from workshop.search import api, experiment

pytestmark = pytest.mark.elasticsearch


@pytest.mark.django_db
def test_the_experiment_products_are_created_once():
    """(Also the django_db test that makes pytest-django create the test database.)"""
    first = experiment._products()
    again = experiment._products()
    assert len(first) == experiment.PRODUCTS and [p.pk for p in first] == [p.pk for p in again]


def test_the_experiment_needs_no_elasticsearch_for_postgres(monkeypatch, committed):
    """With Elasticsearch unavailable only postgres runs, and agrees with the database."""
    monkeypatch.setenv("WORKSHOP_ELASTICSEARCH_URL", "http://127.0.0.1:9")
    monkeypatch.setattr(api, "_clients", {})
    try:
        result = experiment.run(operations=12, lag_samples=2, progress=False)
    finally:
        experiment.cleanup()
    assert list(result.table().index) == ["postgres"]
    assert result.table().loc["postgres", "disagreements"] == 0
    assert len(result.lags_ms["postgres"]) == 2


def test_outbox_and_postgres_agree_after_the_incident_signals_do_not(es, committed):
    from workshop.search import es as es_side

    try:
        result = experiment.run(operations=40, lag_samples=3, seed=3, progress=False)
        table = result.table()
        assert result.counts["rollback"] > 0 and result.counts["concurrent"] > 0
        # the category changes too: the documents copy the category's name through a join
        assert result.counts["rename"] > 0 and result.counts["move"] > 0 and result.counts["rename during update"] > 0
        assert any("SIGKILL" in line for line in result.log) and "outbox drained" in result.log
        assert table.loc["outbox", "disagreements"] == 0, table
        assert table.loc["postgres", "disagreements"] == 0, table
        assert table.loc["signals", "disagreements"] > 0, table  # rolled-back titles, changes lost in the outage
        assert table.loc["signals", "lost by handlers"] > 0
        for backend in ("outbox", "signals", "postgres"):
            assert len(result.lags_ms[backend]) == 3, backend
        assert (table[f"lag misses (> {experiment.LAG_TIMEOUT:g} s)"] == 0).all(), table  # every probe found
        figure = experiment.plot(result)
        assert len(figure.axes) == 2
    finally:
        experiment.cleanup()
        for backend in ("outbox", "signals"):
            es_side.drop_indexes(es, api.prefix(backend))


def test_the_experiment_renames_and_moves_change_every_backend_s_documents(committed):
    """Postgres only (no Elasticsearch needed): the workload's category changes reach the
    vectors, so the 0 disagreements is not an artefact of a title-only workload."""
    from django.db import connection

    from workshop.search import consistency, pg

    try:
        pg.install()
        products = experiment._products()
        categories = experiment._categories()
        experiment._rename(categories[0].pk, "Experiment category Xylophonic")
        experiment._move(products[1].pk, categories[0].pk)
        experiment._concurrently(
            products[2].pk,
            ("Experiment Quokkaish", ""),
            rename=(products[2].category_id, "Experiment category Zeugmatic"),
        )
        assert api.products().search("xylophonic").ids() >= {products[1].pk}
        assert api.products().search("zeugmatic quokkaish").ids() == {products[2].pk}
        assert consistency.compare_postgres().total == 0
        with connection.cursor() as cur:  # without the category's triggers the same changes go stale
            cur.execute("DROP TRIGGER search_vector_product_dep ON shop_category")
        experiment._rename(categories[1].pk, "Experiment category Stale")
        assert consistency.compare_postgres().stale > 0
    finally:
        pg.uninstall()
        experiment.cleanup()


def test_a_probe_never_found_counts_as_a_miss_at_the_timeout(committed):
    import random

    from django.db import connection

    from workshop.search import pg

    try:
        pg.install()
        product = experiment._products()[0]
        with connection.cursor() as cur:  # the vectors stop following updates: a probe is never found
            cur.execute("DROP TRIGGER search_vector_upd ON shop_product")
        lost = experiment.measure_lag("postgres", 2, product.pk, random.Random(1), timeout=0.2)
        assert lost.misses == 2 and lost.lags_ms == [200.0, 200.0]
        pg.install()
        found = experiment.measure_lag("postgres", 2, product.pk, random.Random(2), timeout=5)
        assert found.misses == 0 and len(found.lags_ms) == 2
    finally:
        pg.uninstall()
        experiment.cleanup()
