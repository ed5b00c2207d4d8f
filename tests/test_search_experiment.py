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
    from workshop.shop.models import Product

    monkeypatch.setenv("WORKSHOP_ELASTICSEARCH_URL", "http://127.0.0.1:9")
    monkeypatch.setattr(api, "_clients", {})
    try:
        result = experiment.run(operations=12, lag_samples=2, progress=False)
    finally:
        Product.objects.filter(sku__startswith=experiment.SKU_PREFIX).delete()
    assert list(result.table().index) == ["postgres"]
    assert result.table().loc["postgres", "disagreements"] == 0
    assert len(result.lags_ms["postgres"]) == 2


def test_outbox_and_postgres_agree_after_the_incident_signals_do_not(es, committed):
    from workshop.search import es as es_side
    from workshop.shop.models import Product

    try:
        result = experiment.run(operations=40, lag_samples=3, seed=3, progress=False)
        table = result.table()
        assert result.counts["rollback"] > 0 and result.counts["concurrent"] > 0
        assert any("SIGKILL" in line for line in result.log) and "outbox drained" in result.log
        assert table.loc["outbox", "disagreements"] == 0, table
        assert table.loc["postgres", "disagreements"] == 0, table
        assert table.loc["signals", "disagreements"] > 0, table  # rolled-back titles, changes lost in the outage
        assert table.loc["signals", "lost by handlers"] > 0
        for backend in ("outbox", "signals", "postgres"):
            assert len(result.lags_ms[backend]) == 3, backend  # every probe became searchable
        figure = experiment.plot(result)
        assert len(figure.axes) == 2
    finally:
        Product.objects.filter(sku__startswith=experiment.SKU_PREFIX).delete()
        for backend in ("outbox", "signals"):
            es_side.drop_indexes(es, api.prefix(backend))
