# ruff: noqa: F811  (pytest fixtures imported from search_support are redefined as arguments)
"""Ranking, judged: nDCG@10 on a case computed by hand, the judged query set's shape, the
weights PostgreSQL and Elasticsearch use, and the weighted ranking beating the flat one on
the judged queries (postgres, and Elasticsearch through the outbox)."""

from __future__ import annotations

import json
import math

import pytest
from search_support import committed, es_url, installed, prefix  # noqa: F401 (fixtures)

from workshop.search import relevance
from workshop.search.documents import PRODUCT, RANK_WEIGHTS
from workshop.search.query import parse


def test_ndcg_on_a_case_computed_by_hand():
    # ranked grades 2, 0, 1: DCG = 3/log2(2) + 0 + 1/log2(4) = 3.5
    # ideal order 2, 1, 0: IDCG = 3/log2(2) + 1/log2(3) = 3.6309...
    assert relevance.dcg([2, 0, 1]) == pytest.approx(3.5)
    assert relevance.ndcg([2, 0, 1], [0, 1, 2]) == pytest.approx(3.5 / (3 + 1 / math.log2(3)))
    assert relevance.ndcg([1, 2], [2, 1]) == pytest.approx((1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3)))
    assert relevance.ndcg([2, 1, 0], [2, 1, 0]) == 1.0
    assert relevance.ndcg([0, 0], [0, 0]) is None  # nothing relevant: not a score
    # only the first k count: a relevant 11th result adds nothing at k=10
    assert relevance.ndcg([0] * 10 + [2], [2]) == 0.0
    assert relevance.ndcg([0, 2], [2], k=1) == 0.0


def test_the_judged_set_has_twenty_queries_that_parse_and_nouns_of_the_catalog():
    judged = relevance.judgments()
    assert len(judged) >= 20 and len({j.query for j in judged}) == len(judged)
    catalog = json.loads((relevance.JUDGMENTS.parents[2] / "data" / "vocab" / "catalog.json").read_text())
    nouns = {noun.lower() for category in catalog["categories"] for noun in category["nouns"]}
    for judgment in judged:
        parse(judgment.query)
        assert judgment.best, judgment.query
        for noun in judgment.best + judgment.related:  # a typo here would judge nothing
            assert any(noun in known for known in nouns), (judgment.query, noun)


def test_elasticsearch_boosts_have_the_postgresql_weights_ratios():
    a, b, c = RANK_WEIGHTS["A"], RANK_WEIGHTS["B"], RANK_WEIGHTS["C"]
    assert PRODUCT.text_fields == {"title": a / c, "brand": b / c, "category": b / c, "description": 1.0}


@pytest.mark.django_db
def test_the_weights_are_postgresql_s_defaults_given_explicitly():
    from django.db import connection

    from workshop.search import pg

    with connection.cursor() as cur:
        cur.execute(
            "SELECT ts_rank(v, q), ts_rank(%s::float4[], v, q) FROM (SELECT "
            "setweight(to_tsvector('english', 'lamp'), 'A') || setweight(to_tsvector('english', 'lamp shade'), 'B') "
            "|| setweight(to_tsvector('english', 'a lamp'), 'C') AS v, plainto_tsquery('english', 'lamp') AS q) s",
            [pg.rank_weights()],
        )
        default, explicit = cur.fetchone()
    assert default == pytest.approx(explicit)


def generated_products(extra: int) -> None:
    """Products whose title and description come from two different products (the
    benchmark's generated ones): a description can then name what another product is."""
    from workshop.search import benchmark
    from workshop.shop.models import Product, Review

    benchmark.ensure_documents(Product.objects.count() + Review.objects.count() + extra)


@pytest.mark.django_db
def test_weighted_ranking_beats_flat_on_the_judged_queries_postgres():
    from workshop.search import pg

    pg.install()
    generated_products(600)
    weighted, flat = relevance.score("postgres"), relevance.score("postgres", ranking="flat")
    assert len(weighted.per_query) >= 15, weighted.unjudged  # the tiny dataset lacks a few nouns
    assert weighted.ndcg > flat.ndcg, (weighted.per_query, flat.per_query)
    assert all(weighted.per_query[q] >= flat.per_query[q] for q in weighted.per_query)
    from workshop.errors import WorkshopError
    from workshop.search import api

    with pytest.raises(WorkshopError, match="Choose one of weighted, flat"):
        api.products().search("lamp", ranking="best")
    from workshop.search import zombodb
    from workshop.search.documents import PRODUCT
    from workshop.search.query import parse

    # zombodb's flat ranking is a query without boosts, not the weighted one relabelled
    flat_body = zombodb.matching(api.products(), parse("lamp"), PRODUCT, flat=True).query.sql_with_params()[1]
    assert '"fields": ["title", "brand", "description"]' in next(p for p in flat_body if isinstance(p, str))


@pytest.mark.elasticsearch
def test_weighted_ranking_beats_flat_on_the_judged_queries_elasticsearch(es, prefix, committed, monkeypatch):
    from workshop.search import api, benchmark, outbox
    from workshop.search.relay import Relay
    from workshop.shop.models import Product

    monkeypatch.setattr(api, "prefix", lambda backend: prefix)
    try:
        generated_products(600)
        outbox.install(backfill=False)
        outbox.queue_all()
        relay = Relay(outbox.dsn(), es_url(es), prefix)
        relay.drain()
        relay.close()
        es.indices.refresh(index=f"{prefix}-*")
        weighted, flat = relevance.score("outbox"), relevance.score("outbox", ranking="flat")
        assert len(weighted.per_query) >= 15, weighted.unjudged
        assert weighted.ndcg > flat.ndcg, (weighted.per_query, flat.per_query)
    finally:
        Product.objects.filter(sku__startswith=benchmark.GENERATED_SKU).delete()
